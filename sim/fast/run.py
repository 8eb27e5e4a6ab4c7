"""Execute one schedule on the compiled co-simulation and report what it measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.sim.dram import kernel as k
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.engine import row_hit_rate
from colsim.sim.dram.mapping import mapping_radices
from colsim.sim.fast import cosim
from colsim.sim.fast.engines import EngineRules
from colsim.sim.schedule import Schedule

# Resident bytes the fast model adds per DRAM transaction of a schedule at its peak: the
# timeline's and the loop's per-transaction arrays (a request cap's queue stays within them),
# and where the DMA port interleaves channels or groups transactions into requests, its
# addresses and request numbers with their temporaries. Measured on full-size layers
# (``tests/sim/fast/test_memory_estimate.py``).
EXECUTION_BYTES_PER_TRANSACTION = 48
INTERLEAVE_BYTES_PER_TRANSACTION = 56


def execution_bytes(hw: HardwareConfig) -> int:
    """Return the bytes per transaction :func:`run_schedule` adds to a schedule on ``hw``
    (the ``executor_bytes`` of :func:`~colsim.sim.schedule.build_schedule`)."""
    interleaved = EngineRules.from_hw(hw).interleave is not None
    return EXECUTION_BYTES_PER_TRANSACTION + (INTERLEAVE_BYTES_PER_TRANSACTION if interleaved
                                              else 0)


@dataclass(frozen=True)
class IterationStats:
    """Cycles and DRAM behaviour of one layer-iteration (core cycles unless named)."""

    cycles: int  # total core cycles from start until the last op and transfer finished
    compute: int  # array streaming cycles (compute-busy)
    memory_stall: int  # array idle waiting for data, plus the tail waiting for writes
    other: int  # the rest: array fill/drain overhead, SIMD-bound time, result latency
    bytes_read: int
    bytes_written: int
    transactions: int
    row_hits: int
    row_misses: int
    row_conflicts: int
    refreshes: int
    dram_cycles: int  # DRAM-clock cycles until the last completion

    @property
    def hit_rate(self) -> float:
        """Return the share of transactions that found their row open."""
        return row_hit_rate(self.row_hits, self.row_misses, self.row_conflicts)

    def as_dict(self) -> dict[str, float | int]:
        """Return the fields and the hit rate as a plain dict."""
        return {**asdict(self), "hit_rate": self.hit_rate}

    def scaled(self, factor: int) -> IterationStats:
        """Return these statistics repeated ``factor`` times back to back."""
        return IterationStats(**{key: value * factor for key, value in asdict(self).items()})

    def __add__(self, other: IterationStats) -> IterationStats:
        mine, theirs = asdict(self), asdict(other)
        return IterationStats(**{key: mine[key] + theirs[key] for key in mine})


def clock_ratio(hw: HardwareConfig, dram: DramConfig) -> tuple[int, int]:
    """Return ``(num, den)`` with ``num/den = f_DRAM / f_core`` exactly (for MHz figures)."""
    ratio = Fraction(str(dram.timing.clock_mhz)) / Fraction(str(hw.clock.core_mhz))
    return ratio.numerator, ratio.denominator


@dataclass(frozen=True)
class Execution:
    """One executed schedule: its statistics, end time and timeline (core cycles)."""

    stats: IterationStats
    end: int  # core time when the last op finished and the last transfer completed
    op_start: np.ndarray  # start time of every op
    op_end: np.ndarray  # finish time of every op
    transfer_done: np.ndarray  # completion time of every transfer (stream order)
    accepted: np.ndarray  # DRAM cycle each transaction was accepted in (issue order)
    completed: np.ndarray  # DRAM cycle each transaction completed in (issue order)
    array_busy: int  # cycles the array ran ops (streaming and fill/drain), not stalled
    array_stall: int  # cycles the array waited for operands, a drain or a queue entry
    simd_busy: int  # cycles the SIMD unit ran ops


class MemorySystem:
    """The DRAM controller state a sequence of schedules runs against.

    Fresh on creation, or continuing from ``state`` (e.g. another executor's
    :meth:`~colsim.sim.dram.model.DramModel.snapshot`).
    """

    def __init__(self, config: DramConfig, state: k.KernelState | None = None) -> None:
        self.config = config
        self.state = k.KernelState(config) if state is None else state
        # Request records are reused as requests finish: one row for every request that can
        # be unfinished at once, and one for the request being offered.
        self.records = np.full((self.state.max_in_flight + 1, k.R_FIELDS), -1, dtype=np.int64)

    def reset(self) -> None:
        """Return to power-up: banks idle, refresh timer at its start, cycle 0."""
        self.state.reset()

    def counters(self) -> k.Counters:
        """Return the kernel's global counters as they are now."""
        return self.state.counters.snapshot()


def run_schedule(
    schedule: Schedule,
    hw: HardwareConfig,
    memory: MemorySystem,
    *,
    base: int = 0,
) -> Execution:
    """Execute ``schedule`` from core cycle ``base`` (the engines' first running cycle).

    The memory system keeps its state (open rows, refresh timer, clock) for the next call.
    """
    config = memory.config
    org = config.organization
    if schedule.n_transactions and int(schedule.addr.max()) >= org.capacity_bytes:
        raise ColsimError(
            f"layer {schedule.layer.name!r} needs {int(schedule.addr.max()):#x} bytes of DRAM, "
            f"beyond its capacity of {org.capacity_bytes:#x}"
        )
    num, den = clock_ratio(hw, config)
    before = memory.counters()
    state = memory.state
    try:
        timeline = cosim.cosimulate(
            state.arrays(memory.records), cosim.schedule_arrays(schedule, EngineRules.from_hw(hw),
                                                             hw.systolic.cols),
            org.transaction_bytes, mapping_radices(config), org.banks_per_group, num, den, base,
        )
    except k.Stalled:
        raise k.stall_error(config, state) from None
    acc, op_start, op_end, tr_done = (timeline.acc, timeline.op_start, timeline.op_end,
                                      timeline.tr_done)
    end = int(acc[cosim.X_END])
    after = state.counters
    total = end - base
    last_op = int(op_end.max(initial=base))
    tail = end - last_op  # after the last op: only drains remain
    stall = int(acc[cosim.X_ARRAY_STALL]) + tail
    compute = int(acc[cosim.X_ARRAY_BUSY])
    written = int(schedule.is_write.sum())
    stats = IterationStats(
        cycles=total,
        compute=compute,
        memory_stall=stall,
        other=total - compute - stall,
        bytes_read=(schedule.n_transactions - written) * schedule.transaction_bytes,
        bytes_written=written * schedule.transaction_bytes,
        transactions=schedule.n_transactions,
        row_hits=after.row_hits - before.row_hits,
        row_misses=after.row_misses - before.row_misses,
        row_conflicts=after.row_conflicts - before.row_conflicts,
        refreshes=after.refreshes - before.refreshes,
        dram_cycles=int(acc[cosim.X_DRAM_END]) - before.clock + 1
        if schedule.n_transactions else 0,
    )
    return Execution(stats=stats, end=end, op_start=op_start, op_end=op_end,
                     transfer_done=tr_done, accepted=timeline.tx_accept,
                     completed=timeline.tx_done,
                     array_busy=compute + int(acc[cosim.X_ARRAY_OVERHEAD]),
                     array_stall=int(acc[cosim.X_ARRAY_STALL] + acc[cosim.X_ARRAY_RUN_STALL]),
                     simd_busy=int(acc[cosim.X_SIMD_BUSY]))
