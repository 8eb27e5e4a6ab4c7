"""Hook-overhead benchmark of the profiler (``colsim bench profile``)."""

from __future__ import annotations

import os
import resource
import time
from typing import Any

import torch

from colsim.errors import ColsimError
from colsim.models.driver import build_denoiser, run_denoising
from colsim.profiler.run import profile_denoiser


def measure_hook_overhead(
    name: str, *, size: str = "tiny", steps: int = 50, repeats: int = 3, seed: int = 0,
    guidance_scale: float | None = None,
) -> dict[str, Any]:
    """Time unhooked vs profiled denoising runs (same seed, alternating) and report the gap.

    Each variant runs ``repeats`` times after one untimed warm-up each; the overhead compares
    the fastest runs, the steadiest estimate on a shared machine. Peak RSS is the process's
    high-water mark (it includes building the model).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ColsimError(f"`repeats` must be a positive integer, not {repeats!r}")
    denoiser = build_denoiser(name, size=size, seed=seed)
    options = {"steps": steps, "seed": seed, "guidance_scale": guidance_scale}

    def plain() -> None:
        run_denoising(denoiser, **options)

    def hooked() -> None:
        profile_denoiser(denoiser, progress=False, **options)

    timings: dict[str, list[float]] = {"unhooked": [], "hooked": []}
    plain()
    hooked()
    for _ in range(repeats):
        for label, run in (("unhooked", plain), ("hooked", hooked)):
            start = time.perf_counter()
            run()
            timings[label].append(time.perf_counter() - start)
    best = {label: min(values) for label, values in timings.items()}
    return {
        "model": name,
        "size": size,
        **options,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "unhooked_s": timings["unhooked"],
        "hooked_s": timings["hooked"],
        "overhead": best["hooked"] / best["unhooked"] - 1.0,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
