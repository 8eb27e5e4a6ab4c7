"""Architecture shapes of the three denoiser families and their FFN layer derivation.

Pure data, no torch or diffusers: the spec lookups (``registry``) and everything that only
needs layer dimensions (DRAM, schedule, fast model, CLI) import this module; the module
builders and adapters live in ``dit``, ``unet`` and ``motion``, which re-export these names.

* DiT (diffusers ``DiTTransformer2DModel``): the activation module of block ``i`` is
  ``transformer_blocks.{i}.ff.net.0`` (tanh-GELU), mlp_ratio 4.
* UNet (diffusers ``UNet2DConditionModel`` / ``UNet3DConditionModel``): see ``unet`` for the
  topology; every transformer block's activation is a GEGLU ``...transformer_blocks.0.ff.net.0``.
* Motion transformers (MDM, MLD, EDGE style): ``blocks.{i}.ff.act`` and, for EDGE's music
  encoder, ``music_encoder.{i}.ff.act``.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class MotionShape:
    """The architecture parameters of a motion transformer."""

    frames: int  # pose (or latent) tokens per sample
    features: int  # input features per token
    d_model: int
    ff_size: int
    heads: int
    layers: int
    num_classes: int = 0  # > 0: class-label conditioning
    cond_dim: int = 0  # width of the embedding (or music feature) conditioning
    cond_token: bool = True  # prepend one token carrying time + condition (MDM, MLD)
    skip: bool = False  # MLD long skip connections
    music_frames: int = 0  # EDGE: music tokens the decoder cross-attends to
    music_layers: int = 0  # EDGE: encoder blocks over the music features
    film: bool = False  # EDGE: FiLM of every block by the time embedding

    @property
    def tokens(self) -> int:
        """Return the tokens the main blocks see per sample."""
        return self.frames + int(self.cond_token)


def motion_layers(shape: MotionShape) -> tuple[FfnLayer, ...]:
    """Return the FFN layers in forward order (music encoder first, then the blocks)."""
    music = tuple(
        FfnLayer(f"music_encoder.{i}.ff.act", shape.music_frames, shape.d_model, shape.ff_size,
                 False)
        for i in range(shape.music_layers)
    )
    blocks = tuple(
        FfnLayer(f"blocks.{i}.ff.act", shape.tokens, shape.d_model, shape.ff_size, False)
        for i in range(shape.layers)
    )
    return music + blocks
