"""The workloads of DESIGN.md §1 and the project's trained tiny models, with their sources.

Each entry holds the public architecture parameters of the full-size denoiser, a tiny
configuration with the same topology for tests, and the noise schedule it was trained with.
FFN layers are derived from these parameters per layer (see ``shapes``), and tests check every
derived layer against the module that the builder constructs (``dit``, ``unet``, ``motion``).
This module imports neither torch nor diffusers: builders and adapters are imported on first
use (:class:`Family`), and ``Adapter`` is resolved on first access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from colsim.models.shapes import (
    DitShape,
    MotionShape,
    UNetShape,
    dit_layers,
    motion_layers,
    unet_layers,
)
from colsim.models.spec import FfnLayer

if TYPE_CHECKING:
    import torch

    from colsim.models.dit import DitAdapter
    from colsim.models.motion import MotionAdapter
    from colsim.models.unet import UNetAdapter

    Adapter = DitAdapter | UNetAdapter | MotionAdapter

Shape = DitShape | UNetShape | MotionShape


def _resolve(target: str) -> Callable[[Any], Any]:
    """Return the object named ``"module:attribute"``, importing its module on first use."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Family:
    """How to derive the FFN layers of, construct, and call a denoiser of one architecture.

    ``layers`` is torch-free; the builder and the adapter class are named as
    ``"module:attribute"`` and imported (with torch and diffusers) only when first used, so
    that spec lookups never pay for them.
    """

    layers: Callable[[Any], tuple[FfnLayer, ...]]
    builder: str  # "module:function" returning the torch module for a shape
    adapter_class: str  # "module:class" of the adapter for a shape

    @property
    def build(self) -> Callable[[Any], torch.nn.Module]:
        """Return the module builder (imports torch and the family's libraries)."""
        return _resolve(self.builder)

    @property
    def adapter(self) -> Callable[[Any], Adapter]:
        """Return the adapter class (imports torch and the family's libraries)."""
        return _resolve(self.adapter_class)


FAMILIES: dict[type, Family] = {
    DitShape: Family(dit_layers, "colsim.models.dit:build_dit", "colsim.models.dit:DitAdapter"),
    UNetShape: Family(
        unet_layers, "colsim.models.unet:build_unet", "colsim.models.unet:UNetAdapter"
    ),
    MotionShape: Family(
        motion_layers, "colsim.models.motion:MotionTransformer",
        "colsim.models.motion:MotionAdapter",
    ),
}


def family_of(shape: Shape) -> Family:
    """Return the family of architecture ``shape``."""
    return FAMILIES[type(shape)]


def __getattr__(name: str) -> Any:
    """Build ``Adapter`` (the union of the adapter classes) on first access; it imports torch."""
    if name == "Adapter":
        from colsim.models.dit import DitAdapter
        from colsim.models.motion import MotionAdapter
        from colsim.models.unet import UNetAdapter

        adapter = DitAdapter | UNetAdapter | MotionAdapter
        globals()["Adapter"] = adapter
        return adapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class NoiseSchedule:
    """The training noise schedule, in diffusers scheduler terms."""

    beta_schedule: str  # "linear", "scaled_linear" or "squaredcos_cap_v2"
    beta_start: float = 0.0001
    beta_end: float = 0.02
    num_train_timesteps: int = 1000
    clip_sample: bool = False  # True only for pixel-space models trained on [-1, 1] data


@dataclass(frozen=True)
class StudyPoint:
    """The study's own operating point of a workload (its Table 1, DESIGN.md §1).

    ``shape`` is the public topology evaluated where Table 1 fixes other dimensions (None when
    Table 1 equals the public configuration); ``source`` says how each layer follows from the
    Table's values, ranges included.
    """

    source: str
    shape: Shape | None = None


@dataclass(frozen=True)
class Workload:
    """One denoiser: public shape, tiny test shape, schedule, and where the figures come from."""

    name: str
    group: str  # "pure", "U+X" or "motion" (DESIGN.md §1)
    modality: str
    full: Shape
    tiny: Shape
    schedule: NoiseSchedule
    source: str
    trained_weights: str | None = None  # file in the models package loaded by default
    study: StudyPoint | None = None  # Table 1 of the study; None: not one of its workloads


LDM_SCHEDULE = NoiseSchedule("scaled_linear", beta_start=0.00085, beta_end=0.012)
COSINE_SCHEDULE = NoiseSchedule("squaredcos_cap_v2")

