"""UNet denoisers (diffusers ``UNet2DConditionModel`` / ``UNet3DConditionModel``).

Topology (the same in diffusers and in the LDM ``openaimodel`` these checkpoints come from):
level ``i`` of ``len(block_out_channels)`` works at latent resolution ``H/2^i × W/2^i`` with
``block_out_channels[i]`` channels; the first ``attention_levels`` levels carry one transformer
block per resnet (``layers_per_block`` on the way down, ``layers_per_block + 1`` on the way up),
and the mid block one more at the lowest resolution. A 3D (video) UNet adds a temporal
transformer after every spatial one and one (``transformer_in``, width 8 × ``head_dim``) after
the input convolution.

The activation module of every transformer block is ``...transformer_blocks.0.ff.net.0``:
diffusers' ``GEGLU``, whose output is the gated hidden activation ``h = value ⊙ GELU(gate)``.
Conditioning is a sequence of ``context_tokens`` embeddings of width ``cross_attention_dim``
drawn from the seeded generator (no text encoder); the unconditional context is all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel, UNet3DConditionModel

from colsim.models.spec import FfnLayer


@dataclass(frozen=True)
class UNetShape:
    """The architecture parameters of a latent-diffusion UNet that determine its FFN layers."""

    block_out_channels: tuple[int, ...]
    attention_levels: int  # the first this-many levels have transformer blocks
    layers_per_block: int
    heads: int  # 2D: attention heads; 3D: head dimension (diffusers' ``attention_head_dim``)
    cross_attention_dim: int
    context_tokens: int
    latent_channels: int
    latent_height: int
    latent_width: int
    frames: int = 0  # 0: image UNet (2D); > 0: video UNet (3D) with temporal transformers
    norm_num_groups: int = 32

    @property
    def levels(self) -> int:
        """Return the number of resolution levels."""
        return len(self.block_out_channels)

    def level_tokens(self, level: int) -> int:
        """Return the tokens of one sample at ``level`` (frames × height × width)."""
        height, width = self.latent_height, self.latent_width
        for _ in range(level):  # each downsampler: stride-2 conv, padding 1, kernel 3
            height, width = (height + 1) // 2, (width + 1) // 2
        return max(self.frames, 1) * height * width


def unet_layers(shape: UNetShape) -> tuple[FfnLayer, ...]:
    """Return the FFN layers of the UNet in forward order."""
    video = shape.frames > 0
    layers: list[FfnLayer] = []

    def add(prefix: str, level: int, d_model: int) -> None:
        layers.append(
            FfnLayer(
                name=f"{prefix}.transformer_blocks.0.ff.net.0",
                tokens=shape.level_tokens(level),
                d_model=d_model,
                hidden=4 * d_model,
                gated=True,
            )
        )

    def add_pair(block: str, index: int, level: int) -> None:
        channels = shape.block_out_channels[level]
        add(f"{block}.attentions.{index}", level, channels)
        if video:
            add(f"{block}.temp_attentions.{index}", level, channels)

    if video:
        add("transformer_in", 0, 8 * shape.heads)
    for level in range(shape.attention_levels):
        for index in range(shape.layers_per_block):
            add_pair(f"down_blocks.{level}", index, level)
    add_pair("mid_block", 0, shape.levels - 1)
    for up in range(shape.levels - shape.attention_levels, shape.levels):
        for index in range(shape.layers_per_block + 1):
            add_pair(f"up_blocks.{up}", index, shape.levels - 1 - up)
    return tuple(layers)


def build_unet(shape: UNetShape) -> UNet2DConditionModel | UNet3DConditionModel:
    """Construct a randomly initialised UNet (on the current default device)."""
    plain = shape.levels - shape.attention_levels
    suffix = "3D" if shape.frames > 0 else "2D"
    down = (f"CrossAttnDownBlock{suffix}",) * shape.attention_levels + (
        f"DownBlock{suffix}",
    ) * plain
    up = (f"UpBlock{suffix}",) * plain + (f"CrossAttnUpBlock{suffix}",) * shape.attention_levels
    common = {
        "in_channels": shape.latent_channels,
        "out_channels": shape.latent_channels,
        "down_block_types": down,
        "up_block_types": up,
        "block_out_channels": shape.block_out_channels,
        "layers_per_block": shape.layers_per_block,
        "cross_attention_dim": shape.cross_attention_dim,
        "attention_head_dim": shape.heads,
        "norm_num_groups": shape.norm_num_groups,
    }
    if shape.frames > 0:
        return UNet3DConditionModel(**common)
    return UNet2DConditionModel(**common)


class UNetAdapter:
    """Call a conditional UNet as an ε-predictor with embedding conditioning."""

    def __init__(self, shape: UNetShape) -> None:
        self.shape = shape

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Return one sample's shape: (C, H, W), or (C, frames, H, W) for video."""
        s = self.shape
        frames = (s.frames,) if s.frames > 0 else ()
        return (s.latent_channels, *frames, s.latent_height, s.latent_width)

    def conditions(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (conditional, unconditional) context embeddings, batch 1 each."""
        size = (1, self.shape.context_tokens, self.shape.cross_attention_dim)
        return torch.randn(size, generator=generator), torch.zeros(size)

    def predict_noise(
        self, module: torch.nn.Module, sample: torch.Tensor, timestep: torch.Tensor,
        condition: torch.Tensor,
    ) -> torch.Tensor:
        """Return ε̂ for ``sample``."""
        return module(sample, timestep, encoder_hidden_states=condition, return_dict=False)[0]
