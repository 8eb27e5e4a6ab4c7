"""Execute a schedule on data: the functional half of the fast model.

:func:`execute_functional` runs a :class:`~colsim.sim.schedule.Schedule`'s ops in program
order on the bytes of a :class:`~colsim.sim.dram.store.BackingStore`, the way the engine's
datapath does: an op's operands are read **only from the transactions of the fills it
needs** (a read transfer sees DRAM as it was when its first reader ran; an operand byte
outside those transactions is an error), and a SIMD op's results are written **only into
the transactions of its write transfers**, with byte strobes (the bytes of its tiles, not
the rest of a shared transaction). It therefore checks that the schedule moves every byte
the computation needs, and its results are compared bit for bit with
:func:`~colsim.sim.functional.fixed_point.ffn_reference`.

Timing is not modelled here (:func:`~colsim.sim.fast.run.run_schedule` does that); ops run
one after the other, which is equivalent because the schedule's gates order every write
before the reads of a later phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.fixed_arith import SimdOp, gelu_table, simd_apply
from colsim.sim.dram.store import BackingStore
from colsim.sim.functional.fixed_point import activation, wrap32
from colsim.sim.layout import Layout
from colsim.sim.schedule import ARRAY, PHASES, Schedule

UP, DOWN = PHASES.index("up"), PHASES.index("down")


@dataclass(frozen=True)
class FunctionalRun:
    """What a functional execution derived besides the DRAM contents it wrote.

    ``slot_mask`` (dense FFN-Reuse iterations only): per physical column slot of the up
    phase, whether the SIMD unit's threshold compare found a hot element.
    """

    slot_mask: np.ndarray | None

    def logical_mask(self, layout: Layout) -> np.ndarray | None:
        """Return the derived mask over logical columns (``None`` if none was derived)."""
        return None if self.slot_mask is None else self.slot_mask[layout.slot_of]


class _Fills:
    """Snapshots of read transfers, taken when their first reader runs."""

    def __init__(self, schedule: Schedule, store: BackingStore) -> None:
        self.schedule, self.store = schedule, store
        self.size = schedule.transaction_bytes
        self._snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def transactions(self, transfer: int) -> np.ndarray:
        """Return the sorted transaction addresses of ``transfer``."""
        s = self.schedule
        first = int(s.tr_first[transfer])
        return s.addr[first:first + int(s.tr_count[transfer])].astype(np.int64)

    def _snapshot(self, transfer: int) -> tuple[np.ndarray, np.ndarray]:
        if transfer not in self._snapshots:
            addresses = self.transactions(transfer)
            data = np.frombuffer(b"".join(self.store.backdoor_read(int(a), self.size)
                                          for a in addresses), dtype=np.uint8)
            self._snapshots[transfer] = (addresses, data.reshape(-1, self.size))
        return self._snapshots[transfer]

    def read(self, transfer: int, op: int, start: np.ndarray, count: int, width: int
             ) -> np.ndarray:
        """Return ``count`` little-endian ints of ``width`` bytes from each start address.

        Raises :class:`ColsimError` if a byte is outside the transfer's transactions.
        """
        if transfer < 0:
            raise ColsimError(f"op {op} reads an operand that no transfer fetches")
        addresses, data = self._snapshot(transfer)
        byte = (np.asarray(start, dtype=np.int64)[..., None]
                + np.arange(count * width, dtype=np.int64)).reshape(*np.shape(start), count,
                                                                     width)
        row = np.searchsorted(addresses, byte // self.size * self.size)
        row = np.minimum(row, addresses.size - 1)
        if not (addresses[row] == byte // self.size * self.size).all():
            raise ColsimError(f"op {op} reads bytes that transfer {transfer} does not fetch")
        raw = data[row, byte % self.size].astype(np.int64)
        value = (raw << (8 * np.arange(width))).sum(axis=-1)
        sign = 1 << (8 * width - 1)
        return (value ^ sign) - sign


class _Writer:
    """Strobed writes of a SIMD op's tiles into its write transfers' transactions."""

    def __init__(self, schedule: Schedule, store: BackingStore, fills: _Fills) -> None:
        self.store, self.size = store, schedule.transaction_bytes
        writes = np.flatnonzero(schedule.tr_write)
        self._covered: dict[int, set[int]] = {}
        for f in writes.tolist():
            covered = self._covered.setdefault(int(schedule.tr_gate_op[f]), set())
            covered.update(fills.transactions(f).tolist())

    def write(self, op: int, address: int, values: np.ndarray, dtype: str) -> None:
        """Write ``values`` contiguously at ``address`` (each byte inside op's transfers)."""
        data = np.asarray(values).astype(dtype).tobytes()
        first, last = address // self.size, (address + len(data) - 1) // self.size
        covered = self._covered.get(op, set())
        if any(t * self.size not in covered for t in range(first, last + 1)):
            raise ColsimError(f"op {op} writes bytes at {address:#x} that none of its write "
                              f"transfers covers")
        self.store.backdoor_write(address, data)


def execute_functional(schedule: Schedule, hw: HardwareConfig, store: BackingStore, *,
                       tau_q: int = 0) -> FunctionalRun:
    """Run ``schedule``'s ops on the data in ``store``; write H, Y (and Y_cold) into it.

    ``tau_q`` is the int16 threshold register of the dense iteration's mask derivation.
    The schedule must not re-lay columns out (dynamic layouts): their moves carry no
    arithmetic and are not executed here.
    """
    if (schedule.op_phase == PHASES.index("relayout")).any():
        raise ColsimError("the functional executor does not run re-layout phases (dynamic "
                          "layouts)")
    p, layer = schedule.placement, schedule.layer
    f_bits, s_bits = hw.simd.frac_bits, hw.simd.gelu_segment_bits
    table = gelu_table(f_bits, s_bits)
    fills = _Fills(schedule, store)
    writer = _Writer(schedule, store, fills)
    accumulators: dict[tuple[int, int, int, int], np.ndarray] = {}
    derive = schedule.mode == "dense" and schedule.reuse
    slot_mask = np.zeros(layer.hidden, dtype=bool) if derive else None
    n_computed = schedule.up_columns.size
    for o in range(schedule.op_unit.size):
        phase, t, i = int(schedule.op_phase[o]), int(schedule.op_tile[o]), int(
            schedule.op_token_tile[o])
        extent = n_computed if phase == UP else layer.d_model
        width = min(p.cols, extent - t * p.cols)
        if schedule.op_unit[o] == ARRAY:
            part, k0 = int(schedule.op_part[o]), int(schedule.op_k0[o])
            ks = np.arange(k0, k0 + int(schedule.op_k[o]))
            need_a, need_b = (int(v) for v in schedule.op_needs[o, :2])
            if phase == UP:
                a_addr = p.x_address(i, ks)
                slots = schedule.up_columns[t * p.cols:t * p.cols + width]
                b = fills.read(need_b, o, p.w1_address(slots[None, :], part, ks[:, None]), 1,
                               2)[..., 0]
            else:
                a_addr = p.h_address(i, schedule.down_positions[ks])
                b = fills.read(need_b, o, p.w2_address(t, schedule.down_slots[ks]), width, 2)
            a = fills.read(need_a, o, a_addr, p.rows, 2)
            key = (phase, t, i, part)
            product = a.T @ b
            accumulators[key] = accumulators.get(key, 0) + product
            continue
        tiles = [wrap32(accumulators.pop((phase, t, i, q), np.zeros((p.rows, width), np.int64)))
                 for q in range(len(schedule.down_bounds) - 1 if phase == DOWN
                                else 2 if layer.gated else 1)]
        if phase == UP:
            h = activation(tiles, layer.gated, f_bits, s_bits)
            if derive:
                slots = schedule.up_columns[t * p.cols:t * p.cols + width]
                slot_mask[slots] |= (np.abs(h) > tau_q).any(axis=0)
            for c in range(width):
                writer.write(o, int(p.h_address(i, t * p.cols + c)), h[:, c], "<i2")
            continue
        if schedule.mode == "sparse":
            need_c = int(schedule.op_needs[o, 2])
            columns = p.y_cold_address(i, t) + np.arange(width) * p.rows * 4
            cold = fills.read(need_c, o, columns, p.rows, 4).T
            y = simd_apply(SimdOp.ADD, tiles[0], cold, shift=f_bits, table=table)
        elif schedule.reuse:
            cold, hot = tiles
            writer.write(o, int(p.y_cold_address(i, t)), cold.T, "<i4")
            y = simd_apply(SimdOp.ADD, hot, cold, shift=f_bits, table=table)
        else:
            y = simd_apply(SimdOp.REQUANT, tiles[0], np.zeros_like(tiles[0]), shift=f_bits,
                           table=table)
        for c in range(width):
            writer.write(o, int(p.y_address(i, t * p.cols + c)), y[:, c], "<i2")
    return FunctionalRun(slot_mask)
