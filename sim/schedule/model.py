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

import numpy as np

from colsim.models.spec import FfnLayer
from colsim.sim.schedule.placement import DramPlacement

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
