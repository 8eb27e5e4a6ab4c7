"""Build the schedule of one FFN layer-iteration: ops, transfers and DRAM transactions.

See ``sim/README.md`` for the loop nest and the execution rules; this module expands them,
vectorised with numpy, into the arrays of :class:`~colsim.sim.schedule.model.Schedule`:
:func:`build_schedule` walks the phases, which add ops, transfers and byte segments to a
:class:`ScheduleBuilder`, and the builder assembles the schedule from them.

Phases, in order: ``relayout`` (dynamic layouts only: swap moved columns' weights), ``up``
(``H = act(X·W1)`` over the computed columns) and ``down`` (``Y = H·W2`` plus the cold
contribution). Within a phase the nest is::

    for t in output column tiles:            # up: C hidden columns; down: C output features
        [resident weights: fill W tile t once, in <= weight-slot-count fills]
        for i in token tiles:                # R tokens
            for p in parts:                  # up: value (, gate); down-dense: cold, hot rows
                for piece in K pieces:       # boundaries of input chunks and weight chunks
                    [fill input chunk]; [streamed weights: fill weight chunk]
                    array op: K = piece length
            SIMD op -> output slot -> write(s)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError, ConfigError
from colsim.limits import check_memory
from colsim.models.spec import FfnLayer
from colsim.sim.layout import Layout
from colsim.sim.schedule.compute import (
    ComputeModel,
    array_overhead,
    result_latency,
    simd_cycles,
)
from colsim.sim.schedule.expand import touched_units, transactions
from colsim.sim.schedule.model import (
    ARRAY,
    INPUT,
    OUTPUT,
    SIMD,
    WEIGHT,
    Schedule,
)
from colsim.sim.schedule.placement import DramPlacement, ceil_div

MODES = ("dense", "sparse")
PHASES = ("relayout", "up", "down")
# Order of transfers anchored at the same op: drains first (they free slots), then weights,
# then input operands, then the cached cold contribution.
CLASS_WRITE, CLASS_WEIGHT, CLASS_INPUT, CLASS_COLD = 0, 1, 2, 3

OP_DEFAULTS = {
    "unit": ARRAY, "cycles": 0, "overhead": 0, "k": 0, "need_a": -1, "need_b": -1,
    "need_c": -1, "after": -1, "after_latency": 0, "output": False, "phase": 0,
    "tile": -1, "token_tile": -1, "part": -1, "k0": 0,
}
TRANSFER_DEFAULTS = {
    "buffer": INPUT, "write": False, "gate_op": -1, "cls": CLASS_INPUT, "anchor": 0,
    "phase": 0, "share_slot_of": -1, "out_op": -1,
}
# Resident bytes a schedule holds at the peak of its assembly, per DRAM transaction (its
# address, transfer and direction, with the expansion's temporaries) and per op or transfer
# (their columns, with the assembly's); with the executor's own (``executor_bytes``) they
# estimate a layer-iteration's peak memory before the expansion allocates it. Measured with
# the fast model on full-size layers (``tests/sim/fast/test_memory_estimate.py``).
SCHEDULE_BYTES_PER_TRANSACTION = 24
SCHEDULE_BYTES_PER_ENTRY = 400


def peak_bytes(transactions: int, entries: int, executor_bytes: int) -> int:
    """Return the estimated peak memory of building and executing a schedule of
    ``transactions`` DRAM transactions and ``entries`` ops and transfers, its executor adding
    ``executor_bytes`` per transaction."""
    return (transactions * (SCHEDULE_BYTES_PER_TRANSACTION + executor_bytes)
            + entries * SCHEDULE_BYTES_PER_ENTRY)


def _append(table: dict, count: int, defaults: dict, columns: dict) -> None:
    unknown = set(columns) - set(defaults)
    if unknown:
        raise TypeError(f"unknown columns {sorted(unknown)}")
    for key, default in defaults.items():
        value = np.broadcast_to(np.asarray(columns.get(key, default)), (count,))
        table.setdefault(key, []).append(np.array(value).ravel())


class ScheduleBuilder:
    """Collect a layer-iteration's ops, transfers and byte segments; assemble its Schedule.

    Ids are creation order; :meth:`assemble` puts transfers in stream order (by anchor op,
    then class, then creation), derives slots, gates and barriers, and expands the segments
    into aligned DRAM transactions.
    """

    def __init__(self) -> None:
        self._ops: dict[str, list[np.ndarray]] = {}
        self._transfers: dict[str, list[np.ndarray]] = {}
        self._segments: dict[str, list[np.ndarray]] = {}
        self.n_ops = 0
        self.n_transfers = 0

    def add_ops(self, count: int, **columns: object) -> np.ndarray:
        """Append ``count`` ops (scalar or per-op column values); return their ids."""
        ids = np.arange(self.n_ops, self.n_ops + count, dtype=np.int64)
        _append(self._ops, count, OP_DEFAULTS, columns)
        self.n_ops += count
        return ids

    def add_transfers(self, count: int, **columns: object) -> np.ndarray:
        """Append ``count`` transfers; return their ids."""
        ids = np.arange(self.n_transfers, self.n_transfers + count, dtype=np.int64)
        _append(self._transfers, count, TRANSFER_DEFAULTS, columns)
        self.n_transfers += count
        return ids

    def add_segments(self, transfer: np.ndarray, start: np.ndarray, nbytes: np.ndarray) -> None:
        """Append contiguous byte ranges ``[start, start + nbytes)`` of the given transfers."""
        transfer, start, nbytes = np.broadcast_arrays(transfer, start, nbytes)
        for key, value in (("transfer", transfer), ("start", start), ("nbytes", nbytes)):
            self._segments.setdefault(key, []).append(np.asarray(value, dtype=np.int64).ravel())

    def set_needs(self, column: str, ops: np.ndarray, transfers: np.ndarray) -> None:
        """Make ``ops`` (already added) wait for ``transfers`` through ``need_a/b/c``."""
        needs = np.concatenate(self._ops[column])
        needs[ops] = transfers
        self._ops[column] = [needs]

    def assemble(
        self,
        *,
        layer: FfnLayer,
        mode: str,
        reuse: bool,
        placement: DramPlacement,
        phase_starts: np.ndarray,
        input_slots: int,
        weight_slots: int,
        output_slots: int,
        n_computed: int,
        up_columns: np.ndarray,
        down_slots: np.ndarray,
        down_positions: np.ndarray,
        down_bounds: np.ndarray,
        executor_bytes: int = 0,
    ) -> Schedule:
        """Return the schedule of the collected ops, transfers and segments.

        Before the segments are expanded, the layer-iteration's memory (the schedule's and
        ``executor_bytes`` per transaction, what its executor will add) is checked
        (:func:`colsim.limits.check_memory`).
        """
        ops = {k: np.concatenate(v) for k, v in self._ops.items()}
        trs = {k: np.concatenate(v) for k, v in self._transfers.items()}
        n_ops, n_tr = self.n_ops, self.n_transfers
        # Stream order: by anchor op, then class, then creation order.
        order = np.lexsort((np.arange(n_tr), trs["cls"], trs["anchor"]))
        rank = np.empty(n_tr, dtype=np.int64)
        rank[order] = np.arange(n_tr)
        trs = {k: v[order] for k, v in trs.items()}
        remap = np.r_[rank, -1]  # id -> stream index; -1 stays -1
        share = remap[trs["share_slot_of"]]
        needs = remap[np.stack([ops["need_a"], ops["need_b"], ops["need_c"]], axis=1)]
        # Slots: input and weight reads rotate through their rings in stream order; a weight
        # write drains the slot of the read it copies; output transfers use their op's slot.
        slot = np.zeros(n_tr, dtype=np.int64)
        output_rank = np.cumsum(ops["output"]) - 1
        for buffer, count in ((INPUT, input_slots), (WEIGHT, weight_slots)):
            ring = (trs["buffer"] == buffer) & ~trs["write"]
            slot[ring] = np.arange(int(ring.sum())) % count
        writes_weight = (trs["buffer"] == WEIGHT) & trs["write"]
        slot[writes_weight] = slot[share[writes_weight]]
        out = trs["buffer"] == OUTPUT
        slot[out] = output_rank[trs["out_op"][out]] % output_slots
        prev = _previous_in_group(trs["buffer"] * (1 << 20) + slot)
        # Output ops wait for the previous occupant of their slot: the last transfer of the
        # output op ``output_slots`` earlier.
        out_ops = np.flatnonzero(ops["output"])
        last_of_op = np.full(n_ops, -1, dtype=np.int64)
        np.maximum.at(last_of_op, trs["out_op"][out], np.flatnonzero(out))
        slot_wait = np.full(n_ops, -1, dtype=np.int64)
        if out_ops.size > output_slots:
            slot_wait[out_ops[output_slots:]] = last_of_op[out_ops[:-output_slots]]
        # Barriers: the first transfer of each phase after the first phase with transfers.
        barrier = np.zeros(n_tr, dtype=bool)
        phase = trs["phase"]
        starts = np.flatnonzero(np.r_[False, phase[1:] != phase[:-1]])
        barrier[starts] = True
        last_reader = np.full(n_tr, -1, dtype=np.int64)
        op_ids = np.repeat(np.arange(n_ops), 3)
        flat = needs.ravel()
        np.maximum.at(last_reader, flat[flat >= 0], op_ids[flat >= 0])
        size = placement.transaction_bytes
        segments = {key: np.concatenate(self._segments.get(key, [np.zeros(0, np.int64)]))
                     for key in ("transfer", "start", "nbytes")}
        units = touched_units(segments["start"], segments["nbytes"], size)
        check_memory(f"layer {layer.name!r} ({units:,} DRAM transactions of {size} B, "
                     f"{n_ops:,} ops, {n_tr:,} transfers)",
                     peak_bytes(units, n_ops + n_tr, executor_bytes))
        addr, transfer, first, count = transactions(
            rank[segments["transfer"]], segments["start"], segments["nbytes"], n_tr, size)
        return Schedule(
            layer=layer,
            mode=mode,
            reuse=reuse,
            placement=placement,
            n_computed=n_computed,
            phase_starts=phase_starts,
            slots=(input_slots, weight_slots, output_slots),
            op_unit=ops["unit"].astype(np.int8),
            op_cycles=ops["cycles"].astype(np.int64),
            op_overhead=ops["overhead"].astype(np.int64),
            op_k=ops["k"].astype(np.int64),
            op_needs=needs.astype(np.int64),
            op_after=ops["after"].astype(np.int64),
            op_after_latency=ops["after_latency"].astype(np.int64),
            op_slot_wait=slot_wait,
            op_phase=ops["phase"].astype(np.int8),
            op_tile=ops["tile"].astype(np.int64),
            op_token_tile=ops["token_tile"].astype(np.int64),
            op_part=ops["part"].astype(np.int64),
            op_k0=ops["k0"].astype(np.int64),
            up_columns=up_columns,
            down_slots=down_slots,
            down_positions=down_positions,
            down_bounds=down_bounds,
            tr_buffer=trs["buffer"].astype(np.int8),
            tr_slot=slot,
            tr_write=trs["write"].astype(bool),
            tr_gate_op=trs["gate_op"].astype(np.int64),
            tr_prev=prev,
            tr_barrier=barrier,
            tr_last_reader=last_reader,
            tr_first=first.astype(np.int64),
            tr_count=count.astype(np.int64),
            tr_phase=phase.astype(np.int8),
            addr=addr,
            is_write=trs["write"][transfer].astype(bool),
            transfer=transfer,
        )


@dataclass(frozen=True)
class _Geometry:
    """Derived tiling figures shared by the phases."""

    rows: int
    cols: int
    element: int
    accumulator: int
    transaction: int
    chunk: int
    token_tiles: int
    weight_slots: int
    weight_slot_bytes: int
    input_slots: int
    output_slots: int
    quantum: int  # elements per DRAM transaction


def build_schedule(
    layer: FfnLayer,
    hw: HardwareConfig,
    hot: np.ndarray | None,
    layout: Layout,
    placement: DramPlacement,
    *,
    mode: str,
    compute: ComputeModel | None = None,
    executor_bytes: int = 0,
) -> Schedule:
    """Return the schedule of one layer-iteration (a pure function of its arguments).

    ``executor_bytes``: the bytes per DRAM transaction the caller's executor will allocate
    beside the schedule, counted in the memory check before the transactions are expanded
    (a one-line :class:`~colsim.errors.ColsimError` naming the layer and its sizes when the
    estimate does not fit).

    ``mode="dense"`` computes every column; with ``hot`` given it is FFN-Reuse's dense
    iteration (the mask, derived at the end of ``up``, splits ``down`` into a cold and a hot
    tile whose cold part is cached in Y_cold), with ``hot=None`` a plain dense FFN (the
    baseline). ``mode="sparse"`` computes only the ``hot`` columns (W1 columns, W2 rows) and
    adds the cached cold contribution. ``hot`` is a bool vector over logical columns.
    """
    compute = ComputeModel() if compute is None else compute
    if mode not in MODES:
        raise ColsimError(f"`mode` must be one of 'dense', 'sparse', not {mode!r}")
    if layout.columns != layer.hidden:
        raise ColsimError(
            f"layout has {layout.columns} columns but layer {layer.name!r} has {layer.hidden}"
        )
    if hot is None and mode == "sparse":
        raise ColsimError("a sparse iteration needs a `hot` mask")
    geo = _geometry(layer, hw, placement)
    _check_buffers(layer, hw, geo)
    builder = ScheduleBuilder()
    phase_starts = [0]  # first op of relayout, up, down (equal when a phase is empty)
    if layout.swaps.size:
        _relayout_phase(builder, layer, hw, compute, geo, layout, placement)
    if mode == "sparse":
        computed = layout.physical_order(hot)
    else:
        computed = np.arange(layer.hidden, dtype=np.int64)
        if hot is not None:
            layout.physical_order(hot)  # validates the mask's shape
    phase_starts.append(builder.n_ops)
    _up_phase(builder, layer, hw, compute, geo, placement, computed, mode, hot is not None)
    if mode == "sparse":
        positions = [(computed, np.arange(computed.size, dtype=np.int64))]
    elif hot is None:
        positions = [(computed, computed)]
    else:
        hot_slots = layout.physical_order(hot)
        cold_slots = np.setdiff1d(computed, hot_slots, assume_unique=True)
        positions = [(cold_slots, cold_slots), (hot_slots, hot_slots)]
    phase_starts.append(builder.n_ops)
    _down_phase(builder, layer, hw, compute, geo, placement, positions, mode, hot is not None)
    down_slots = np.concatenate([s for s, _ in positions]).astype(np.int64)
    return builder.assemble(
        up_columns=computed.astype(np.int64),
        down_slots=down_slots,
        down_positions=np.concatenate([h for _, h in positions]).astype(np.int64),
        down_bounds=np.cumsum([0] + [s.size for s, _ in positions]).astype(np.int64),
        layer=layer,
        mode=mode,
        reuse=hot is not None,
        placement=placement,
        phase_starts=np.asarray(phase_starts, dtype=np.int64),
        input_slots=geo.input_slots,
        weight_slots=geo.weight_slots,
        output_slots=geo.output_slots,
        n_computed=int(computed.size),
        executor_bytes=executor_bytes,
    )


def _geometry(layer: FfnLayer, hw: HardwareConfig, placement: DramPlacement) -> _Geometry:
    element = hw.systolic.operand_bits // 8
    return _Geometry(
        rows=hw.systolic.rows,
        cols=hw.systolic.cols,
        element=element,
        accumulator=hw.systolic.accumulator_bits // 8,
        transaction=placement.transaction_bytes,
        chunk=placement.chunk,
        token_tiles=ceil_div(layer.tokens, hw.systolic.rows),
        weight_slots=hw.sram.weight.slots,
        weight_slot_bytes=hw.sram.weight.slot_bytes,
        input_slots=hw.sram.input.slots,
        output_slots=hw.sram.output.slots,
        quantum=max(1, placement.transaction_bytes // element),
    )


def _check_buffers(layer: FfnLayer, hw: HardwareConfig, geo: _Geometry) -> None:
    out_need = geo.rows * geo.cols * (geo.accumulator + geo.element)
    if hw.sram.output.slot_bytes < out_need:
        raise ConfigError(
            f"`sram.output` slot of {hw.sram.output.slot_bytes} bytes cannot hold an R×C "
            f"int32 cold tile and its int16 result ({out_need} bytes)"
        )
    if geo.weight_slot_bytes < geo.cols * geo.quantum * geo.element:
        raise ConfigError(
            f"`sram.weight` slot of {geo.weight_slot_bytes} bytes cannot hold {geo.cols} "
            f"column segments of one {geo.transaction}-byte DRAM transaction each"
        )


def _pieces(bounds: list[np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the [k0, k1) pieces of [lo, hi) cut at every given boundary."""
    cuts = np.unique(np.concatenate([np.array([lo, hi]), *bounds]))
    cuts = cuts[(cuts >= lo) & (cuts <= hi)]
    return cuts[:-1], cuts[1:]


