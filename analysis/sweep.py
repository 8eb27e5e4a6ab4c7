"""A grid of fast-model simulations run as Dask tasks, gathered in one tidy results table.

Per model the grid holds its all-dense row-major baseline and, for every layout, one run per
uniform threshold τ and per target hot ratio ρ. A run's masks come from the model's profile
``<profiles>/<model>.h5`` when there is one, else from the study file (``study``: masks that
follow the study's statistics, and its mask policy; a τ the file has no figure for is left
out of the grid and listed in :attr:`SweepGrid.skipped`), else from the synthetic SPEC with
sparsity ``1 - ρ``.

Contracts:

* the whole grid is validated before the first run (models, layouts, thresholds, profiles,
  the output folder), so a bad value never leaves a half-run folder;
* the work runs on :func:`colsim.tasks.run_tasks` (Dask by default): the distinct
  layer-iterations of all pending runs, largest first (one task per group sharing a
  prefix: dense FFN-Reuse iterations of one shape run their up phase once), each stored in
  ``<out>/layer-iterations/`` (:class:`~colsim.sim.fast.store.LayerIterationStore`) as it
  arrives, so runs share them (e.g. hot-cold, per-layer and dynamic layouts of one mask set);
  then each run is assembled from the store in the calling process, which writes its JSON
  record to ``<out>/runs/<run id>.json``;
* a rerun of the same grid resumes: a run whose record exists (with the same grid settings)
  is read back instead of simulated again, and stored layer-iterations are not simulated
  again;
* the results table ``<out>/results.{parquet,csv}`` (one row per finished run, with the
  ``cycle_reduction`` against its model's baseline, the resolved configuration, seed and
  versions) is written after the runs, always from the run records on disk, so the table and
  the records agree; an interrupted sweep writes nothing more, and failed runs are reported
  one per line and left out of the table.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from colsim.analysis.results import write_table
from colsim.analysis.study import Study, load_study
from colsim.config import HardwareConfig
from colsim.config.loader import to_mapping
from colsim.errors import ColsimError
from colsim.fileio import check_output_dir
from colsim.masks import MaskSet, check_rho, check_tau, parse_synthetic, resolve_masks
from colsim.models.registry import OPERATING_POINTS, SIZES, workload_names, workload_spec
from colsim.provenance import package_versions
from colsim.sim.fast.report import result_record, shares, write_json
from colsim.sim.fast.run import IterationStats
from colsim.sim.fast.store import LayerIterationStore
from colsim.sim.fast.workload import (
    MASK_POLICIES,
    LayerIteration,
    WorkloadRun,
    sharing_groups,
    simulate_sharing,
    simulate_workload,
)
from colsim.sim.layout import LAYOUT_KINDS
from colsim.sim.schedule import ComputeModel
from colsim.tasks import Task, TaskFailure, run_tasks

RECORD_FORMAT = "colsim-sweep-run"
STORE = "layer-iterations"  # the runs' shared layer-iteration statistics (sim.fast.store)


@functools.cache
def _load_study(path: str) -> Study:
    return load_study(path)


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
    """Models × layouts × thresholds, and what every run shares; validated on construction.

    ``profiles`` is a folder of ``<model>.h5`` profiles (needed by ``taus``); ``synthetic``
    the SPEC of the masks of ρ runs without profiles; ``shapes`` the operating point of the
    full-size models; ``config`` the hardware file the runs record (the resolved
    configuration is passed to :func:`run_sweep`).
    """

    models: tuple[str, ...]
    out: Path
    layouts: tuple[str, ...] = ("hotcold",)
    taus: tuple[float, ...] = ()
    rhos: tuple[float, ...] = ()
    profiles: str | None = None
    synthetic: str | None = "jaccard=0.9"
    size: str = "full"
    shapes: str = "public"
    iterations: int = 50
    seed: int = 0
    mask_policy: str = "fixed"
    config: str | None = None
    study: str | None = None

    def __post_init__(self) -> None:
        if self.synthetic:
            parse_synthetic(self.synthetic)
        if not self.models:
            raise ColsimError("`models` must name at least one workload")
        names = workload_names()
        for model in self.models:
            if model not in names:
                raise ColsimError(f"unknown model {model!r} (known models: {', '.join(names)})")
        for layout in self.layouts:
            if layout not in LAYOUT_KINDS:
                raise ColsimError(f"`layouts` must be among {', '.join(LAYOUT_KINDS)}, "
                                  f"not {layout!r}")
        for tau in self.taus:
            check_tau(tau)
        for rho in self.rhos:
            check_rho(rho)
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) \
                or self.iterations < 1:
            raise ColsimError(f"`iterations` must be a positive integer, not {self.iterations!r}")
        if self.mask_policy not in MASK_POLICIES:
            raise ColsimError(f"`mask_policy` must be one of {', '.join(MASK_POLICIES)}, not "
                              f"{self.mask_policy!r}")
        if self.size not in SIZES or self.shapes not in OPERATING_POINTS:
            raise ColsimError(f"`size` / `shapes` must be in {SIZES} / {OPERATING_POINTS}, "
                              f"not {self.size!r} / {self.shapes!r}")
        for model in self.models:
            workload_spec(model, self.size, self.shapes)  # each model has this operating point
            if self.study is not None:
                self.loaded_study().statistics(model)  # each model is in the study
        self._check_profiles()

    def _check_profiles(self) -> None:
        if self.taus and not self.profiles and self.study is None:
            raise ColsimError("`taus` need profiles: give `profiles`, a folder of <model>.h5")
        if not self.profiles or not (self.taus or self.rhos):
            return
        folder = Path(self.profiles)
        if not folder.is_dir():
            raise ColsimError(f"profiles folder {str(folder)!r} does not exist")
        for model in self.models:
            if self.study is None and self.profile_of(model) is None:
                raise ColsimError(f"profiles folder {str(folder)!r} has no {model}.h5")

    def loaded_study(self) -> Study:
        """Return the study file's contents (read once per process)."""
        return _load_study(self.study)

    def profile_of(self, model: str) -> Path | None:
        """Return ``model``'s profile in the profiles folder, or None."""
        if not self.profiles:
            return None
        path = Path(self.profiles) / f"{model}.h5"
        return path if path.is_file() else None

    def masks(self, cell: SweepCell) -> tuple[MaskSet | None, dict[str, Any], str]:
        """Return the masks of ``cell``, the record of their source, and the mask policy."""
        spec = workload_spec(cell.model, self.size, self.shapes)
        policy = (self.loaded_study().statistics(cell.model).mask_policy
                  if self.study is not None else self.mask_policy)
        if cell.baseline:
            mask_set, source = resolve_masks(spec, iterations=self.iterations)
            return mask_set, source, policy
        profile = self.profile_of(cell.model)
        if profile is None and self.study is not None:
            mask_set, source = self.loaded_study().masks(
                spec, iterations=self.iterations, seed=self.seed, tau=cell.tau, rho=cell.rho)
            return mask_set, source, policy
        mask_set, source = resolve_masks(
            spec, path=profile, synthetic=None if profile else self.synthetic, tau=cell.tau,
            rho=cell.rho, iterations=self.iterations, seed=self.seed)
        return mask_set, source, policy

    def _runnable(self, cell: SweepCell) -> bool:
        """Whether ``cell`` has a mask source (a τ run needs a profile or a study figure)."""
        if cell.tau is None or self.profile_of(cell.model) is not None:
            return True
        return self.study is not None and self.loaded_study().has_figure(cell.model, cell.tau)

    def all_cells(self) -> list[SweepCell]:
        """Return every cell: per model its baseline, then layouts × τ, ρ."""
        cells = []
        for model in self.models:
            cells.append(SweepCell(model, "rowmajor"))
            for layout in self.layouts:
                cells += [SweepCell(model, layout, tau=tau) for tau in self.taus]
                cells += [SweepCell(model, layout, rho=rho) for rho in self.rhos]
        return cells

    def cells(self) -> list[SweepCell]:
        """Return the runs of the grid: the cells that have a mask source."""
        return [cell for cell in self.all_cells() if self._runnable(cell)]

    def skipped(self) -> list[SweepCell]:
        """Return the τ cells without a mask source (no profile, no figure in the study)."""
        return [cell for cell in self.all_cells() if not self._runnable(cell)]

    def settings(self) -> dict[str, Any]:
        """Return what every run shares (a resumed run must have been made with the same)."""
        values = asdict(self)
        for key in ("models", "layouts", "taus", "rhos", "out"):
            values.pop(key)
        return values


