"""Build denoisers and run the denoising loop (diffusers DDIM / DDPM schedulers).

Classifier-free guidance (for the profiler): when ``guidance_scale`` is given, every
iteration makes ONE forward call on a batch of two samples, batch index 0 = unconditional,
index 1 = conditional (:data:`CFG_BATCH_ORDER`); ε̂ = ε̂_u + g·(ε̂_c − ε̂_u). Without guidance
the batch is one conditional sample. Conditions need no text encoder: class labels (DiT,
tiny-motion; unconditional = the null label), seeded embeddings (UNets, MDM, MLD;
unconditional = zeros) or seeded music features (EDGE; unconditional = zeros).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib import resources

import torch
from diffusers import DDIMScheduler, DDPMScheduler

from colsim.errors import ColsimError
from colsim.models.catalog import Adapter, NoiseSchedule, family_of
from colsim.models.registry import get_entry, shape_of, workload_spec
from colsim.models.spec import WorkloadSpec
from colsim.models.weights import load_weights

CFG_BATCH_ORDER = ("unconditional", "conditional")
SCHEDULERS = ("ddim", "ddpm")


class Denoiser:
    """A denoiser module with its spec, conditioning and calling convention."""

    def __init__(
        self, *, name: str, size: str, module: torch.nn.Module, spec: WorkloadSpec,
        adapter: Adapter, schedule: NoiseSchedule,
    ) -> None:
        self.name = name
        self.size = size
        self.module = module
        self.spec = spec
        self.adapter = adapter
        self.schedule = schedule

    @property
    def ffn_layer_names(self) -> tuple[str, ...]:
        """Return the qualified names of the FFN activation modules, in forward order."""
        return self.spec.layer_names

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Return the shape of one sample (without the batch dimension)."""
        return self.adapter.sample_shape

    def conditions(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (conditional, unconditional) conditions for one sample, on the CPU."""
        return self.adapter.conditions(generator)

    def predict_noise(
        self, sample: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor
    ) -> torch.Tensor:
        """Return ε̂ for the batch ``sample`` at ``timestep`` (batch,) under ``condition``."""
        return self.adapter.predict_noise(self.module, sample, timestep, condition)


def trained_weights_path(file_name: str) -> str:
    """Return the path of a weight file shipped in the models package."""
    return str(resources.files("colsim.models").joinpath(file_name))


def build_denoiser(
    name: str, *, size: str = "tiny", weights: str | None = None, seed: int = 0,
    device: str | torch.device | None = None,
) -> Denoiser:
    """Build workload ``name`` at ``size`` with seeded random (or loaded) weights, in eval mode.

    ``weights`` is a local safetensors file or diffusers folder; the trained tiny models load
    their committed weights when it is None. ``device="meta"`` builds shapes only (no memory,
    no weights) for checking full-size models cheaply.
    """
    workload = get_entry(name)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ColsimError(f"`seed` must be an integer, not {seed!r}")
    meta = torch.device(device or "cpu").type == "meta"
    if meta and weights is not None:
        raise ColsimError("`weights` cannot be loaded on the meta device")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        denoiser = random_denoiser(name, size, device=device)
    if weights is None and workload.trained_weights is not None and not meta:
        weights = trained_weights_path(workload.trained_weights)
    if weights is not None:
        load_weights(denoiser.module, weights, model=f"{name} ({size})")
    denoiser.module.eval()
    return denoiser


def random_denoiser(
    name: str, size: str = "tiny", *, device: str | torch.device | None = None
) -> Denoiser:
    """Construct workload ``name`` at ``size`` with weights drawn from the global torch RNG.

    Nothing is loaded and the module stays in training mode (for training from scratch).
    """
    workload = get_entry(name)
    shape = shape_of(workload, size)
    family = family_of(shape)
    with torch.device(device or "cpu"):
        module = family.build(shape)
    return Denoiser(
        name=name, size=size, module=module, spec=workload_spec(name, size),
        adapter=family.adapter(shape), schedule=workload.schedule,
    )


def make_scheduler(kind: str, schedule: NoiseSchedule) -> DDIMScheduler | DDPMScheduler:
    """Return a fresh diffusers scheduler of ``kind`` ("ddim" or "ddpm") for ``schedule``."""
    if kind not in SCHEDULERS:
        raise ColsimError(f"`scheduler` must be one of 'ddim', 'ddpm', not {kind!r}")
    cls = DDIMScheduler if kind == "ddim" else DDPMScheduler
    return cls(
        num_train_timesteps=schedule.num_train_timesteps,
        beta_schedule=schedule.beta_schedule,
        beta_start=schedule.beta_start,
        beta_end=schedule.beta_end,
        clip_sample=schedule.clip_sample,
    )


def check_run_arguments(
    steps: int, guidance_scale: float | None, schedule: NoiseSchedule
) -> None:
    """Raise a ColsimError naming ``steps`` or ``guidance_scale`` if it cannot be run."""
    limit = schedule.num_train_timesteps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= limit:
        raise ColsimError(f"`steps` must be an integer in [1, {limit}], not {steps!r}")
    if guidance_scale is not None and not (
        isinstance(guidance_scale, (int, float)) and math.isfinite(guidance_scale)
        and guidance_scale >= 0
    ):
        raise ColsimError(
            f"`guidance_scale` must be a finite non-negative number, not {guidance_scale!r}"
        )


def run_denoising(
    denoiser: Denoiser, *, steps: int = 50, seed: int = 0, guidance_scale: float | None = None,
    on_iteration: Callable[[int], None] | None = None, scheduler: str = "ddim",
) -> torch.Tensor:
    """Denoise one sample from seeded noise and return it (batch 1, on the module's device).

    ``on_iteration(i)`` is called with the 0-based iteration index right before the single
    forward call of iteration ``i``. The same arguments give the same result.
    """
    check_run_arguments(steps, guidance_scale, denoiser.schedule)
    noise_scheduler = make_scheduler(scheduler, denoiser.schedule)
    noise_scheduler.set_timesteps(steps)
    parameter = next(denoiser.module.parameters())
    device, dtype = parameter.device, parameter.dtype

    def place(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(device, dtype if tensor.is_floating_point() else tensor.dtype)

    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn((1, *denoiser.sample_shape), generator=generator)
    sample = place(sample * noise_scheduler.init_noise_sigma)
    conditional, unconditional = (place(c) for c in denoiser.conditions(generator))
    guided = guidance_scale is not None
    condition = torch.cat([unconditional, conditional]) if guided else conditional
    with torch.no_grad():
        for iteration, timestep in enumerate(noise_scheduler.timesteps):
            batch = torch.cat([sample, sample]) if guided else sample
            batch = noise_scheduler.scale_model_input(batch, timestep)
            timesteps = timestep.to(device).expand(batch.shape[0])
            if on_iteration is not None:
                on_iteration(iteration)
            noise = denoiser.predict_noise(batch, timesteps, condition)
            if guided:
                uncond_noise, cond_noise = noise.chunk(2)
                noise = uncond_noise + guidance_scale * (cond_noise - uncond_noise)
            sample = noise_scheduler.step(noise, timestep, sample, generator=generator).prev_sample
    return sample
