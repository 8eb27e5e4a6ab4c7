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
The shape (:class:`UNetShape`) and the FFN layer derivation (:func:`unet_layers`) live in the
torch-free ``shapes`` module.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel, UNet3DConditionModel

from colsim.models.shapes import UNetShape, unet_layers

__all__ = ["UNetAdapter", "UNetShape", "build_unet", "unet_layers"]


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
