"""The colsim pipeline on one page (DESIGN.md contract 9): each function is one stage.

::

    profile = api.profile(model="tiny-dit", steps=20)                # run the model, reduce h
    report = api.sparsity(profile, rho=0.164)                        # element/column sparsity
    masks = api.masks_from_profile(profile, rho=0.164)               # hot columns (or:
    masks = api.synthetic_masks(spec, iterations=50, seed=0, ...)    #  seeded, no weights)
    gap = api.accuracy(model="tiny-dit", masks=masks)                # what skipping costs
    result = api.simulate(api.workload_run(spec, masks=masks))       # fast cycle model
    table = api.sweep(SweepGrid(models=("mdm",), rhos=(0.164,), out=...))  # a grid of those
    tables = api.reproduce(out=..., shapes="study")                  # the study's whole grid
    bound = api.sensitivity(models=[...], axes={"dram.preset": [...]}, out=...)  # which bound
    frame = api.load_results(table.path.parent)                      # any results folder
    cosim = api.cosimulate(api.cosim_case(profile=..., layer=...))   # the RTL on Verilator
    check = api.crosscheck(cases="quick", out=...)                   # RTL = fast model?
    files = api.report(out=..., profiles=[...], results=[...])       # figures, one HTML page

The command line, the demo and the tests call these; the work happens in the parts
(:mod:`colsim.profiler`, :mod:`colsim.masks`, :mod:`colsim.sim.fast`,
:mod:`colsim.analysis.sweep`, :mod:`colsim.testbench`). Heavy parts (torch, cocotb) are
imported when their stage runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colsim import masks as _masks
from colsim.analysis import results as _results
from colsim.analysis.sweep import SweepGrid, SweepTable, run_sweep
from colsim.config import load_hardware_config
from colsim.masks import MaskSet
from colsim.models.spec import WorkloadSpec
from colsim.profiler.profile import Profile
from colsim.profiler.report import SparsityReport, sparsity_report
from colsim.sim.fast.workload import WorkloadResult, WorkloadRun, simulate_workload

if TYPE_CHECKING:
    import pandas as pd

    from colsim.analysis.crosscheck import CrosscheckRun
    from colsim.analysis.report import ReportFiles
    from colsim.analysis.reproduce import ReproduceTables
    from colsim.analysis.sensitivity import SensitivityTable
    from colsim.testbench.ffn_case import CosimSpec
    from colsim.testbench.ffn_run import CosimReport

Progress = Callable[[int, int], None]


def profile(
    *, model: str, size: str = "tiny", weights: str | None = None, steps: int = 50,
    seed: int = 0, guidance_scale: float | None = None, scheduler: str = "ddim",
    capture_inputs: str = "",
) -> Profile:
    """Run the denoiser and reduce every FFN activation to column maxima and histograms."""
    from colsim.profiler.run import profile_model

    return profile_model(model, size=size, weights=weights, capture_inputs=capture_inputs,
                         seed=seed, steps=steps, guidance_scale=guidance_scale,
                         scheduler=scheduler)


def sparsity(
    profile: Profile, *, tau: float | None = None, rho: float | None = None
) -> SparsityReport:
    """Measure element and column sparsity and Jaccard per layer at ``tau`` or ``rho``."""
    return sparsity_report(profile, tau=tau, rho=rho)


def masks_from_profile(
    profile: Profile, *, tau: float | None = None, rho: float | None = None
) -> MaskSet:
    """Derive the hot columns at a uniform ``tau`` or per-layer ``rho`` (neither: τ = 0.164)."""
    return _masks.masks_from_profile(profile, tau=tau, rho=rho)


def synthetic_masks(
    spec: WorkloadSpec, *, iterations: int, seed: int, column_sparsity: float | Sequence[float],
    jaccard: float = 1.0, regime: str = "concentration",
) -> MaskSet:
    """Synthesise seeded hot columns matching target column sparsity, Jaccard and regime."""
    return _masks.synthesize_masks(spec, iterations=iterations, seed=seed,
                                   column_sparsity=column_sparsity, jaccard=jaccard,
                                   regime=regime)


def accuracy(
    *, model: str, masks: MaskSet, size: str = "tiny", weights: str | None = None,
    mode: str = "reuse", steps: int = 50, seed: int = 0, guidance_scale: float | None = None,
    scheduler: str = "ddim", joint_dims: int | None = None, samples: int = 1,
    fid_network: str | None = None, lpips_network: str | None = None,
) -> dict[str, Any]:
    """Denoise dense and with the masks' cold columns skipped; measure the output gap."""
    from colsim.models.driver import build_denoiser
    from colsim.profiler.masked import masked_accuracy

    denoiser = build_denoiser(model, size=size, weights=weights, seed=seed)
    return masked_accuracy(denoiser, masks, mode=mode, steps=steps, seed=seed,
                           guidance_scale=guidance_scale, scheduler=scheduler,
                           joint_dims=joint_dims, samples=samples, fid_network=fid_network,
                           lpips_network=lpips_network)


