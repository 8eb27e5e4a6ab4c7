"""A grid of fast-model simulations run in local processes, gathered in one tidy table.

Per model the grid holds its all-dense row-major baseline and, for every layout, one run per
uniform threshold τ (masks from ``<profiles>/<model>.h5``) and per target hot ratio ρ (from
the profile when a folder is given, else synthetic masks with sparsity ``1 - ρ``). Every run
writes its JSON record to ``<out>/runs/<run id>.json``; the table (one row per run, with the
``cycle_reduction`` against its model's baseline) goes to ``<out>/results.csv``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.masks import parse_synthetic, resolve_masks
from colsim.models.registry import workload_names, workload_spec
from colsim.sim.dram.config import DramConfig
from colsim.sim.fast.report import result_record, shares, write_csv, write_json
from colsim.sim.fast.workload import WorkloadRun, simulate_workload


@dataclass(frozen=True)
class SweepCell:
    """One run of a sweep: a model, a layout and a threshold (neither: the baseline)."""

    model: str
    layout: str
    tau: float | None = None
    rho: float | None = None

    @property
    def baseline(self) -> bool:
        """Whether this is the model's all-dense row-major baseline."""
        return self.tau is None and self.rho is None

    @property
    def run_id(self) -> str:
        """Return the run's name, e.g. ``mdm_hotcold_rho0.3`` or ``mdm_baseline``."""
        if self.baseline:
            return f"{self.model}_baseline"
        axis = f"tau{self.tau:g}" if self.tau is not None else f"rho{self.rho:g}"
        return f"{self.model}_{self.layout}_{axis}"


@dataclass(frozen=True)
class SweepGrid:
    """Models × layouts × thresholds, and what every run shares.

    ``profiles`` is a folder of ``<model>.h5`` profiles (needed by ``taus``); ``synthetic``
    the SPEC of the masks of ρ runs without profiles; ``config`` the hardware file the runs
    record (the resolved configuration is passed to :func:`run_sweep`).
    """

    models: tuple[str, ...]
    out: Path
    layouts: tuple[str, ...] = ("hotcold",)
    taus: tuple[float, ...] = ()
    rhos: tuple[float, ...] = ()
    profiles: str | None = None
    synthetic: str | None = "jaccard=0.9"
    size: str = "full"
    iterations: int = 50
    seed: int = 0
    mask_policy: str = "fixed"
    config: str | None = None

    def __post_init__(self) -> None:
        if self.synthetic:
            parse_synthetic(self.synthetic)  # fail before starting workers
        names = workload_names()
        for model in self.models:
            if model not in names:
                raise ColsimError(f"unknown model {model!r} (known models: {', '.join(names)})")
        if self.taus and not self.profiles:
            raise ColsimError("`taus` need profiles: give `profiles`, a folder of <model>.h5")

    def cells(self) -> list[SweepCell]:
        """Return every run of the grid: per model its baseline, then layouts × τ, ρ."""
        cells = []
        for model in self.models:
            cells.append(SweepCell(model, "rowmajor"))
            for layout in self.layouts:
                cells += [SweepCell(model, layout, tau=tau) for tau in self.taus]
                cells += [SweepCell(model, layout, rho=rho) for rho in self.rhos]
        return cells


@dataclass(frozen=True)
class SweepTable:
    """The rows of a finished sweep, in grid order, and where they were written."""

    rows: tuple[dict[str, Any], ...]
    path: Path  # results.csv
    runs: Path  # the folder of per-run JSON records


def run_sweep(
    grid: SweepGrid,
    *,
    hw: HardwareConfig,
    dram: DramConfig,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SweepTable:
    """Run every cell of ``grid`` on ``hw`` / ``dram`` in ``jobs`` processes; write the table."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ColsimError(f"`jobs` must be a positive integer, not {jobs!r}")
    cells = grid.cells()
    rows: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_cell, cell, grid, hw, dram) for cell in cells]
        for future in as_completed(futures):
            row = future.result()
            rows[row["run"]] = row
            if progress is not None:
                progress(len(rows), len(cells))
    ordered = [rows[cell.run_id] for cell in cells]
    base = {cell.model: rows[cell.run_id]["cycles"] for cell in cells if cell.baseline}
    for row in ordered:
        row["cycle_reduction"] = 1 - row["cycles"] / base[row["model"]]
    table = Path(grid.out) / "results.csv"
    write_csv(table, ordered)
    return SweepTable(tuple(ordered), table, Path(grid.out) / "runs")


def run_cell(
    cell: SweepCell, grid: SweepGrid, hw: HardwareConfig, dram: DramConfig
) -> dict[str, Any]:
    """Simulate one grid cell, write its JSON record, and return its tidy row."""
    started = time.perf_counter()
    spec = workload_spec(cell.model, grid.size)
    if cell.baseline:
        mask_set, source = resolve_masks(spec, iterations=grid.iterations)
    else:
        profile = Path(grid.profiles) / f"{cell.model}.h5" if grid.profiles else None
        mask_set, source = resolve_masks(
            spec, path=profile, synthetic=None if profile else grid.synthetic, tau=cell.tau,
            rho=cell.rho, iterations=grid.iterations, seed=grid.seed,
        )
    run = WorkloadRun(
        spec=spec, hw=hw, dram=dram, layout=cell.layout, iterations=grid.iterations,
        masks=mask_set, mask_policy=grid.mask_policy,
    )
    result = simulate_workload(run)
    fields = asdict(cell)
    record = result_record(
        result, inputs={**fields, "size": grid.size, "config": grid.config, **source},
        runtime_s=time.perf_counter() - started,
    )
    write_json(Path(grid.out) / "runs" / f"{cell.run_id}.json", record)
    total = result.total()
    return {
        "run": cell.run_id, **fields, "mask_policy": grid.mask_policy if mask_set else "",
        "iterations": grid.iterations, **total.as_dict(), **shares(total),
    }
