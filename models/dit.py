"""DiT denoisers (diffusers ``DiTTransformer2DModel``): shape config, FFN layers, adapter.

The activation module of block ``i`` is ``transformer_blocks.{i}.ff.net.0``: diffusers' ``GELU``
(tanh approximation) whose output is the hidden activation ``h = GELU(X·W1 + b1)``.
Conditioning is a class label; the unconditional label is ``num_classes`` (the extra row of
the label table that DiT trains with class dropout).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DiTTransformer2DModel

from colsim.models.spec import FfnLayer


@dataclass(frozen=True)
class DitShape:
    """The architecture parameters of a DiT that determine its FFN layers."""

    num_layers: int
    num_heads: int
    head_dim: int
    in_channels: int
    out_channels: int  # 2 × in_channels when the model also predicts the variance
    sample_size: int  # latent (or pixel) height = width
    patch_size: int
    num_classes: int

    @property
    def hidden_size(self) -> int:
        """Return the transformer width d."""
        return self.num_heads * self.head_dim

    @property
    def tokens(self) -> int:
        """Return the number of patch tokens M."""
        return (self.sample_size // self.patch_size) ** 2


def dit_layers(shape: DitShape) -> tuple[FfnLayer, ...]:
    """Return the FFN layers of a DiT (mlp_ratio 4, GELU) in forward order."""
    return tuple(
        FfnLayer(
            name=f"transformer_blocks.{i}.ff.net.0",
            tokens=shape.tokens,
            d_model=shape.hidden_size,
            hidden=4 * shape.hidden_size,
            gated=False,
        )
        for i in range(shape.num_layers)
    )


def build_dit(shape: DitShape) -> DiTTransformer2DModel:
    """Construct a randomly initialised DiT (on the current default device)."""
    return DiTTransformer2DModel(
        num_attention_heads=shape.num_heads,
        attention_head_dim=shape.head_dim,
        in_channels=shape.in_channels,
        out_channels=shape.out_channels,
        num_layers=shape.num_layers,
        sample_size=shape.sample_size,
        patch_size=shape.patch_size,
        num_embeds_ada_norm=shape.num_classes,
    )


class DitAdapter:
    """Call a DiT as an ε-predictor with class-label conditioning."""

    def __init__(self, shape: DitShape) -> None:
        self.shape = shape

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Return the shape of one sample (channels, height, width)."""
        s = self.shape
        return (s.in_channels, s.sample_size, s.sample_size)

    def conditions(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (conditional, unconditional) class labels, batch 1 each."""
        label = torch.randint(0, self.shape.num_classes, (1,), generator=generator)
        return label, torch.full((1,), self.shape.num_classes, dtype=torch.long)

    def predict_noise(
        self, module: torch.nn.Module, sample: torch.Tensor, timestep: torch.Tensor,
        condition: torch.Tensor,
    ) -> torch.Tensor:
        """Return ε̂ for ``sample``; the learned-variance channels, if any, are dropped."""
        out = module(sample, timestep=timestep, class_labels=condition, return_dict=False)[0]
        return out[:, : self.shape.in_channels]
