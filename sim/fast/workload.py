"""Simulate a whole workload: every FFN layer × denoising iteration, memoised and parallel.

Iteration semantics (DESIGN.md §1, FFN-Reuse):

* no mask set: the all-dense baseline — every iteration is a plain dense FFN;
* with a mask set: iteration 0 is dense and derives the mask (``hot[0]``), later iterations
  are sparse. ``mask_policy="fixed"`` (FFN-Reuse as published) computes the iteration-0
  hot columns in every sparse iteration; ``"per-iteration"`` computes ``hot[t]``.

Layouts per layer: ``rowmajor``; ``hotcold`` / ``perlayer``: hot-first permutation of the
iteration-0 mask (offline); ``dynamic``: re-permuted to each iteration's computed hot set,
its swaps counted as re-layout traffic (with ``fixed`` masks it never needs to move).

Memoisation: a layer-iteration is keyed by (M, d, N, gated, mode, the physical slots of its
hot columns, the layout's swaps) and simulated once on a fresh memory system (all banks idle,
refresh timer at its start, at cycle 0), with every layer's tensors at the same addresses.
``memoise=False`` instead runs every layer-iteration back to back on one continuing memory
system; the difference between the two is the error of that assumption (measured in
``sim/README.md``). A
:class:`~colsim.sim.fast.store.LayerIterationStore` shares memoised layer-iterations between
runs (exact: a key fixes the schedule). Dense FFN-Reuse iterations of one shape share their
up phase whatever the mask (:meth:`LayerIteration.prefix_key`): it is simulated once and each
mask's down phase resumed from it (:func:`simulate_sharing`, exact: :mod:`colsim.sim.fast.resume`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.limits import check_memory
from colsim.masks import MaskSet
from colsim.models.spec import FfnLayer, WorkloadSpec
from colsim.sim.dram.config import DramConfig
from colsim.sim.fast.resume import run_prefix, run_suffix
from colsim.sim.fast.run import IterationStats, MemorySystem, execution_bytes, run_schedule
from colsim.sim.fast.store import LayerIterationStore
from colsim.sim.layout import (
    LAYOUT_KINDS,
    Layout,
    dynamic_layout,
    hotcold_layout,
    rowmajor_layout,
)
from colsim.sim.schedule import ComputeModel, build_schedule, plan_placement
from colsim.sim.schedule.cut import cut_at_barrier
from colsim.tasks import Task, run_tasks

MASK_POLICIES = ("fixed", "per-iteration")
# Python objects per layer-iteration of a run (its work item, result row and statistics):
# about 0.7 KiB retained, measured with tracemalloc on tiny-dit, mdm and dit-xl-2; with room.
LAYER_ITERATION_BYTES = 2048


@dataclass(frozen=True)
class LayerIteration:
    """One unit of work: a layer at one iteration, with what decides its schedule."""

    layer_index: int
    iteration: int
    layer: FfnLayer
    mode: str
    hot: np.ndarray | None
    layout: Layout

    def key(self) -> tuple:
        """Return the memo key: shape, mode and what the schedule reads of mask and layout.

        The schedule (:func:`~colsim.sim.schedule.build_schedule`) sees the mask only through
        the physical slots of its hot columns and the layout only through them and its swaps,
        so layouts that place the hot columns alike (hot-cold, per-layer, dynamic without
        moves) share one key.
        """
        layer = self.layer
        slots = b""
        if self.hot is not None:
            placed = np.zeros(layer.hidden, dtype=bool)
            placed[self.layout.physical_order(self.hot)] = True
            slots = np.packbits(placed).tobytes()
        return (*self._shape_key(), self.hot is not None, slots, self.layout.swaps.tobytes())

    def prefix_key(self) -> tuple | None:
        """Return the key of the schedule's prefix before the down phase's barrier
        (:func:`~colsim.sim.schedule.cut.cut_at_barrier`) when layer-iterations with other
        masks share it, else None.

        A dense FFN-Reuse iteration computes every column in physical order whatever its
        mask: its up phase (and a dynamic layout's re-layout) reads only shape and swaps,
        and only its down phase reads the mask. (The baseline's up phase differs: it has no
        threshold pass.)
        """
        if self.mode != "dense" or self.hot is None:
            return None
        return (*self._shape_key(), True, self.layout.swaps.tobytes())

    def _shape_key(self) -> tuple:
        """Return the part of both keys that the layer's shape and the mode decide."""
        layer = self.layer
        return layer.tokens, layer.d_model, layer.hidden, layer.gated, self.mode


@dataclass(frozen=True)
class WorkloadRun:
    """What to simulate: workload, hardware (with its resolved DRAM), masks, layout, iterations."""

    spec: WorkloadSpec
    hw: HardwareConfig
    layout: str = "rowmajor"
    iterations: int = 50
    masks: MaskSet | None = None
    mask_policy: str = "fixed"
    compute: ComputeModel = field(default_factory=ComputeModel)

    @property
    def dram(self) -> DramConfig:
        """Return the DRAM configuration the hardware resolved (``hw.dram_config``)."""
        return self.hw.dram_config

    def __post_init__(self) -> None:
        if self.layout not in LAYOUT_KINDS:
            known = ", ".join(LAYOUT_KINDS)
            raise ColsimError(f"unknown layout {self.layout!r} (known layouts: {known})")
        if self.mask_policy not in MASK_POLICIES:
            raise ColsimError(
                f"`mask_policy` must be one of 'fixed', 'per-iteration', not {self.mask_policy!r}"
            )
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ColsimError(f"`iterations` must be a positive integer, not {self.iterations!r}")
        layers = len(self.spec.layers)
        check_memory(f"`iterations` {self.iterations:,} of {self.spec.name!r} ({layers} layers)",
                     self.iterations * layers * LAYER_ITERATION_BYTES)
        if self.masks is None:
            if self.layout != "rowmajor":
                raise ColsimError(
                    f"layout {self.layout!r} needs hot masks (from a profile, a mask file or "
                    "the synthetic generator); the dense baseline is row-major"
                )
            return
        _check_masks(self.spec, self.masks, self.iterations)

    def work(self) -> Iterator[LayerIteration]:
        """Yield every layer-iteration in execution order (iteration-major)."""
        layouts: dict[int, Layout] = {}
        for t in range(self.iterations):
            for index, layer in enumerate(self.spec.layers):
                yield self._layer_iteration(index, layer, t, layouts)

    def keyed_work(self) -> Iterator[tuple[tuple, LayerIteration]]:
        """Yield ``(item.key(), item)`` for every item of :meth:`work`, computing a key once
        for the iterations that repeat a layer's mode, mask and layout (the same objects)."""
        last: dict[int, tuple[tuple, LayerIteration]] = {}
        for item in self.work():
            seen = last.get(item.layer_index)
            if seen is None or not _same_schedule_inputs(seen[1], item):
                seen = (item.key(), item)
                last[item.layer_index] = seen
            yield seen[0], item

    def _layer_iteration(
        self, index: int, layer: FfnLayer, t: int, layouts: dict[int, Layout]
    ) -> LayerIteration:
        if self.masks is None:
            return LayerIteration(index, t, layer, "dense", None, rowmajor_layout(layer.hidden))
        masks = self.masks.hot[layer.name]
        computed = masks[t] if (self.mask_policy == "per-iteration" and t > 0) else masks[0]
        if self.layout == "dynamic":
            layout = dynamic_layout(layouts.get(index), computed)
            layouts[index] = layout
        elif index not in layouts:  # row-major and hot-first layouts are fixed per layer
            layout = layouts[index] = (rowmajor_layout(layer.hidden) if self.layout == "rowmajor"
                                       else hotcold_layout(masks[0], kind=self.layout))
        else:
            layout = layouts[index]
        mode = "dense" if t == 0 else "sparse"
        return LayerIteration(index, t, layer, mode, computed, layout)


def _same_schedule_inputs(a: LayerIteration, b: LayerIteration) -> bool:
    """Return whether ``a`` and ``b`` have one key for sure: same layer, mode, and the same
    mask and layout objects."""
    return (a.layer is b.layer and a.mode == b.mode and a.hot is b.hot
            and a.layout is b.layout)


def _check_masks(spec: WorkloadSpec, masks: MaskSet, iterations: int) -> None:
    missing = [name for name in spec.layer_names if name not in masks.hot]
    if missing:
        raise ColsimError(
            f"mask set for {masks.model!r} has no masks for layer {missing[0]!r} of "
            f"{spec.name!r}"
        )
    if masks.iterations < iterations:
        raise ColsimError(
            f"mask set has {masks.iterations} iterations, fewer than `iterations` {iterations}"
        )
    for layer in spec.layers:
        width = masks.hot[layer.name].shape[1]
        if width != layer.hidden:
            raise ColsimError(
                f"masks of layer {layer.name!r} have {width} columns, the layer has "
                f"{layer.hidden}"
            )


@dataclass(frozen=True)
class LayerIterationResult:
    """Measured statistics of one layer-iteration (already multiplied by the layer repeat)."""

    layer_index: int
    layer: str
    iteration: int
    mode: str
    computed_columns: int  # hidden columns computed (N when dense)
    relayout_swaps: int
    stats: IterationStats


@dataclass(frozen=True)
class WorkloadResult:
    """Per layer-iteration results in execution order, plus how many were distinct."""

    run: WorkloadRun
    rows: tuple[LayerIterationResult, ...]
    unique: int  # distinct layer-iterations (simulated, or read from a store)
    memoised: bool

    def total(self) -> IterationStats:
        """Return the statistics summed over every layer-iteration."""
        return _sum(row.stats for row in self.rows)

    def per_layer(self) -> list[tuple[str, IterationStats]]:
        """Return each layer's statistics summed over the iterations (forward order)."""
        return [
            (layer.name, _sum(r.stats for r in self.rows if r.layer_index == index))
            for index, layer in enumerate(self.run.spec.layers)
        ]

    def per_iteration(self) -> list[IterationStats]:
        """Return each iteration's statistics summed over the layers."""
        return [
            _sum(r.stats for r in self.rows if r.iteration == t)
            for t in range(self.run.iterations)
        ]


def _sum(items: Iterator[IterationStats] | list[IterationStats]) -> IterationStats:
    items = list(items)
    total = items[0]
    for item in items[1:]:
        total = total + item
    return total


def simulate_workload(
    run: WorkloadRun,
    *,
    jobs: int = 1,
    memoise: bool = True,
    store: LayerIterationStore | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WorkloadResult:
    """Simulate every layer-iteration of ``run``; ``jobs`` Dask worker processes share the
    unique ones (:func:`colsim.tasks.run_tasks`).

    With a ``store`` (memoised runs only), unique layer-iterations found there are read back
    instead of simulated, and the others are added to it, those sharing a prefix
    (:func:`sharing_groups`) simulated together. ``progress(done, total)`` is called as
    unique layer-iterations finish.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ColsimError(f"`jobs` must be a positive integer, not {jobs!r}")
    if not memoise:
        return _simulate_continuous(run, list(run.work()), progress)
    keyed = list(run.keyed_work())
    keys, work = [key for key, _ in keyed], [item for _, item in keyed]
    unique: dict[tuple, LayerIteration] = {}
    for key, item in zip(keys, work, strict=True):
        unique.setdefault(key, item)
    results: dict[tuple, IterationStats] = {}
    if store is not None:
        for key in unique:
            stats = store.get(key)
            if stats is not None:
                results[key] = stats
    missing = [key for key in unique if key not in results]
    groups = [[missing[n] for n in group]
              for group in sharing_groups([unique[key] for key in missing])]
    done = [0]

    def finished(group: list[tuple], stats: list[IterationStats]) -> None:
        for key, item_stats in zip(group, stats, strict=True):
            results[key] = item_stats
            if store is not None:
                store.put(key, item_stats)
        done[0] += len(group)
        if progress:
            progress(done[0], len(missing))

    args = [(run.hw, run.dram, run.compute, [unique[key] for key in group]) for group in groups]
    if jobs == 1 or len(args) <= 1:
        for group, task in zip(groups, args, strict=True):
            finished(group, simulate_sharing(*task))
    else:
        _simulate_on_workers(groups, args, finished, jobs=jobs)
    rows = tuple(_row(item, results[key]) for key, item in zip(keys, work, strict=True))
    return WorkloadResult(run=run, rows=rows, unique=len(unique), memoised=True)


def _simulate_on_workers(groups: list[list[tuple]], args: list[tuple],
                         finished: Callable[[list[tuple], list[IterationStats]], None], *,
                         jobs: int) -> None:
    """Simulate each ``args`` entry (a group of layer-iterations sharing a prefix) as a task
    on ``jobs`` Dask workers; hand each result to ``finished(group, stats)``.

    SIGINT / SIGTERM stop every worker at once (:func:`colsim.tasks.run_tasks`); the first
    failed layer-iteration stops the run with its own message.
    """
    tasks = [Task(str(n), simulate_sharing, task) for n, task in enumerate(args)]
    outcome = run_tasks(
        tasks, on_result=lambda n, stats: finished(groups[int(n)], stats),
        jobs=min(jobs, len(tasks), os.cpu_count() or 1),
    )
    if outcome.failures:
        failure = outcome.failures[0]
        item = args[int(failure.key)][3][0]
        raise ColsimError(f"layer {item.layer.name!r} at iteration {item.iteration} failed: "
                          f"{failure.message}")


def _schedule_of(item: LayerIteration, hw: HardwareConfig, dram: DramConfig,
                 compute: ComputeModel):
    placement = plan_placement(
        item.layer, hw, transaction_bytes=dram.organization.transaction_bytes
    )
    return build_schedule(item.layer, hw, item.hot, item.layout, placement, mode=item.mode,
                          compute=compute, executor_bytes=execution_bytes(hw))


def simulate_layer_iteration(
    hw: HardwareConfig, dram: DramConfig, compute: ComputeModel, item: LayerIteration
) -> IterationStats:
    """Simulate one layer-iteration on a fresh memory system."""
    schedule = _schedule_of(item, hw, dram, compute)
    return run_schedule(schedule, hw, MemorySystem(dram)).stats


def simulate_sharing(
    hw: HardwareConfig, dram: DramConfig, compute: ComputeModel, items: list[LayerIteration]
) -> list[IterationStats]:
    """Simulate ``items`` (one :meth:`LayerIteration.prefix_key`, or a single item) each on
    a fresh memory system, running their shared prefix once; return their statistics.

    Exact (:mod:`colsim.sim.fast.resume`): each equals :func:`simulate_layer_iteration`.
    """
    if len(items) == 1:
        return [simulate_layer_iteration(hw, dram, compute, items[0])]
    keys = {item.prefix_key() for item in items}
    if None in keys or len(keys) > 1:
        raise ColsimError("layer-iterations simulated together must share one prefix key")
    checkpoint = None
    results = []
    for item in items:
        cut = cut_at_barrier(_schedule_of(item, hw, dram, compute))
        if checkpoint is None:
            checkpoint = run_prefix(cut.prefix, hw, MemorySystem(dram))[1]
        results.append(run_suffix(cut, hw, checkpoint)[1])
        del cut  # one schedule at a time: the next one is built after this one is freed
    return results


def sharing_groups(items: list[LayerIteration]) -> list[list[int]]:
    """Return the indices of ``items`` grouped by prefix key (:func:`simulate_sharing`'s
    groups), in order of first appearance; an item without a prefix key is its own group."""
    groups: dict[object, list[int]] = {}
    for n, item in enumerate(items):
        key = item.prefix_key()
        groups.setdefault(("alone", n) if key is None else key, []).append(n)
    return list(groups.values())


def _simulate_continuous(
    run: WorkloadRun, work: list[LayerIteration], progress: Callable[[int, int], None] | None
) -> WorkloadResult:
    """Run every layer-iteration (and repeat) back to back on one memory system."""
    memory = MemorySystem(run.dram)
    now = 0
    rows = []
    for n, item in enumerate(work):
        schedule = _schedule_of(item, run.hw, run.dram, run.compute)
        total = None
        for _ in range(item.layer.repeat):
            execution = run_schedule(schedule, run.hw, memory, base=now)
            stats, now = execution.stats, execution.end
            total = stats if total is None else total + stats
        rows.append(_row(item, total, scale=False))
        if progress:
            progress(n + 1, len(work))
    return WorkloadResult(run=run, rows=tuple(rows), unique=len(work), memoised=False)


def _row(
    item: LayerIteration, stats: IterationStats, *, scale: bool = True
) -> LayerIterationResult:
    computed = item.layer.hidden if item.mode == "dense" else int(item.hot.sum())
    return LayerIterationResult(
        layer_index=item.layer_index,
        layer=item.layer.name,
        iteration=item.iteration,
        mode=item.mode,
        computed_columns=computed,
        relayout_swaps=int(item.layout.swaps.shape[0]),
        stats=stats.scaled(item.layer.repeat) if scale else stats,
    )