def resolve_masks(
    spec: WorkloadSpec, *, path: str | Path | None = None, synthetic: str | None = None,
    tau: float | None = None, rho: float | None = None, iterations: int, seed: int = 0,
) -> tuple[MaskSet | None, dict[str, Any]]:
    """Pick a run's masks: a profile at τ/ρ, a mask file, a synthetic SPEC, or none (dense)."""
    return _masks.resolve_masks(spec, path=path, synthetic=synthetic, tau=tau, rho=rho,
                                iterations=iterations, seed=seed)


def workload_run(
    spec: WorkloadSpec, *, config: str | Path | None = None, masks: MaskSet | None = None,
    layout: str | None = None, iterations: int = 50, mask_policy: str = "fixed",
) -> WorkloadRun:
    """Place the workload on the hardware (``config``, None: reference) with its masks.

    ``layout`` defaults to ``hotcold`` with masks and ``rowmajor`` (the baseline) without.
    """
    hw = load_hardware_config(config)
    layout = layout or ("rowmajor" if masks is None else "hotcold")
    return WorkloadRun(spec=spec, hw=hw, layout=layout, iterations=iterations,
                       masks=masks, mask_policy=mask_policy)


def baseline(run: WorkloadRun) -> WorkloadRun:
    """Return the all-dense row-major baseline of ``run`` (same workload and hardware)."""
    return replace(run, layout="rowmajor", masks=None, mask_policy="fixed")


def simulate(
    run: WorkloadRun, *, jobs: int = 1, progress: Progress | None = None
) -> WorkloadResult:
    """Count the cycles of every layer-iteration on the fast model with exact DRAM timing."""
    return simulate_workload(run, jobs=jobs, progress=progress)


def sweep(
    grid: SweepGrid, *, jobs: int = 1, executor: str = "dask", scheduler: str | None = None,
    progress: Progress | None = None, announce: Callable[[str], None] | None = None,
) -> SweepTable:
    """Simulate models × layouts × thresholds as Dask tasks and tabulate the reductions."""
    return run_sweep(grid, hw=load_hardware_config(grid.config), jobs=jobs, executor=executor,
                     scheduler=scheduler, progress=progress, announce=announce)


def reproduce(
    *, out: str | Path, study: str | Path | None = None, shapes: str = "public",
    models: Sequence[str] | None = None, profiles: str | None = None, size: str = "full",
    iterations: int = 50, seed: int = 0, config: str | None = None,
    baselines_only: bool = False, jobs: int = 1, executor: str = "dask",
    scheduler: str | None = None, progress: Progress | None = None,
    announce: Callable[[str], None] | None = None,
) -> ReproduceTables:
    """Run the study's grid: every workload's baseline and layouts × τ and ρ, at full size."""
    from colsim.analysis.reproduce import reproduce_grid, run_reproduce

    grid = reproduce_grid(out=out, study=study, shapes=shapes,
                          models=tuple(models) if models else None, profiles=profiles,
                          size=size, iterations=iterations, seed=seed, config=config,
                          baselines_only=baselines_only)
    return run_reproduce(grid, hw=load_hardware_config(config), jobs=jobs, executor=executor,
                         scheduler=scheduler, progress=progress, announce=announce)


