"""Motion / dance transformer denoisers (MDM, MLD, EDGE style), written here.

One module covers the three published layouts:

* MDM: a transformer encoder over ``frames`` pose tokens plus one leading token carrying the
  timestep and condition embedding;
* MLD: the same over a few latent tokens, with U-shaped long skip connections (the first half
  of the blocks feed the second half through concatenation + linear);
* EDGE: a decoder over pose tokens that cross-attends to music features (encoded first by
  ``music_layers`` encoder blocks) and receives the timestep through FiLM, with no extra token.

Every FFN is ``Linear(d, ff) → nn.GELU → Linear(ff, d)``; the activation module is
``blocks.{i}.ff.act`` (``music_encoder.{i}.ff.act`` for EDGE's music encoder), whose output is
the hidden activation h. Conditioning: a class label (null label ``num_classes``), a seeded
embedding of width ``cond_dim`` (zeros when unconditional), or seeded music features.
The shape (:class:`MotionShape`) and the FFN layer derivation (:func:`motion_layers`) live in
the torch-free ``shapes`` module.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from colsim.models.shapes import MotionShape, motion_layers

__all__ = [
    "LABEL_DROPOUT", "FeedForward", "MotionAdapter", "MotionBlock", "MotionShape",
    "MotionTransformer", "motion_layers", "timestep_embedding",
]

LABEL_DROPOUT = 0.1  # share of training labels replaced by the null label (DiT uses 0.1 too)


class FeedForward(nn.Module):
    """``Linear → GELU → Linear``, with the GELU as its own module (``act``)."""

    def __init__(self, d_model: int, ff_size: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d_model, ff_size)
        self.act = nn.GELU()
        self.w2 = nn.Linear(ff_size, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``act(x·W1 + b1)·W2 + b2``."""
        return self.w2(self.act(self.w1(x)))


class MotionBlock(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention and FiLM, FFN."""

    def __init__(self, shape: MotionShape, *, cross: bool, film: bool) -> None:
        super().__init__()
        d = shape.d_model
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, shape.heads, batch_first=True)
        self.cross_norm = nn.LayerNorm(d) if cross else None
        self.cross_attn = nn.MultiheadAttention(d, shape.heads, batch_first=True) if cross else None
        self.film = nn.Linear(d, 2 * d) if film else None
        self.norm2 = nn.LayerNorm(d)
        self.ff = FeedForward(d, shape.ff_size)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor | None, time: torch.Tensor
    ) -> torch.Tensor:
        """Return the block output for tokens ``x`` (batch, tokens, d)."""
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        if self.cross_attn is not None:
            h = self.cross_norm(x)
            x = x + self.cross_attn(h, memory, memory, need_weights=False)[0]
        h = self.norm2(x)
        if self.film is not None:
            scale, shift = self.film(time).unsqueeze(1).chunk(2, dim=-1)
            h = h * (1 + scale) + shift
        return x + self.ff(h)


def timestep_embedding(timestep: torch.Tensor, dim: int) -> torch.Tensor:
    """Return sinusoidal embeddings (batch, dim) of the (batch,) diffusion timesteps."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=timestep.device, dtype=torch.float32) / half
    )
    angles = timestep.float()[:, None] * freqs[None]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class MotionTransformer(nn.Module):
    """ε-prediction transformer over pose/latent tokens; see the module docstring."""

    def __init__(self, shape: MotionShape) -> None:
        super().__init__()
        self.shape = shape
        d = shape.d_model
        self.input = nn.Linear(shape.features, d)
        self.position = nn.Parameter(0.02 * torch.randn(1, shape.tokens, d))
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.label = nn.Embedding(shape.num_classes + 1, d) if shape.num_classes else None
        self.cond_input = nn.Linear(shape.cond_dim, d) if shape.cond_dim else None
        music = shape.music_frames > 0
        if music:
            self.music_position = nn.Parameter(0.02 * torch.randn(1, shape.music_frames, d))
            self.music_encoder = nn.ModuleList(
                MotionBlock(shape, cross=False, film=False) for _ in range(shape.music_layers)
            )
        self.blocks = nn.ModuleList(
            MotionBlock(shape, cross=music, film=shape.film) for _ in range(shape.layers)
        )
        self.skip_proj = (
            nn.ModuleList(nn.Linear(2 * d, d) for _ in range(shape.layers // 2))
            if shape.skip else None
        )
        self.norm_out = nn.LayerNorm(d)
        self.output = nn.Linear(d, shape.features)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor
    ) -> torch.Tensor:
        """Return ε̂ (batch, frames, features) for ``sample`` at ``timestep`` (batch,)."""
        shape = self.shape
        time = self.time_mlp(timestep_embedding(timestep, shape.d_model).to(sample.dtype))
        x = self.input(sample)
        memory = None
        if shape.music_frames > 0:
            memory = self.cond_input(condition) + self.music_position
            for block in self.music_encoder:
                memory = block(memory, None, time)
        if shape.cond_token:
            token = time + self._condition_embedding(condition)
            x = torch.cat([token[:, None], x], dim=1)
        x = x + self.position
        half = shape.layers // 2
        skips: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            if self.skip_proj is not None and i > half:
                x = self.skip_proj[i - half - 1](torch.cat([x, skips.pop()], dim=-1))
            x = block(x, memory, time)
            if self.skip_proj is not None and i < half:
                skips.append(x)
        return self.output(self.norm_out(x))[:, -shape.frames :]

    def _condition_embedding(self, condition: torch.Tensor) -> torch.Tensor:
        if self.label is not None:
            if self.training:  # drop labels for classifier-free guidance, as DiT does
                dropped = torch.rand(condition.shape, device=condition.device) < LABEL_DROPOUT
                condition = torch.where(dropped, self.shape.num_classes, condition)
            return self.label(condition)
        return self.cond_input(condition)


class MotionAdapter:
    """Call a :class:`MotionTransformer` as an ε-predictor."""

    def __init__(self, shape: MotionShape) -> None:
        self.shape = shape

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Return one sample's shape (frames, features)."""
        return (self.shape.frames, self.shape.features)

    def conditions(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (conditional, unconditional) conditions, batch 1 each."""
        shape = self.shape
        if shape.num_classes:
            label = torch.randint(0, shape.num_classes, (1,), generator=generator)
            return label, torch.full((1,), shape.num_classes, dtype=torch.long)
        size = (1, shape.music_frames, shape.cond_dim) if shape.music_frames else (
            1, shape.cond_dim)
        return torch.randn(size, generator=generator), torch.zeros(size)

    def predict_noise(
        self, module: torch.nn.Module, sample: torch.Tensor, timestep: torch.Tensor,
        condition: torch.Tensor,
    ) -> torch.Tensor:
        """Return ε̂ for ``sample``."""
        return module(sample, timestep, condition)
