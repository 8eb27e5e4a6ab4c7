"""The :class:`Schedule` of one layer-iteration: ops, transfers and the DRAM request stream.

Execution rules (the contract every executor — fast model, step-by-step reference, RTL —
implements; ``sim/README.md`` explains them with the loop nest):

* **Transfers** are issued strictly in stream order; all transactions of a transfer carry
  the same earliest issue time, and the DRAM accepts them one by one in that order. A
  transfer's earliest issue time is the later of the previous transfer's and its gate:

  - a read waits until its buffer slot is released by the slot's previous occupant
    (``prev``): a read occupant is released when its last reader op finishes, a write
    occupant when its last transaction completes;
  - a write waits until its ``gate_op`` finishes;
  - a ``barrier`` transfer (the first of a phase) also waits until every earlier transfer
    has completed (the phase reads what the previous one wrote).

  A transfer completes when its last transaction completes.
* **Ops** run in order on their unit (the systolic ``ARRAY``, the ``SIMD`` unit). An op
  starts when its unit is free, its ``needs`` transfers have completed, its ``after`` op
  finished ``after_latency`` cycles ago, and the transfer ``slot_wait`` (the previous
  occupant of its output slot) has been released. It takes ``cycles`` core cycles, of which
  ``overhead`` are array fill/drain rather than streaming.
* The layer-iteration ends when every op has finished and every transfer has completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from colsim.models.spec import FfnLayer
from colsim.sim.schedule.placement import DramPlacement

if TYPE_CHECKING:  # pragma: no cover
    from colsim.sim.schedule.build import _Parts

ARRAY, SIMD = 0, 1
UNITS = ("array", "simd")
INPUT, WEIGHT, OUTPUT = 0, 1, 2
BUFFERS = ("input", "weight", "output")


@dataclass(frozen=True, eq=False)
class Schedule:
    """Ops, transfers (in stream order) and transactions (in issue order) of a layer-iteration.

    Op arrays (length O, in program order): ``op_unit``, ``op_cycles``, ``op_overhead``,
    ``op_k`` (array ops: K steps), ``op_needs`` (O×3 transfer ids, -1 = none), ``op_after``,
    ``op_after_latency``, ``op_slot_wait``, ``op_phase``, and where each op sits in the loop
    nest: ``op_tile`` (output tile t), ``op_token_tile`` (i), ``op_part`` (array ops: the part
    of the tile, -1 for SIMD ops) and ``op_k0`` (array ops: first K position; the op streams
    ``op_k0 .. op_k0 + op_k - 1``); relayout ops have -1 there.
    What the phases compute: ``up_columns`` (the physical slots of the up phase's computed
    columns, C per output tile; H position n holds column ``up_columns[n]``),
    ``down_slots`` / ``down_positions`` (per K position of the down phase: the W2 slot and
    the H position it multiplies) and ``down_bounds`` (the K ranges of the down phase's parts:
    one part, or cold then hot for a dense FFN-Reuse iteration).
    Transfer arrays (length F, stream order): ``tr_buffer``, ``tr_slot``, ``tr_write``,
    ``tr_gate_op``, ``tr_prev``, ``tr_barrier``, ``tr_last_reader``, ``tr_first`` and
    ``tr_count`` (its transactions), ``tr_phase``.
    Transaction arrays (length T, issue order): ``addr`` (uint64 byte address, aligned to
    ``transaction_bytes``), ``is_write``, ``transfer``.
    ``phase_starts`` holds the first op of the relayout, up and down phases.
    """

    layer: FfnLayer
    mode: str
    reuse: bool
    placement: DramPlacement
    n_computed: int
    phase_starts: np.ndarray
    slots: tuple[int, int, int]
    op_unit: np.ndarray
    op_cycles: np.ndarray
    op_overhead: np.ndarray
    op_k: np.ndarray
    op_needs: np.ndarray
    op_after: np.ndarray
    op_after_latency: np.ndarray
    op_slot_wait: np.ndarray
    op_phase: np.ndarray
    op_tile: np.ndarray
    op_token_tile: np.ndarray
    op_part: np.ndarray
    op_k0: np.ndarray
    up_columns: np.ndarray
    down_slots: np.ndarray
    down_positions: np.ndarray
    down_bounds: np.ndarray
    tr_buffer: np.ndarray
    tr_slot: np.ndarray
    tr_write: np.ndarray
    tr_gate_op: np.ndarray
    tr_prev: np.ndarray
    tr_barrier: np.ndarray
    tr_last_reader: np.ndarray
    tr_first: np.ndarray
    tr_count: np.ndarray
    tr_phase: np.ndarray
    addr: np.ndarray
    is_write: np.ndarray
    transfer: np.ndarray

    @property
    def transaction_bytes(self) -> int:
        """Return the bytes of every transaction (the DRAM burst size)."""
        return self.placement.transaction_bytes

    @property
    def nbytes(self) -> np.ndarray:
        """Return the bytes of each transaction (all equal to :attr:`transaction_bytes`)."""
        return np.full(self.addr.size, self.transaction_bytes, dtype=np.int64)

    @property
    def buffer(self) -> np.ndarray:
        """Return the buffer (``INPUT``/``WEIGHT``/``OUTPUT``) each transaction fills/drains."""
        return self.tr_buffer[self.transfer]

    @property
    def slot(self) -> np.ndarray:
        """Return the buffer slot each transaction fills or drains."""
        return self.tr_slot[self.transfer]

    @property
    def step(self) -> np.ndarray:
        """Return, per transaction, the op it serves (first reader, or the op it drains)."""
        first_reader = np.full(self.tr_buffer.size, self.op_unit.size, dtype=np.int64)
        needs = self.op_needs.ravel()
        ops = np.repeat(np.arange(self.op_unit.size), 3)
        np.minimum.at(first_reader, needs[needs >= 0], ops[needs >= 0])
        first_reader[self.tr_write] = self.tr_gate_op[self.tr_write]
        return first_reader[self.transfer]

    @property
    def n_transactions(self) -> int:
        """Return the number of DRAM transactions."""
        return int(self.addr.size)

    def bytes_by(self) -> dict[str, int]:
        """Return bytes moved per buffer and direction (``weight_read``, ``output_write``…)."""
        counts = np.bincount(
            self.buffer * 2 + self.is_write.astype(np.int64), minlength=2 * len(BUFFERS)
        )
        return {
            f"{name}_{direction}": int(counts[2 * b + w]) * self.transaction_bytes
            for b, name in enumerate(BUFFERS)
            for w, direction in enumerate(("read", "write"))
        }

    def compute_cycles(self) -> int:
        """Return the array's streaming cycles (the compute-busy time if nothing stalls)."""
        array = self.op_unit == ARRAY
        return int((self.op_cycles[array] - self.op_overhead[array]).sum())

    @classmethod
    def assemble(
        cls,
        *,
        layer: FfnLayer,
        mode: str,
        reuse: bool,
        placement: DramPlacement,
        parts: _Parts,
        phase_starts: np.ndarray,
        input_slots: int,
        weight_slots: int,
        output_slots: int,
        n_computed: int,
        up_columns: np.ndarray,
        down_slots: np.ndarray,
        down_positions: np.ndarray,
        down_bounds: np.ndarray,
    ) -> Schedule:
        """Return the schedule from the builder's collected ops, transfers and segments."""
        ops = {k: np.concatenate(v) for k, v in parts.ops.items()}
        trs = {k: np.concatenate(v) for k, v in parts.transfers.items()}
        n_ops, n_tr = parts.n_ops, parts.n_transfers
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
        addr, transfer = _transactions(parts, rank, placement.transaction_bytes)
        first = np.searchsorted(transfer, np.arange(n_tr))
        count = np.diff(np.r_[first, transfer.size])
        return cls(
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


def _previous_in_group(group: np.ndarray) -> np.ndarray:
    """Return, per element, the index of the previous element with the same group (or -1)."""
    order = np.argsort(group, kind="stable")
    prev = np.full(group.size, -1, dtype=np.int64)
    same = group[order][1:] == group[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    return prev


def _transactions(parts: _Parts, rank: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Expand byte segments into aligned transactions: per transfer, sorted and unique."""
    if not parts.segments:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    transfer = rank[np.concatenate(parts.segments["transfer"])]
    start = np.concatenate(parts.segments["start"])
    nbytes = np.concatenate(parts.segments["nbytes"])
    keep = nbytes > 0
    transfer, start, nbytes = transfer[keep], start[keep], nbytes[keep]
    first = start // size
    count = (start + nbytes - 1) // size - first + 1
    offsets = np.cumsum(count) - count
    index = np.repeat(first - offsets, count) + np.arange(int(count.sum()))
    # One sort on a combined key (transfer in the high bits) orders and groups them.
    key = np.sort((np.repeat(transfer, count) << _INDEX_BITS) | index)
    key = key[np.r_[True, key[1:] != key[:-1]]]
    return ((key & _INDEX_MASK) * size).astype(np.uint64), key >> _INDEX_BITS


_INDEX_BITS = 36  # transaction indices below 2**36 (8 TiB of 128-byte transactions)
_INDEX_MASK = (1 << _INDEX_BITS) - 1
