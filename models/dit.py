"""DiT denoisers (diffusers ``DiTTransformer2DModel``): module builder and adapter.

The activation module of block ``i`` is ``transformer_blocks.{i}.ff.net.0``: diffusers' ``GELU``
(tanh approximation) whose output is the hidden activation ``h = GELU(X·W1 + b1)``.
Conditioning is a class label; the unconditional label is ``num_classes`` (the extra row of
the label table that DiT trains with class dropout). The shape (:class:`DitShape`) and the FFN
layer derivation (:func:`dit_layers`) live in the torch-free ``shapes`` module.
"""

from __future__ import annotations

import torch
from diffusers import DiTTransformer2DModel

from colsim.models.shapes import DitShape, dit_layers

__all__ = ["DitAdapter", "DitShape", "build_dit", "dit_layers"]


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