def sensitivity(
    *, models: Sequence[str], out: str | Path, axes: dict[str, Sequence[Any]],
    arrays: Sequence[tuple[int, int]] = (), scale_buffers: bool = False,
    shapes: str = "public", size: str = "full", iterations: int = 50,
    config: str | None = None, jobs: int = 1, executor: str = "dask",
    scheduler: str | None = None, progress: Progress | None = None,
    announce: Callable[[str], None] | None = None,
) -> SensitivityTable:
    """Run each model's baseline on hardware variants: where it turns memory-bound."""
    from colsim.analysis.sensitivity import run_sensitivity, variants

    grid = SweepGrid(models=tuple(models), out=Path(out), layouts=(), synthetic=None,
                     size=size, shapes=shapes, iterations=iterations, config=config)
    hw = load_hardware_config(config)
    return run_sensitivity(grid, variants(hw, axes, arrays, scale_buffers=scale_buffers),
                           jobs=jobs, executor=executor,
                           scheduler=scheduler, progress=progress, announce=announce)


def load_results(path: str | Path, table: str | None = None) -> pd.DataFrame:
    """Load any results folder (or one table of it) into a pandas DataFrame."""
    return _results.load_results(path, table)


def report(
    *, out: str | Path, profiles: Sequence[str | Path] = (),
    results: Sequence[str | Path] = (), crosscheck: str | Path | None = None,
) -> ReportFiles:
    """Draw the study's figures and tables from profiles and results into one HTML page."""
    from colsim.analysis.report import build_report

    return build_report(out=out, profiles=profiles, results=results, crosscheck=crosscheck)


def cosim_case(
    *, profile: str | Path, layer: str, iterations: Sequence[int] = (0,),
    tau: float | None = None, rho: float | None = None, config: str | Path | None = None,
    array: tuple[int, int] | None = None, layout: str = "rowmajor", memory: str = "gddr6",
    seed: int = 0, operands: str = "profile",
) -> CosimSpec:
    """Pick one profiled layer for the RTL: its shape, operands and first iteration's mask."""
    from colsim.testbench.ffn_run import spec_from_profile

    hw = load_hardware_config(config)
    if array is not None:
        hw = hw.with_overrides({"systolic": {"rows": array[0], "cols": array[1]}})
    return spec_from_profile(profile, layer, list(iterations), tau=tau, rho=rho, hw=hw,
                             layout=layout, memory=memory, seed=seed, operands=operands)


def cosimulate(
    case: CosimSpec, *, waves: bool = False, results_xml: Path | None = None
) -> CosimReport:
    """Run the FFN top's RTL on Verilator with the DRAM model answering; check it."""
    from colsim.testbench.ffn_run import run_cosim

    return run_cosim(case, waves=waves, results_xml=results_xml)


def crosscheck(
    *, cases: str | Path = "quick", out: str | Path, config: str | Path | None = None,
    jobs: int = 1, executor: str = "dask", scheduler: str | None = None,
    progress: Progress | None = None, announce: Callable[[str], None] | None = None,
) -> CrosscheckRun:
    """Run each case on the RTL and on the fast model from the same DRAM state; compare.

    ``cases`` is ``"quick"``, ``"default"`` or a TOML file of ``[[case]]`` entries;
    ``config`` (None: each case's tiny or reference hardware) takes the cases' array sizes,
    buffers and refresh settings.
    """
    from colsim.analysis.crosscheck import run_crosscheck
    from colsim.testbench.ffn_cases import load_cases

    base = None if config is None else load_hardware_config(config)
    return run_crosscheck(load_cases(cases), out=out, base=base, jobs=jobs, executor=executor,
                          scheduler=scheduler, progress=progress, announce=announce)