def _weight_chunk(slot_bytes: int, columns: int, element: int, quantum: int) -> int:
    """Return K positions per weight fill: ``columns`` segments of it fill one slot."""
    return max(quantum, slot_bytes // (columns * element) // quantum * quantum)


def _gemm_phase(
    builder: ScheduleBuilder,
    *,
    phase: int,
    tiles: int,
    part_ranges: list[tuple[int, int]],
    k_total: int,
    weight_chunk: int,
    resident: bool,
    resident_per_part: bool,
    geo: _Geometry,
    hw: HardwareConfig,
    compute: ComputeModel,
    simd_op_cycles: np.ndarray,
    input_segments,
    weight_segments,
    output_transfers,
) -> None:
    """Append one output-stationary GEMM phase (the nest in the module docstring).

    ``part_ranges`` are the [lo, hi) K ranges of each part (an array tile each); pieces cut
    them at input-chunk and weight-chunk boundaries. Callbacks give the byte segments of an
    input fill ``(i, part, k0, k1)`` and of a weight fill ``(tile, part or -1, k0, k1)``
    (vectorised over fills), and add a tile's output transfers.
    """
    n_i = geo.token_tiles
    chunk_bounds = np.arange(0, k_total + geo.chunk, geo.chunk)
    weight_bounds = np.arange(0, k_total + weight_chunk, weight_chunk)
    # Per part: pieces, their input chunk and weight chunk.
    piece_k0, piece_k1, piece_part = [], [], []
    for p, (lo, hi) in enumerate(part_ranges):
        k0, k1 = _pieces([chunk_bounds, weight_bounds], lo, hi)
        piece_k0.append(k0)
        piece_k1.append(k1)
        piece_part.append(np.full(k0.size, p))
    k0 = np.concatenate(piece_k0).astype(np.int64)
    k1 = np.concatenate(piece_k1).astype(np.int64)
    ppart = np.concatenate(piece_part).astype(np.int64)
    n_pc = k0.size
    achunk = k0 // geo.chunk
    wchunk = k0 // weight_chunk
    # Input fills: one per (part, chunk) with pieces; key = first piece using it.
    a_key = ppart * (achunk.max(initial=0) + 1) + achunk
    a_first = np.flatnonzero(np.r_[True, a_key[1:] != a_key[:-1]]) if n_pc else np.zeros(0, int)
    a_index = np.cumsum(np.r_[True, a_key[1:] != a_key[:-1]]) - 1 if n_pc else a_first
    n_af = a_first.size
    # Streamed weight fills: one per (part, weight chunk) with pieces.
    w_key = ppart * (wchunk.max(initial=0) + 1) + wchunk
    w_first = np.flatnonzero(np.r_[True, w_key[1:] != w_key[:-1]]) if n_pc else a_first
    w_index = np.cumsum(np.r_[True, w_key[1:] != w_key[:-1]]) - 1 if n_pc else a_first
    # Resident weight fills: one per weight chunk over the whole K range, or (when parts
    # read different weights) one per (part, chunk) pair, so that no fill mixes builder.
    if resident_per_part:
        r_bounds_lo = k0[w_first]
        r_hi_all = _chunk_end(r_bounds_lo, ppart[w_first], part_ranges, weight_chunk)
    else:
        r_bounds_lo = weight_bounds[:-1][weight_bounds[:-1] < k_total]
        r_hi_all = np.minimum(r_bounds_lo + weight_chunk, k_total)
    n_rf = r_bounds_lo.size
    ops_per_ti = n_pc + 1
    tile_k = np.array([hi - lo for lo, hi in part_ranges], dtype=np.int64)
    last_piece_of_part = np.r_[ppart[1:] != ppart[:-1], True] if n_pc else np.zeros(0, bool)
    overhead = np.where(
        last_piece_of_part, [array_overhead(int(k), hw) for k in tile_k[ppart]], 0
    ) if n_pc else np.zeros(0, np.int64)
    latency = result_latency(hw, compute)
    phase_end = builder.n_ops + tiles * n_i * ops_per_ti
    for t in range(tiles):
        tile_op0 = builder.n_ops
        # Resident weights, fetched once per tile before its first input fill.
        if resident and n_rf:
            r_ids = builder.add_transfers(
                n_rf, buffer=WEIGHT, cls=CLASS_WEIGHT, anchor=tile_op0, phase=phase
            )
            weight_segments(builder, r_ids, t, -1, r_bounds_lo, r_hi_all)
        # All token tiles of this output tile at once.
        ti_op0 = tile_op0 + np.arange(n_i, dtype=np.int64) * ops_per_ti
        piece_op = ti_op0[:, None] + np.arange(n_pc)[None, :]
        a_ids = builder.add_transfers(
            n_i * n_af, buffer=INPUT, cls=CLASS_INPUT,
            anchor=piece_op[:, a_first].ravel(), phase=phase,
        ).reshape(n_i, n_af)
        fill_i = np.repeat(np.arange(n_i), n_af)
        input_segments(
            builder, a_ids.ravel(), fill_i, np.tile(ppart[a_first], n_i),
            np.tile(k0[a_first], n_i),
            np.tile(_chunk_end(k0[a_first], ppart[a_first], part_ranges, geo.chunk), n_i),
        )
        if resident:
            r_index = w_index if resident_per_part else wchunk
            w_need = (r_ids[r_index][None, :] if n_rf else np.full((1, n_pc), -1))
            w_need = np.broadcast_to(w_need, (n_i, n_pc))
        else:
            n_wf = w_first.size
            w_ids = builder.add_transfers(
                n_i * n_wf, buffer=WEIGHT, cls=CLASS_WEIGHT,
                anchor=piece_op[:, w_first].ravel(), phase=phase,
            ).reshape(n_i, n_wf)
            w_lo = k0[w_first]
            w_hi = _chunk_end(w_lo, ppart[w_first], part_ranges, weight_chunk)
            weight_segments(
                builder, w_ids.ravel(), t, np.tile(ppart[w_first], n_i),
                np.tile(w_lo, n_i), np.tile(w_hi, n_i),
            )
            w_need = w_ids[:, w_index]
        # Ops: n_pc array pieces then one SIMD op, per token tile (interleaved by id).
        op_ids = np.arange(tile_op0, tile_op0 + n_i * ops_per_ti).reshape(n_i, ops_per_ti)
        is_simd = np.zeros((n_i, ops_per_ti), bool)
        is_simd[:, -1] = True
        cycles = np.zeros((n_i, ops_per_ti), np.int64)
        cycles[:, :-1] = (k1 - k0) + overhead
        cycles[:, -1] = simd_op_cycles[t]
        k_col = np.zeros((n_i, ops_per_ti), np.int64)
        k_col[:, :-1] = k1 - k0
        over = np.zeros((n_i, ops_per_ti), np.int64)
        over[:, :-1] = overhead
        need_a = np.full((n_i, ops_per_ti), -1, np.int64)
        need_a[:, :-1] = a_ids[:, a_index]
        need_b = np.full((n_i, ops_per_ti), -1, np.int64)
        need_b[:, :-1] = w_need
        after = np.full((n_i, ops_per_ti), -1, np.int64)
        after[:, -1] = op_ids[:, -2] if n_pc else -1
        builder.add_ops(
            n_i * ops_per_ti, unit=np.where(is_simd, SIMD, ARRAY).ravel(), cycles=cycles.ravel(),
            overhead=over.ravel(), k=k_col.ravel(), need_a=need_a.ravel(),
            need_b=need_b.ravel(), after=after.ravel(),
            after_latency=np.where(is_simd & (n_pc > 0), latency, 0).ravel(),
            output=is_simd.ravel(), phase=phase, tile=t,
            token_tile=np.repeat(np.arange(n_i), ops_per_ti),
            part=np.tile(np.r_[ppart, -1], n_i), k0=np.tile(np.r_[k0, 0], n_i),
        )
        simd_ops = op_ids[:, -1]
        lag = geo.output_slots
        # A tile's drain is issued before the fills of the tile ``lag`` tiles later (the
        # next tile of the phase's nest may lie in the next output tile), or at phase end.
        anchors = np.minimum(tile_op0 + (np.arange(n_i) + lag) * ops_per_ti, phase_end)
        output_transfers(builder, t, simd_ops, anchors)


def _runs(
    ids: np.ndarray, k0: np.ndarray, k1: np.ndarray, joins: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each fill's K range ``[k0, k1)`` into runs; return (fill index, run start, end).

    ``joins[k]`` says that position ``k`` continues position ``k - 1``'s run; a run also
    starts at its fill's ``k0``. Empty ranges have no run.
    """
    cuts = np.flatnonzero(~joins)
    after = np.searchsorted(cuts, k0, side="right")
    before = np.searchsorted(cuts, k1, side="left")
    n_runs = np.where(k1 > k0, 1 + np.maximum(before - after, 0), 0)
    fill = np.repeat(np.arange(ids.size), n_runs)
    rank = np.arange(fill.size) - np.repeat(np.cumsum(n_runs) - n_runs, n_runs)
    inner = cuts[np.minimum(after[fill] + rank - 1, max(cuts.size - 1, 0))] if cuts.size else 0
    lo = np.where(rank == 0, k0[fill], inner)
    last = rank == n_runs[fill] - 1
    nxt = cuts[np.minimum(after[fill] + rank, max(cuts.size - 1, 0))] if cuts.size else 0
    hi = np.where(last, k1[fill], nxt)
    return fill, lo, hi


def _part_chunks(part_ranges: list[tuple[int, int]], chunk: int) -> int:
    """Return how many (part, chunk) pairs the non-empty parts of ``part_ranges`` touch."""
    return sum(ceil_div(hi, chunk) - lo // chunk for lo, hi in part_ranges if hi > lo)


def _chunk_end(
    k0: np.ndarray, part: np.ndarray, part_ranges: list[tuple[int, int]], chunk: int
) -> np.ndarray:
    """Return the end of each fill starting at ``k0``: its chunk's end clipped to its part."""
    hi = np.array([part_ranges[p][1] for p in part], dtype=np.int64)
    return np.minimum(k0 // chunk * chunk + chunk, hi)


def _up_phase(
    builder: ScheduleBuilder,
    layer: FfnLayer,
    hw: HardwareConfig,
    compute: ComputeModel,
    geo: _Geometry,
    placement: DramPlacement,
    computed: np.ndarray,
    mode: str,
    reuse: bool,
) -> None:
    """Append ``H = act(X·W1)`` over the ``computed`` physical slots (C per output tile)."""
    n_comp = computed.size
    if n_comp == 0:
        return
    g = 2 if layer.gated else 1
    d = layer.d_model
    tiles = ceil_div(n_comp, geo.cols)
    width = np.minimum(geo.cols, n_comp - np.arange(tiles) * geo.cols)
    resident_chunk = _weight_chunk(geo.weight_slot_bytes, geo.cols * g, geo.element, geo.quantum)
    resident = ceil_div(d, resident_chunk) <= geo.weight_slots
    weight_chunk = resident_chunk if resident else _weight_chunk(
        geo.weight_slot_bytes, geo.cols, geo.element, geo.quantum
    )
    passes = compute.simd.gelu + (compute.simd.geglu if layer.gated else 0)
    passes += compute.simd.threshold if (mode == "dense" and reuse) else 0
    simd = np.array([simd_cycles(geo.rows * int(w) * g, passes, hw) for w in width])

    def input_segments(builder, ids, i, _part, k0, k1):
        builder.add_segments(ids, placement.x_address(i, k0), geo.rows * (k1 - k0) * geo.element)

    def weight_segments(builder, ids, t, part, k0, k1):
        slots = computed[t * geo.cols: t * geo.cols + width[t]]
        fill_parts = np.broadcast_to(np.asarray(part), np.shape(ids))
        for p in range(g):
            use = (fill_parts == -1) | (fill_parts == p)
            start = placement.w1_address(slots[None, :], p, np.asarray(k0)[use][:, None])
            builder.add_segments(
                np.asarray(ids)[use][:, None], start,
                ((np.asarray(k1) - np.asarray(k0))[use] * geo.element)[:, None],
            )

    def output_transfers(builder, t, simd_ops, anchors):
        i = np.arange(geo.token_tiles)
        hidden0 = t * geo.cols
        ids = builder.add_transfers(
            i.size, buffer=OUTPUT, write=True, gate_op=simd_ops, cls=CLASS_WRITE,
            anchor=anchors, phase=PHASES.index("up"), out_op=simd_ops,
        )
        builder.add_segments(ids, placement.h_address(i, hidden0),
                           int(width[t]) * geo.rows * geo.element)

    _gemm_phase(
        builder, phase=PHASES.index("up"), tiles=tiles,
        part_ranges=[(0, d)] * g, k_total=d, weight_chunk=weight_chunk, resident=resident,
        resident_per_part=False,
        geo=geo, hw=hw, compute=compute, simd_op_cycles=simd,
        input_segments=input_segments, weight_segments=weight_segments,
        output_transfers=output_transfers,
    )


def _down_phase(
    builder: ScheduleBuilder,
    layer: FfnLayer,
    hw: HardwareConfig,
    compute: ComputeModel,
    geo: _Geometry,
    placement: DramPlacement,
    positions: list[tuple[np.ndarray, np.ndarray]],
    mode: str,
    reuse: bool,
) -> None:
    """Append ``Y = H·W2`` (+ Y_cold) over K positions given as (W2 slot, H index) builder."""
    slots = np.concatenate([s for s, _ in positions]).astype(np.int64)
    h_index = np.concatenate([h for _, h in positions]).astype(np.int64)
    bounds = np.cumsum([0] + [s.size for s, _ in positions])
    part_ranges = [(int(a), int(b)) for a, b in pairwise(bounds)]
    k_total = int(slots.size)
    d = layer.d_model
    tiles = ceil_div(d, geo.cols)
    width = np.minimum(geo.cols, d - np.arange(tiles) * geo.cols)
    weight_chunk = _weight_chunk(geo.weight_slot_bytes, geo.cols, geo.element, 1)
    resident = _part_chunks(part_ranges, weight_chunk) <= geo.weight_slots
    passes = compute.simd.requantise + (compute.simd.add_cold if reuse else 0)
    simd = np.array([simd_cycles(geo.rows * int(w), passes, hw) for w in width])
    phase = PHASES.index("down")

    # Consecutive H positions of one activation chunk lie back to back (R tokens each), and
    # so do consecutive W2 slots of a full panel: a fill is one segment per such run.
    h_joins = np.r_[False, (h_index[1:] == h_index[:-1] + 1)
                    & (h_index[1:] // geo.chunk == h_index[:-1] // geo.chunk)]
    w_joins = np.r_[False, slots[1:] == slots[:-1] + 1]

    def input_segments(builder, ids, i, _part, k0, k1):
        fill, lo, hi = _runs(np.asarray(ids), np.asarray(k0), np.asarray(k1), h_joins)
        ti = np.asarray(i)[fill]
        builder.add_segments(np.asarray(ids)[fill], placement.h_address(ti, h_index[lo]),
                             (hi - lo) * geo.rows * geo.element)

    def weight_segments(builder, ids, t, _part, k0, k1):
        ids, k0, k1 = np.atleast_1d(ids), np.atleast_1d(k0), np.atleast_1d(k1)
        full = int(width[t]) == geo.cols
        fill, lo, hi = _runs(ids, k0, k1, w_joins if full else np.zeros_like(w_joins))
        builder.add_segments(ids[fill], placement.w2_address(t, slots[lo]),
                             (hi - lo - 1) * geo.cols * geo.element + int(width[t]) * geo.element)

    def output_transfers(builder, t, simd_ops, anchors):
        i = np.arange(geo.token_tiles)
        cold = placement.y_cold_address(i, t)
        cold_bytes = geo.rows * int(width[t]) * geo.accumulator
        feature0 = t * geo.cols
        if mode == "sparse":
            ids = builder.add_transfers(
                i.size, buffer=OUTPUT, cls=CLASS_COLD, anchor=simd_ops, phase=phase,
                out_op=simd_ops,
            )
            builder.add_segments(ids, cold, cold_bytes)
            builder.set_needs("need_c", simd_ops, ids)
        elif reuse:
            ids = builder.add_transfers(
                i.size, buffer=OUTPUT, write=True, gate_op=simd_ops, cls=CLASS_WRITE,
                anchor=anchors, phase=phase, out_op=simd_ops,
            )
            builder.add_segments(ids, cold, cold_bytes)
        ids = builder.add_transfers(
            i.size, buffer=OUTPUT, write=True, gate_op=simd_ops, cls=CLASS_WRITE,
            anchor=anchors, phase=phase, out_op=simd_ops,
        )
        builder.add_segments(ids, placement.y_address(i, feature0),
                           int(width[t]) * geo.rows * geo.element)

    _gemm_phase(
        builder, phase=phase, tiles=tiles, part_ranges=part_ranges,
        k_total=k_total, weight_chunk=weight_chunk, resident=resident,
        resident_per_part=True, geo=geo, hw=hw,
        compute=compute, simd_op_cycles=simd, input_segments=input_segments,
        weight_segments=weight_segments, output_transfers=output_transfers,
    )


def _relayout_phase(
    builder: ScheduleBuilder,
    layer: FfnLayer,
    hw: HardwareConfig,
    compute: ComputeModel,
    geo: _Geometry,
    layout: Layout,
    placement: DramPlacement,
) -> None:
    """Append the swaps of a dynamic layout: read both columns' weights, write them swapped.

    Swap pairs are batched so that one batch's weights (both columns: W1 record and the
    slot's row in every W2 panel) fill at most one weight slot; each batch is a read fill,
    a move op (the data passes the SIMD datapath) and a write drain from the same slot.
    """
    g = 2 if layer.gated else 1
    panels = ceil_div(layer.d_model, geo.cols)
    column_bytes = g * layer.d_model * geo.element + layer.d_model * geo.element
    per_batch = geo.weight_slot_bytes // (2 * column_bytes)
    if per_batch < 1:
        raise ConfigError(
            f"`sram.weight` slot of {geo.weight_slot_bytes} bytes cannot hold the weights of "
            f"two swapped columns ({2 * column_bytes} bytes)"
        )
    swaps = layout.swaps
    batches = ceil_div(swaps.shape[0], per_batch)
    phase = PHASES.index("relayout")
    op0 = builder.n_ops
    pairs = np.minimum(per_batch, swaps.shape[0] - np.arange(batches) * per_batch)
    elements = pairs * 2 * column_bytes // geo.element
    moves = builder.add_ops(
        batches, unit=SIMD, phase=phase,
        cycles=[simd_cycles(int(e), compute.simd.move, hw) for e in elements],
    )
    reads = builder.add_transfers(
        batches, buffer=WEIGHT, cls=CLASS_WEIGHT, anchor=moves, phase=phase
    )
    lag = max(1, geo.weight_slots - 1)
    writes = builder.add_transfers(
        batches, buffer=WEIGHT, write=True, gate_op=moves, cls=CLASS_WRITE,
        anchor=np.minimum(moves + lag, op0 + batches), phase=phase, share_slot_of=reads,
    )
    builder.set_needs("need_a", moves, reads)
    batch_of_pair = np.arange(swaps.shape[0]) // per_batch
    moved = swaps.reshape(-1)  # both slots of every pair, pair by pair
    batch = np.repeat(batch_of_pair, 2)
    for transfer in (reads, writes):
        ids = transfer[batch]
        for p in range(g):
            start = placement.w1 + moved * placement.w1_record + p * placement.w1_part
            builder.add_segments(ids, start, layer.d_model * geo.element)
        panel = np.arange(panels)
        width = np.minimum(geo.cols, layer.d_model - panel * geo.cols)
        start = placement.w2 + panel[None, :] * placement.w2_panel + (
            moved[:, None] * geo.cols * geo.element
        )
        builder.add_segments(ids[:, None], start, width[None, :] * geo.element)


def _previous_in_group(group: np.ndarray) -> np.ndarray:
    """Return, per element, the index of the previous element with the same group (or -1)."""
    order = np.argsort(group, kind="stable")
    prev = np.full(group.size, -1, dtype=np.int64)
    same = group[order][1:] == group[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    return prev
