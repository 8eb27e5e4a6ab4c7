"""Run a schedule cut at its down phase's barrier as a prefix, then a suffix resumed from it.

The prefix runs once (:func:`run_prefix`) and leaves a :class:`Checkpoint`: a copy of its
memory system, its statistics and the few cycles the resumption needs. Each suffix resumed
from it (:func:`run_suffix`) gives exactly what the whole schedule gives run in one piece
(``tests/sim/fast/test_resume.py`` compares every op, transfer, transaction and statistic):

* at the barrier no request is in flight and every prefix op has finished
  (:mod:`colsim.sim.schedule.cut`); the whole run presents the barrier's first request in
  the cycle after its release ``P`` (the last prefix transfer's completion): the DMA engine
  has held the barrier's run since long before (the front end delivers it a few cycles after
  the previous run was taken, and that run's requests still had the DRAM's latency ahead);
* a suffix run from ``base`` presents its first request in ``base + lead + 1``, ``lead``
  being the cycles a fresh front end takes to hand the DMA engine its first run
  (:func:`~colsim.sim.fast.engines.dma_take`), so it resumes from ``base = P - lead``. Its
  engines' other fresh state (units free, port free, no in-flight entries, no answered
  requests, no earlier tile) only gates from before ``P``, which every suffix op and
  transfer waits for anyway, and the DRAM continues from the prefix's state;
* the statistics add up, except where a run counts from its start: cycles and DRAM cycles
  count from the prefix's start, and the array's idle time before the first suffix op
  counts from the prefix's last array op instead of the suffix's ``base``.

The resumption asserts that the prefix met the first two points' conditions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from colsim.config import HardwareConfig
from colsim.sim.fast import engines
from colsim.sim.fast.run import Execution, IterationStats, MemorySystem, run_schedule
from colsim.sim.schedule import ARRAY, Schedule
from colsim.sim.schedule.cut import ScheduleCut


@dataclass(frozen=True)
class Checkpoint:
    """The state after a prefix: memory system (a copy) and what :func:`run_suffix` adds."""

    memory: MemorySystem
    stats: IterationStats  # the prefix's
    base: int  # the prefix's start (core cycle)
    clock: int  # the DRAM clock at the prefix's start
    release: int  # the last prefix transfer's completion: the barrier's gate
    array_free: int  # the end of the prefix's last array op (the array's next gate)
    tail: int  # the prefix's cycles after its last op (counted as its memory stall)
    ops: int  # the prefix's sizes (checked against each cut resumed from it)
    transfers: int
    transactions: int

    def resume_base(self) -> int:
        """Return the base a suffix starts from so that its first request follows
        :attr:`release` by one cycle, as in the whole run."""
        return self.release - _front_lead()


def _front_lead() -> int:
    """Return the first cycle a fresh DMA engine holds its first run in (started at 0)."""
    return int(engines.dma_take(engines.new_front(0), 0, 0, 0))


def run_prefix(prefix: Schedule, hw: HardwareConfig, memory: MemorySystem, *,
               base: int = 0) -> tuple[Execution, Checkpoint]:
    """Execute ``prefix`` on ``memory`` from ``base``; return its execution and checkpoint."""
    clock = memory.counters().clock
    execution = run_schedule(prefix, hw, memory, base=base)
    release = int(execution.transfer_done.max(initial=base))
    last_op = int(execution.op_end.max(initial=base))
    assert last_op < release, "a prefix op ends after the barrier releases"
    arrays = execution.op_end[prefix.op_unit == ARRAY]
    array_free = int(arrays[-1]) if arrays.size else base + 1
    return execution, Checkpoint(
        memory=copy.deepcopy(memory), stats=execution.stats, base=base, clock=clock,
        release=release, array_free=array_free, tail=execution.end - last_op,
        ops=prefix.op_unit.size, transfers=prefix.tr_write.size, transactions=prefix.n_transactions)


def run_suffix(cut: ScheduleCut, hw: HardwareConfig, checkpoint: Checkpoint
               ) -> tuple[Execution, IterationStats]:
    """Execute ``cut.suffix`` resumed from ``checkpoint`` (on a copy of its memory system),
    the checkpoint of a prefix equal to ``cut.prefix``.

    Return the suffix's own execution (its timeline in the whole run's cycles; its
    statistics count from its ``base``) and the statistics of the whole schedule.
    """
    assert (cut.ops, cut.transfers, cut.transactions) == (
        checkpoint.ops, checkpoint.transfers, checkpoint.transactions)
    suffix = cut.suffix
    base = checkpoint.resume_base()
    memory = copy.deepcopy(checkpoint.memory)
    clock = memory.counters().clock
    execution = run_schedule(suffix, hw, memory, base=base)
    assert execution.op_start.size == 0 or execution.op_start.min() > checkpoint.release
    s, p = execution.stats, checkpoint.stats
    # The array's wait before the suffix's first op, from the prefix's last array op.
    idle = base + 1 - checkpoint.array_free
    stall = p.memory_stall - checkpoint.tail + s.memory_stall + idle
    cycles = execution.end - checkpoint.base
    compute = p.compute + s.compute
    total = IterationStats(
        cycles=cycles, compute=compute, memory_stall=stall, other=cycles - compute - stall,
        bytes_read=p.bytes_read + s.bytes_read, bytes_written=p.bytes_written + s.bytes_written,
        transactions=p.transactions + s.transactions, row_hits=p.row_hits + s.row_hits,
        row_misses=p.row_misses + s.row_misses, row_conflicts=p.row_conflicts + s.row_conflicts,
        refreshes=p.refreshes + s.refreshes,
        dram_cycles=s.dram_cycles + clock - checkpoint.clock if s.transactions
        else p.dram_cycles)
    return execution, total
