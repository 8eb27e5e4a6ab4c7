"""Cut a :class:`Schedule` at its down phase's barrier into a prefix and a suffix schedule.

The first transfer of the down phase is a barrier (:mod:`~colsim.sim.schedule.model`): it
issues only once every earlier transfer has completed. At that point every earlier op has
finished too: each up-phase (or relayout) SIMD op gates the write of its output, and each
array op precedes, on its unit, the array op a SIMD op waits for (``op_after``), so the last
op of each unit ends before some write of the prefix is issued, and that write completes
before the barrier releases (:func:`cut_at_barrier` asserts this structure). So no request
is in flight at the barrier, and a reference from the down phase into the earlier phases
(an output slot's previous occupant, a read slot's previous occupant, a result-queue entry
freed by an earlier SIMD op) is satisfied by then: the suffix drops it (-1). Executors run
the prefix, then the suffix from the barrier's release on the prefix's memory system
(:mod:`colsim.sim.fast.resume`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from colsim.errors import ColsimError
from colsim.sim.schedule.build import PHASES
from colsim.sim.schedule.model import ARRAY, SIMD, Schedule

DOWN = PHASES.index("down")


@dataclass(frozen=True)
class ScheduleCut:
    """A schedule cut at the down phase's barrier: ops ``[:ops]``, transfers
    ``[:transfers]`` and transactions ``[:transactions]`` are the prefix's, the rest the
    suffix's (renumbered from 0)."""

    prefix: Schedule
    suffix: Schedule
    ops: int
    transfers: int
    transactions: int


def cut_at_barrier(schedule: Schedule) -> ScheduleCut:
    """Return ``schedule`` cut before its down phase's barrier transfer.

    Raise :class:`~colsim.errors.ColsimError` if the schedule has no down-phase barrier
    (nothing before the down phase, or no down-phase transfer).
    """
    o0 = int(schedule.phase_starts[2])
    down = np.flatnonzero(schedule.tr_phase == DOWN)
    if o0 == 0 or down.size == 0 or not schedule.tr_barrier[down[0]]:
        raise ColsimError(f"the schedule of layer {schedule.layer.name!r} has no down-phase "
                          "barrier to cut at")
    f0 = int(down[0])
    t0 = int(schedule.tr_first[f0])
    _check_cut(schedule, o0, f0, t0)
    return ScheduleCut(_prefix(schedule, o0, f0, t0), _suffix(schedule, o0, f0, t0),
                       o0, f0, t0)


def _check_cut(schedule: Schedule, o0: int, f0: int, t0: int) -> None:
    """Assert what makes the cut exact (module docstring)."""
    s = schedule
    assert (s.tr_phase[f0:] == DOWN).all() and (s.tr_phase[:f0] != DOWN).all()
    assert (s.op_phase[o0:] == DOWN).all() and (s.op_phase[:o0] != DOWN).all()
    assert (s.transfer[:t0] < f0).all() and (s.transfer[t0:] >= f0).all()
    # The prefix refers only to itself.
    for refs, bound in ((s.op_needs[:o0], f0), (s.op_slot_wait[:o0], f0),
                        (s.op_after[:o0], o0), (s.tr_gate_op[:f0], o0),
                        (s.tr_last_reader[:f0], o0)):
        assert (refs < bound).all()
    # The suffix's writes and ops wait on suffix ops; reads on suffix transfers.
    assert (s.tr_gate_op[f0:][s.tr_write[f0:]] >= o0).all()
    assert ((s.op_after[o0:] < 0) | (s.op_after[o0:] >= o0)).all()
    assert ((s.op_needs[o0:] < 0) | (s.op_needs[o0:] >= f0)).all()
    # Every prefix op ends before a prefix write issues: the last op of each unit is a
    # write's gate op, or the op a write's gate op waits for.
    gates = s.tr_gate_op[:f0][s.tr_write[:f0]]
    covered = set(gates.tolist()) | set(s.op_after[gates][s.op_after[gates] >= 0].tolist())
    for unit in (ARRAY, SIMD):
        ops = np.flatnonzero(s.op_unit[:o0] == unit)
        assert ops.size == 0 or int(ops[-1]) in covered


def _shift(refs: np.ndarray, start: int) -> np.ndarray:
    """Return ``refs`` renumbered from ``start``; references before it (or -1) become -1."""
    return np.where(refs >= start, refs - start, -1).astype(refs.dtype)


def _prefix(s: Schedule, o0: int, f0: int, t0: int) -> Schedule:
    ops = slice(0, o0)
    trs = slice(0, f0)
    txs = slice(0, t0)
    return replace(
        s, **_ops(s, ops), **_transfers(s, trs), **_transactions(s, txs),
        phase_starts=np.minimum(s.phase_starts, o0),
        down_slots=s.down_slots[:0], down_positions=s.down_positions[:0],
        down_bounds=s.down_bounds[:1],
    )


def _suffix(s: Schedule, o0: int, f0: int, t0: int) -> Schedule:
    ops = {**_ops(s, slice(o0, None)),
           "op_needs": _shift(s.op_needs[o0:], f0),
           "op_after": _shift(s.op_after[o0:], o0),
           "op_slot_wait": _shift(s.op_slot_wait[o0:], f0)}
    trs = {**_transfers(s, slice(f0, None)),
           "tr_gate_op": _shift(s.tr_gate_op[f0:], o0),
           "tr_prev": _shift(s.tr_prev[f0:], f0),
           "tr_last_reader": _shift(s.tr_last_reader[f0:], o0),
           "tr_first": s.tr_first[f0:] - t0}
    txs = {**_transactions(s, slice(t0, None)), "transfer": s.transfer[t0:] - f0}
    return replace(s, **ops, **trs, **txs,
                   phase_starts=np.zeros_like(s.phase_starts))


def _ops(s: Schedule, part: slice) -> dict[str, np.ndarray]:
    names = ("op_unit", "op_cycles", "op_overhead", "op_k", "op_needs", "op_after",
             "op_after_latency", "op_slot_wait", "op_phase", "op_tile", "op_token_tile",
             "op_part", "op_k0")
    return {name: getattr(s, name)[part] for name in names}


def _transfers(s: Schedule, part: slice) -> dict[str, np.ndarray]:
    names = ("tr_buffer", "tr_slot", "tr_write", "tr_gate_op", "tr_prev", "tr_barrier",
             "tr_last_reader", "tr_first", "tr_count", "tr_phase")
    return {name: getattr(s, name)[part] for name in names}


def _transactions(s: Schedule, part: slice) -> dict[str, np.ndarray]:
    return {name: getattr(s, name)[part] for name in ("addr", "is_write", "transfer")}