@dataclass(frozen=True)
class SweepTable:
    """A finished sweep: its rows in grid order, where they went, failures, resumed runs."""

    rows: tuple[dict[str, Any], ...]
    path: Path  # results.parquet (results.csv beside it)
    runs: Path  # the folder of per-run JSON records
    failures: tuple[TaskFailure, ...] = ()
    resumed: tuple[str, ...] = field(default=())  # run ids read back from earlier records


def run_sweep(
    grid: SweepGrid,
    *,
    hw: HardwareConfig,
    jobs: int = 1,
    executor: str = "dask",
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> SweepTable:
    """Run the cells of ``grid`` not finished yet on ``hw``; write the table."""
    out = check_output_dir(grid.out)
    runs = out / "runs"
    cells = grid.cells()
    configuration = {"hardware": to_mapping(hw), "dram": to_mapping(hw.dram_config)}
    records = {cell.run_id: _finished_record(runs / f"{cell.run_id}.json", grid)
               for cell in cells}
    resumed = tuple(run_id for run_id, record in records.items() if record is not None)

    def arrived(run_id: str, record: dict[str, Any]) -> None:
        write_json(runs / f"{run_id}.json", record)
        records[run_id] = record

    pending = [cell for cell in cells if records[cell.run_id] is None]
    done = len(cells) - len(pending)
    # First the distinct layer-iterations of every pending run, shared and largest first,
    # then each run from them (read back from the store: cheap, in this process).
    built, shared = _shared_layer_iterations(pending, grid, hw)
    total = done + len(shared) + len(pending)
    if announce is not None and pending:
        announce(f"{len(pending)} runs to do ({done} finished): "
                 f"{sum(len(group) for group in shared)} distinct layer-iterations first (as "
                 f"{len(shared)} tasks, those sharing a prefix together), then the runs "
                 f"({total} tasks in all)")
    _simulate_into_store(shared, grid, hw, jobs=jobs, executor=executor, scheduler=scheduler,
                         announce=announce, progress=None if progress is None else
                         (lambda finished, _total: progress(done + finished, total)))
    tasks = [Task(cell.run_id, _cell_record, (cell, grid, hw, built.get(cell.run_id)))
             for cell in pending]
    run = run_tasks(tasks, on_result=arrived, executor="local",
                    progress=None if progress is None else
                    (lambda finished, _total: progress(done + len(shared) + finished, total)))
    rows = _table_rows(cells, records, configuration, grid)
    path, _csv = write_table(rows, out / "results")
    return SweepTable(tuple(rows), path, runs, run.failures, resumed)


def _finished_record(path: Path, grid: SweepGrid) -> dict[str, Any] | None:
    """Return the record at ``path`` if it is a finished run of this grid's settings."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # unreadable: run it again
    sweep = record.get("sweep", {}) if isinstance(record, dict) else {}
    if sweep.get("format") != RECORD_FORMAT or sweep.get("settings") != grid.settings():
        return None
    return record


def _table_rows(cells: list[SweepCell], records: dict[str, dict[str, Any] | None],
                configuration: dict[str, Any], grid: SweepGrid) -> list[dict[str, Any]]:
    """Return the table rows of the finished cells, with reductions and provenance."""
    rows = [dict(records[c.run_id]["sweep"]["row"]) for c in cells if records[c.run_id]]
    base = {row["model"]: row["cycles"] for row in rows
            if row["tau"] is None and row["rho"] is None}
    versions = json.dumps(package_versions(), sort_keys=True)
    config = json.dumps(configuration, sort_keys=True)
    for row in rows:
        baseline_cycles = base.get(row["model"])
        row["cycle_reduction"] = (1 - row["cycles"] / baseline_cycles if baseline_cycles
                                  else float("nan"))
        row.update(seed=grid.seed, config=config, versions=versions)
    return rows


def _cell_run(cell: SweepCell, grid: SweepGrid, hw: HardwareConfig
              ) -> tuple[WorkloadRun, dict[str, Any], str]:
    """Return the workload run of ``cell``, the record of its masks' source and the policy."""
    spec = workload_spec(cell.model, grid.size, grid.shapes)
    mask_set, source, policy = grid.masks(cell)
    run = WorkloadRun(
        spec=spec, hw=hw, layout=cell.layout, iterations=grid.iterations,
        masks=mask_set, mask_policy=policy,
    )
    return run, source, policy


def _store(grid: SweepGrid, hw: HardwareConfig) -> LayerIterationStore:
    return LayerIterationStore(grid.out / STORE, hw, ComputeModel())


def _shared_layer_iterations(
    cells: list[SweepCell], grid: SweepGrid, hw: HardwareConfig
) -> tuple[dict[str, tuple[WorkloadRun, dict[str, Any], str]],
           list[list[tuple[tuple, LayerIteration]]]]:
    """Return the runs of ``cells`` by run id (as :func:`_cell_run` builds them) and their
    distinct layer-iterations not in the store, grouped by shared prefix
    (:func:`~colsim.sim.fast.workload.sharing_groups`), largest group first.

    A cell whose run cannot be built (e.g. an unreadable profile) is left out here; it fails
    with its own message, as a failure of that run alone, when it runs.
    """
    store = _store(grid, hw)
    built = {}
    items: dict[tuple, LayerIteration] = {}
    for cell in cells:
        try:
            built[cell.run_id] = _cell_run(cell, grid, hw)
        except Exception:  # reported by the run itself (_cell_record), like any run's failure
            continue
        for key, item in built[cell.run_id][0].keyed_work():
            if key not in items and store.get(key) is None:
                items[key] = item
    entries = list(items.items())
    groups = [[entries[n] for n in group]
              for group in sharing_groups([item for _key, item in entries])]
    return built, sorted(groups, key=lambda group: -_work([item for _key, item in group]))


def _work(items: list[LayerIteration]) -> int:
    """Return the multiply-accumulates of layer-iterations simulated together (their cost,
    roughly): a shared prefix (the up phase) counts once."""
    total = 0
    for item in items:
        layer = item.layer
        computed = (layer.hidden if item.hot is None or item.mode == "dense"
                    else int(item.hot.sum()))
        total += layer.tokens * layer.d_model * computed * (3 if layer.gated else 2)
    layer = items[0].layer
    up = layer.tokens * layer.d_model * layer.hidden * (2 if layer.gated else 1)
    return total - (len(items) - 1) * up


def _simulate_into_store(
    shared: list[list[tuple[tuple, LayerIteration]]], grid: SweepGrid, hw: HardwareConfig, *,
    jobs: int, executor: str, scheduler: str | None,
    progress: Callable[[int, int], None] | None, announce: Callable[[str], None] | None,
) -> None:
    """Simulate each group of ``shared`` layer-iterations as a task; store each as it
    arrives.

    A failed one is not stored: the runs that need it simulate it again and fail with its
    message.
    """
    store = _store(grid, hw)
    compute = ComputeModel()

    def arrived(n: str, stats: list[IterationStats]) -> None:
        for (key, _item), item_stats in zip(shared[int(n)], stats, strict=True):
            store.put(key, item_stats)

    tasks = [Task(str(n), simulate_sharing,
                  (hw, hw.dram_config, compute, [item for _key, item in group]))
             for n, group in enumerate(shared)]
    run_tasks(tasks, on_result=arrived, jobs=jobs, executor=executor, scheduler=scheduler,
              announce=announce, progress=progress)


def run_cell(
    cell: SweepCell, grid: SweepGrid, hw: HardwareConfig
) -> dict[str, Any]:
    """Simulate one grid cell; return its JSON record (its table row under ``sweep.row``).

    Its layer-iterations are read from, or added to, the grid's store (``<out>/`` +
    :data:`STORE`).
    """
    return _cell_record(cell, grid, hw, None)


def _cell_record(
    cell: SweepCell, grid: SweepGrid, hw: HardwareConfig,
    built: tuple[WorkloadRun, dict[str, Any], str] | None,
) -> dict[str, Any]:
    """Return the record of ``cell`` (see :func:`run_cell`), from its run if already built."""
    started = time.perf_counter()
    run, source, policy = _cell_run(cell, grid, hw) if built is None else built
    result = simulate_workload(run, store=_store(grid, hw))
    fields = asdict(cell)
    record = result_record(
        result, inputs={**fields, "size": grid.size, "shapes": grid.shapes,
                        "config": grid.config, **source},
        runtime_s=time.perf_counter() - started,
    )
    total = result.total()
    row = {
        "run": cell.run_id, **fields, "shapes": grid.shapes,
        "mask_policy": policy if run.masks else "", "iterations": grid.iterations,
        **total.as_dict(), **shares(total),
    }
    record["sweep"] = {"format": RECORD_FORMAT, "settings": grid.settings(), "row": row}
    return record
