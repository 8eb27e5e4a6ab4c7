"""Hook-overhead benchmark of the profiler (``colsim bench profile``)."""

from __future__ import annotations

import os
import resource
import statistics
import time
from typing import Any

import torch

from colsim.errors import ColsimError
from colsim.models.driver import build_denoiser, run_denoising
from colsim.profiler.run import profile_denoiser


def measure_hook_overhead(
    name: str, *, size: str = "tiny", steps: int = 50, repeats: int = 3, seed: int = 0,
    guidance_scale: float | None = None, threads: int | None = None,
) -> dict[str, Any]:
    """Time unhooked vs profiled denoising runs (same seed, alternating) and report the gap.

    Each variant runs ``repeats`` times after one untimed warm-up each; ``overhead`` and
    ``overhead_cpu`` compare the fastest runs by wall time and by process CPU time (all
    threads; steadier than wall time on a shared machine), the ``*_median`` figures the
    median runs and the ``*_paired_median`` figures the median of the per-repeat ratios.
    ``threads`` sets torch's intra-op threads for both variants alike (default:
    leave torch's setting); the report gives the number used. Peak RSS is the process's
    high-water mark (it includes building the model).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ColsimError(f"`repeats` must be a positive integer, not {repeats!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ColsimError(f"`threads` must be a positive integer, not {threads!r}")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _measure(name, size, steps, repeats, seed, guidance_scale)
    finally:
        torch.set_num_threads(previous_threads)


def _measure(
    name: str, size: str, steps: int, repeats: int, seed: int, guidance_scale: float | None,
) -> dict[str, Any]:
    denoiser = build_denoiser(name, size=size, seed=seed)
    options = {"steps": steps, "seed": seed, "guidance_scale": guidance_scale}

    def plain() -> None:
        run_denoising(denoiser, **options)

    reduce_seconds: list[float] = []

    def hooked() -> None:
        profile = profile_denoiser(denoiser, progress=False, **options)
        reduce_seconds.append(profile.meta["reduce_seconds"])

    wall: dict[str, list[float]] = {"unhooked": [], "hooked": []}
    cpu: dict[str, list[float]] = {"unhooked": [], "hooked": []}
    plain()
    hooked()
    for _ in range(repeats):
        for label, run in (("unhooked", plain), ("hooked", hooked)):
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[label].append(time.perf_counter() - start)
            cpu[label].append(time.process_time() - start_cpu)
    return {
        "model": name,
        "size": size,
        **options,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "unhooked_s": wall["unhooked"],
        "hooked_s": wall["hooked"],
        "unhooked_cpu_s": cpu["unhooked"],
        "hooked_cpu_s": cpu["hooked"],
        "overhead": min(wall["hooked"]) / min(wall["unhooked"]) - 1.0,
        "overhead_cpu": min(cpu["hooked"]) / min(cpu["unhooked"]) - 1.0,
        "overhead_median": _median_ratio(wall) - 1.0,
        "overhead_cpu_median": _median_ratio(cpu) - 1.0,
        # Median over repeats of hooked / unhooked of the same repeat (run back to back, so
        # under the same background load): the figure least moved by load that changes.
        "overhead_paired_median": _paired_median(wall) - 1.0,
        "overhead_cpu_paired_median": _paired_median(cpu) - 1.0,
        # Time inside the reduction hooks relative to the fastest plain run: the overhead
        # measured where it arises, least disturbed by other load on the machine.
        "reduce_s": reduce_seconds[1:],
        "reduce_share": min(reduce_seconds[1:]) / min(wall["unhooked"]),
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def _median_ratio(times: dict[str, list[float]]) -> float:
    return statistics.median(times["hooked"]) / statistics.median(times["unhooked"])


def _paired_median(times: dict[str, list[float]]) -> float:
    return statistics.median(h / u for h, u in zip(times["hooked"], times["unhooked"],
                                                   strict=True))