TINY_DIT = DitShape(
    num_layers=3, num_heads=4, head_dim=12, in_channels=1, out_channels=1, sample_size=8,
    patch_size=2, num_classes=10,
)
TINY_MOTION = MotionShape(
    frames=16, features=6, d_model=48, ff_size=96, heads=4, layers=4, num_classes=4
)
TINY_UNET_CHANNELS = (16, 32, 32, 32)

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        name="dit-xl-2",
        group="pure",
        modality="image",
        full=DitShape(
            num_layers=28, num_heads=16, head_dim=72, in_channels=4, out_channels=8,
            sample_size=32, patch_size=2, num_classes=1000,
        ),
        tiny=DitShape(
            num_layers=2, num_heads=2, head_dim=8, in_channels=4, out_channels=8,
            sample_size=8, patch_size=2, num_classes=1000,
        ),
        schedule=NoiseSchedule("linear"),
        source=(
            "DiT-XL/2 (Peebles & Xie 2023; facebook/DiT-XL-2-256 transformer/config.json): "
            "28 blocks, hidden 1152 = 16 heads x 72, mlp_ratio 4 -> N = 4608, tanh-GELU; "
            "256x256 images -> 32x32x4 latent, patch 2 -> M = 256 tokens; 1000 classes, "
            "learned sigma (8 output channels); linear betas 1e-4..0.02"
        ),
        study=StudyPoint(
            "Table 1: L = 28, M = 256, N = 4608, expansion 4 - equal to the public "
            "configuration"
        ),
    ),
    Workload(
        name="sd-v1.4",
        group="U+X",
        modality="image",
        full=UNetShape(
            block_out_channels=(320, 640, 1280, 1280), attention_levels=3, layers_per_block=2,
            heads=8, cross_attention_dim=768, context_tokens=77, latent_channels=4,
            latent_height=64, latent_width=64,
        ),
        tiny=UNetShape(
            block_out_channels=TINY_UNET_CHANNELS, attention_levels=3, layers_per_block=2,
            heads=2, cross_attention_dim=16, context_tokens=4, latent_channels=4,
            latent_height=8, latent_width=8, norm_num_groups=8,
        ),
        schedule=LDM_SCHEDULE,
        source=(
            "CompVis/stable-diffusion-v1-4 unet/config.json: block_out_channels "
            "(320, 640, 1280, 1280), CrossAttnDownBlock2D x3 + DownBlock2D, layers_per_block 2, "
            "one transformer block per attention, GEGLU inner dim 4C, cross_attention_dim 768 "
            "(CLIP ViT-L/14, 77 tokens); 512x512 images -> 64x64x4 latent: M = 4096 / 1024 / "
            "256 per level and 64 in the mid block (the DESIGN table's lower bound 256 leaves "
            "out the mid block)"
        ),
        study=StudyPoint(
            "Table 1: L = 16, M = 256-4096, N = 1280-5120 (GEGLU), expansion 4 - the public "
            "configuration: the range's values are the three attention levels' M = 4096 / 1024 "
            "/ 256 (N = 4C for C = 320 / 640 / 1280); the mid block's M = 64 lies below the "
            "range's lower bound and is kept as derived, since Table 1's L = 16 counts it"
        ),
    ),
    Workload(
        name="videocrafter2",
        group="U+X",
        modality="video",
        full=UNetShape(
            block_out_channels=(320, 640, 1280, 1280), attention_levels=3, layers_per_block=2,
            heads=64, cross_attention_dim=1024, context_tokens=77, latent_channels=4,
            latent_height=40, latent_width=64, frames=16,
        ),
        tiny=UNetShape(
            block_out_channels=TINY_UNET_CHANNELS, attention_levels=3, layers_per_block=2,
            heads=4, cross_attention_dim=16, context_tokens=4, latent_channels=4,
            latent_height=8, latent_width=8, frames=2, norm_num_groups=8,
        ),
        schedule=LDM_SCHEDULE,
        source=(
            "VideoCrafter2 (AILab-CVC/VideoCrafter configs/inference_t2v_512_v2.0.yaml): "
            "model_channels 320, channel_mult [1, 2, 4, 4], attention_resolutions [4, 2, 1], "
            "num_res_blocks 2, num_head_channels 64, context_dim 1024 (OpenCLIP ViT-H), a "
            "temporal transformer after every spatial one plus an initial temporal transformer "
            "(width 512), GEGLU 4x; 16 frames at 320x512 -> 16x40x64 latent. Built with "
            "diffusers UNet3DConditionModel (same FFN topology; fps conditioning and "
            "VideoCrafter2's temporal-attention details are not modelled). M counts all tokens "
            "of the 16 frames: 40960 / 10240 / 2560 / 640 per level (the DESIGN table's "
            "2560-10240 covers levels 1-2 only; per frame: 2560 / 640 / 160 / 40)"
        ),
        study=StudyPoint(
            "Table 1: L = 33, M = 2560-10240, N = 1280-5120 (GEGLU), expansion 4. Same "
            "topology (33 FFN layers, N as public); the token count is scaled so that the "
            "largest level has Table 1's maximum M = 10240: 16 frames of a 20x32 latent "
            "(160x256 video), giving M = 10240 / 2560 / 640 at the three attention levels "
            "and 192 in the mid block (16 frames of the 3x4 latent left by three stride-2 "
            "convolutions). Table 1's range spans levels 0-1; level 2 and the mid block fall "
            "below its lower bound, which this derivation keeps rather than inventing values",
            shape=UNetShape(
                block_out_channels=(320, 640, 1280, 1280), attention_levels=3,
                layers_per_block=2, heads=64, cross_attention_dim=1024, context_tokens=77,
                latent_channels=4, latent_height=20, latent_width=32, frames=16,
            ),
        ),
    ),
    Workload(
        name="make-an-audio",
        group="U+X",
        modality="audio",
        full=UNetShape(
            block_out_channels=(320, 640), attention_levels=2, layers_per_block=2, heads=8,
            cross_attention_dim=1024, context_tokens=77, latent_channels=4, latent_height=10,
            latent_width=78,
        ),
        tiny=UNetShape(
            block_out_channels=(16, 32), attention_levels=2, layers_per_block=2, heads=2,
            cross_attention_dim=16, context_tokens=4, latent_channels=4, latent_height=4,
            latent_width=10, norm_num_groups=8,
        ),
        schedule=LDM_SCHEDULE,
        source=(
            "Make-An-Audio (Huang et al. 2023; Text-to-Audio/Make-An-Audio txt2audio config): "
            "LDM UNet, model_channels 320, channel_mult [1, 2], attention at both levels, "
            "num_res_blocks 2, transformer depth 1, GEGLU 4x; 10 s mel spectrogram 80x624 -> "
            "latent 10x78 (f = 8): M = 780 / 195 per level (DESIGN table: 800 / 200). "
            "Uncertain: latent channels (4 assumed) and context width (1024 assumed) were not "
            "verified against the released checkpoint; neither changes an FFN dimension"
        ),
        study=StudyPoint(
            "Table 1: L = 11, M = 200-800, N = 1280-2560 (GEGLU), expansion 4. Same topology; "
            "a 10x80 latent (640 mel frames) gives Table 1's M = 800 / 200 at the two levels "
            "exactly (the public 10x78 latent gives 780 / 195)",
            shape=UNetShape(
                block_out_channels=(320, 640), attention_levels=2, layers_per_block=2, heads=8,
                cross_attention_dim=1024, context_tokens=77, latent_channels=4,
                latent_height=10, latent_width=80,
            ),
        ),
    ),
    Workload(
        name="mdm",
        group="motion",
        modality="motion",
        full=MotionShape(
            frames=196, features=263, d_model=512, ff_size=1024, heads=4, layers=8, cond_dim=512
        ),
        tiny=MotionShape(
            frames=12, features=6, d_model=32, ff_size=64, heads=4, layers=2, cond_dim=16
        ),
        schedule=COSINE_SCHEDULE,
        source=(
            "MDM (Tevet et al. 2023; GuyTevet/motion-diffusion-model model/mdm.py, HumanML3D): "
            "trans_enc, 8 layers, latent_dim 512, ff_size 1024, 4 heads, GELU, 263 features "
            "per frame, 196 frames + 1 timestep/text token -> M = 197 (the DESIGN table's 242 "
            "could not be derived from the public config); cosine schedule; written here with "
            "pre-norm blocks (MDM uses post-norm), FFN dimensions unchanged"
        ),
        study=StudyPoint(
            "Table 1: L = 8, M = 242, N = 1024, expansion 2. Same blocks; 241 pose frames + 1 "
            "timestep/text token give M = 242 in every layer (HumanML3D's 196-frame maximum "
            "gives the public 197; Table 1 does not say where 242 comes from)",
            shape=MotionShape(
                frames=241, features=263, d_model=512, ff_size=1024, heads=4, layers=8,
                cond_dim=512,
            ),
        ),
    ),
    Workload(
        name="mld",
        group="motion",
        modality="motion",
        full=MotionShape(
            frames=5, features=256, d_model=256, ff_size=1024, heads=4, layers=9, cond_dim=768,
            skip=True,
        ),
        tiny=MotionShape(
            frames=2, features=8, d_model=32, ff_size=64, heads=4, layers=3, cond_dim=16,
            skip=True,
        ),
        schedule=LDM_SCHEDULE,
        source=(
            "MLD (Chen et al. 2023; ChenFengYe/motion-latent-diffusion denoiser config): "
            "trans_enc with long skip connections, 9 layers, latent_dim 256, ff_size 1024, "
            "4 heads, GELU, CLIP ViT-L/14 text embedding (768); 5 latent tokens (the paper's "
            "MLD-5 latent size, matching the DESIGN table's M = 6) + 1 condition token; the "
            "released MLD-1 checkpoint would give M = 2"
        ),
        study=StudyPoint(
            "Table 1: L = 9, M = 6, N = 1024, expansion 4 - equal to the public configuration "
            "(5 latent tokens + 1 condition token)"
        ),
    ),
    Workload(
        name="edge",
        group="motion",
        modality="dance",
        full=MotionShape(
            frames=150, features=151, d_model=512, ff_size=1024, heads=8, layers=8,
            cond_dim=4800, cond_token=False, music_frames=150, music_layers=2, film=True,
        ),
        tiny=MotionShape(
            frames=10, features=8, d_model=32, ff_size=64, heads=4, layers=2, cond_dim=12,
            cond_token=False, music_frames=10, music_layers=1, film=True,
        ),
        schedule=COSINE_SCHEDULE,
        source=(
            "EDGE (Tseng et al. 2023; Stanford-TML/EDGE model/model.py DanceDecoder): 5 s "
            "clips at 30 FPS -> 150 frames of 151 features, latent_dim 512, ff_size 1024, "
            "8 heads, GELU; 2 encoder layers over 4800-d Jukebox features then 8 FiLM decoder "
            "layers cross-attending to them -> 10 FFN layers with M = 150. The DESIGN table's "
            "M = 3300 does not follow from one clip (uncertain: it may count a long-form batch)"
        ),
        study=StudyPoint(
            "Table 1: L = 10, M = 3300, N = 1024, expansion 2. Same 2 music-encoder + 8 "
            "decoder layers; M = 3300 in every layer is a 110 s long-form sequence at 30 FPS "
            "(3300 motion frames and 3300 music frames) instead of one 5 s clip (150)",
            shape=MotionShape(
                frames=3300, features=151, d_model=512, ff_size=1024, heads=8, layers=8,
                cond_dim=4800, cond_token=False, music_frames=3300, music_layers=2, film=True,
            ),
        ),
    ),
    Workload(
        name="tiny-dit",
        group="pure",
        modality="image",
        full=TINY_DIT,
        tiny=TINY_DIT,
        schedule=NoiseSchedule("squaredcos_cap_v2", clip_sample=True),
        source=(
            "colsim tiny DiT (diffusers DiTTransformer2DModel, 3 blocks, hidden 48, N = 192), "
            "class-conditional on scikit-learn's 8x8 digits (1 channel, patch 2 -> M = 16), "
            "trained by `colsim models train tiny-dit`"
        ),
        trained_weights="tiny_dit.safetensors",
    ),
    Workload(
        name="tiny-motion",
        group="motion",
        modality="motion",
        full=TINY_MOTION,
        tiny=TINY_MOTION,
        schedule=NoiseSchedule("squaredcos_cap_v2", clip_sample=True),
        source=(
            "colsim tiny MDM-style motion transformer (4 blocks, d = 48, ff 96), "
            "class-conditional on seeded synthetic 3-point 2-D trajectories of 16 frames "
            "(+ 1 condition token -> M = 17), trained by `colsim models train tiny-motion`"
        ),
        trained_weights="tiny_motion.safetensors",
    ),
)
