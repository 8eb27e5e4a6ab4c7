"""``colsim reproduce``: the study's grid for all its workloads, at full size, in one command.

The grid is a :class:`~colsim.analysis.sweep.SweepGrid` over the study file's workloads:
each one's all-dense row-major baseline, and every layout (row-major, uniform hot-cold,
per-layer hot-cold, dynamic) at every threshold of both axes (τ and ρ in
{0.10, 0.15, 0.164, 0.17, 0.20}), with masks that follow the study's statistics (or a
workload's profile, where one is given). It runs like any sweep (Dask tasks, resumable,
validated first) and adds two tables beside ``results``:

* ``baseline``: per workload the baseline's cycles, compute / stall / other shares, row-buffer
  hits, misses, conflicts, hit rate and bytes;
* ``reduction``: per workload, layout and threshold the cycles, the baseline's cycles and the
  reduction against it.

τ runs of a workload without a profile and without a figure at that τ in the study file are
not run; :attr:`ReproduceTables.skipped` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colsim.analysis.results import write_table
from colsim.analysis.study import default_study_path, load_study
from colsim.analysis.sweep import SweepCell, SweepGrid, SweepTable, run_sweep
from colsim.config import HardwareConfig
from colsim.profiler.histogram import SWEEP_THRESHOLDS
from colsim.sim.layout import LAYOUT_KINDS

BASELINE_COLUMNS = ("model", "shapes", "cycles", "compute_share", "stall_share", "other_share",
                    "hit_rate", "row_hits", "row_misses", "row_conflicts", "bytes_read",
                    "bytes_written", "transactions")


@dataclass(frozen=True)
class ReproduceTables:
    """A finished reproduction: the sweep, the two derived tables, and the skipped cells."""

    sweep: SweepTable
    baseline: tuple[dict[str, Any], ...]
    reduction: tuple[dict[str, Any], ...]
    skipped: tuple[SweepCell, ...]


def reproduce_grid(
    *, out: str | Path, study: str | Path | None = None, shapes: str = "public",
    models: tuple[str, ...] | None = None, profiles: str | None = None, size: str = "full",
    iterations: int = 50, seed: int = 0, config: str | None = None,
    baselines_only: bool = False,
) -> SweepGrid:
    """Return the study's grid: its workloads (or ``models``) × every layout × both axes
    (``baselines_only``: the workloads' baselines alone)."""
    path = str(study) if study is not None else str(default_study_path())
    workloads = tuple(models) if models else tuple(load_study(path).workloads)
    layouts = () if baselines_only else LAYOUT_KINDS
    return SweepGrid(models=workloads, out=Path(out), layouts=layouts,
                     taus=SWEEP_THRESHOLDS, rhos=SWEEP_THRESHOLDS, profiles=profiles,
                     synthetic=None, size=size, shapes=shapes, iterations=iterations,
                     seed=seed, config=config, study=path)


def run_reproduce(
    grid: SweepGrid, *, hw: HardwareConfig, jobs: int = 1,
    executor: str = "dask", scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> ReproduceTables:
    """Run (or resume) the grid; write ``results``, ``baseline`` and ``reduction`` tables."""
    table = run_sweep(grid, hw=hw, jobs=jobs, executor=executor,
                      scheduler=scheduler, progress=progress, announce=announce)
    baselines = {row["model"]: row for row in table.rows if row["tau"] is None
                 and row["rho"] is None}
    baseline = [{column: row[column] for column in BASELINE_COLUMNS}
                for row in baselines.values()]
    reduction = []
    for row in table.rows:
        base = baselines.get(row["model"])
        if base is None or row is base:
            continue
        axis = "tau" if row["tau"] is not None else "rho"
        reduction.append({
            "model": row["model"], "shapes": row["shapes"], "layout": row["layout"],
            "axis": axis, "value": row[axis], "mask_policy": row["mask_policy"],
            "cycles": row["cycles"], "baseline_cycles": base["cycles"],
            "cycle_reduction": row["cycle_reduction"], "hit_rate": row["hit_rate"],
        })
    out = Path(grid.out)
    if baseline:
        write_table(baseline, out / "baseline")
    if reduction:
        write_table(reduction, out / "reduction")
    return ReproduceTables(table, tuple(baseline), tuple(reduction), tuple(grid.skipped()))
