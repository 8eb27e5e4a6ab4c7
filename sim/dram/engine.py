"""Batch path: whole request streams through the compiled controller, with statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from colsim.errors import ColsimError
from colsim.sim.dram import kernel as k
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.mapping import decode_into, mapping_radices


def row_hit_rate(hits: int, misses: int, conflicts: int) -> float:
    """Return the share of requests that found their row open (0 when there were none)."""
    total = hits + misses + conflicts
    return hits / total if total else 0.0


@dataclass(frozen=True)
class DramStats:
    """What a simulation measured.

    ``cycles`` counts DRAM cycles from cycle 0 through the last completion; a read completes
    when its last data beat arrives (RD issue + CL + nBL), a write when its WR issues.
    Row hits / misses / conflicts classify each request once, when its first command issues.
    """

    cycles: int
    reads: int
    writes: int
    row_hits: int
    row_misses: int
    row_conflicts: int
    refreshes: int
    bytes: int
    avg_read_latency: float
    bandwidth_utilisation: float

    @property
    def hit_rate(self) -> float:
        """Share of requests that found their row open (0 when there were none)."""
        return row_hit_rate(self.row_hits, self.row_misses, self.row_conflicts)

    def as_dict(self) -> dict[str, float | int]:
        """Return the statistics (and the hit rate) as a plain dict."""
        return {**asdict(self), "hit_rate": self.hit_rate}


def stats_from_state(config: DramConfig, state: k.KernelState) -> DramStats:
    """Return the statistics accumulated in ``state``."""
    counters = state.counters
    reads, writes = counters.reads, counters.writes
    cycles = counters.last_done + 1
    busy = (reads + writes) * config.timing.bl
    capacity = cycles * config.organization.channels
    return DramStats(
        cycles=cycles,
        reads=reads,
        writes=writes,
        row_hits=counters.row_hits,
        row_misses=counters.row_misses,
        row_conflicts=counters.row_conflicts,
        refreshes=counters.refreshes,
        bytes=(reads + writes) * config.organization.transaction_bytes,
        avg_read_latency=float(counters.read_latency_sum) / reads if reads else 0.0,
        bandwidth_utilisation=busy / capacity if capacity else 0.0,
    )


@njit(cache=True)
def _fill_requests(addr, is_write, arrival, transaction_bytes, radices, banks_per_group):
    """Decode and tabulate a stream; return (table, first bad address, first early arrival)."""
    n = addr.shape[0]
    coords = np.empty((n, 5), dtype=np.int64)
    bad_addr = decode_into(addr, transaction_bytes, radices, coords)
    reqs = np.empty((n, k.R_FIELDS), dtype=np.int64)
    bad_arrival = -1
    for i in range(n):
        k.set_request(reqs, i, coords, i, banks_per_group, is_write[i], arrival[i])
        if bad_arrival < 0 and i > 0 and arrival[i] < arrival[i - 1]:
            bad_arrival = i
    return reqs, bad_addr, bad_arrival


class RequestTabler:
    """Turn request streams into the compiled kernels' request tables for one config."""

    def __init__(self, config: DramConfig) -> None:
        self.config = config
        self._radices = mapping_radices(config)
        self._tx = config.organization.transaction_bytes
        self._bpg = config.organization.banks_per_group

    def table(self, addr, is_write, arrival) -> np.ndarray:
        """Validate a stream and return its ``(n, R_FIELDS)`` table; errors name the value."""
        addr, is_write, arrival = np.asarray(addr), np.asarray(is_write), np.asarray(arrival)
        if addr.ndim != 1 or is_write.shape != addr.shape or arrival.shape != addr.shape:
            raise ColsimError(
                f"`addr`, `is_write` and `arrival` must be 1-D arrays of one length, not "
                f"shapes {addr.shape}, {is_write.shape}, {arrival.shape}"
            )
        if addr.dtype.kind not in "ui" and addr.size:
            raise ColsimError(f"`addr` must hold integers, not {addr.dtype}")
        if arrival.dtype.kind not in "ui" and arrival.size:
            raise ColsimError(f"`arrival` must hold integer cycles, not {arrival.dtype}")
        if addr.dtype.kind == "i" and addr.size and addr.min() < 0:
            raise ColsimError(f"`addr` must be non-negative, not {int(addr.min())}")
        reqs, bad_addr, bad_arrival = _fill_requests(
            addr.astype(np.uint64, copy=False), is_write.astype(np.bool_, copy=False),
            arrival.astype(np.int64, copy=False), self._tx, self._radices, self._bpg)
        if bad_addr >= 0:
            raise ColsimError(
                f"address {int(addr[bad_addr]):#x} is beyond the DRAM capacity of "
                f"{self.config.organization.capacity_bytes:#x} bytes"
            )
        if bad_arrival >= 0:
            raise ColsimError(
                f"`arrival` must be non-decreasing, but request {bad_arrival} arrives at "
                f"{int(arrival[bad_arrival])} after {int(arrival[bad_arrival - 1])}"
            )
        return reqs


def request_table(config: DramConfig, addr, is_write) -> np.ndarray:
    """Return a fresh request table (arrival 0) for the compiled kernels."""
    addr = np.asarray(addr)
    return RequestTabler(config).table(addr, is_write, np.zeros(addr.shape, dtype=np.int64))


class DramEngine:
    """Stateful compiled memory system: feed request streams chunk by chunk.

    :meth:`run` offers its requests in order (at most one per DRAM cycle, each no earlier
    than its ``arrival`` nor than the engine clock, waiting while its queue is full) and
    simulates until each has issued its last command, returning their completion cycles.
    Bank, timing, refresh and clock state carry over to the next call, whose arrivals should
    be non-decreasing and not earlier than :attr:`clock` (the cycle after the last issue);
    an earlier arrival is accepted from :attr:`clock` on, as if it had been held back.
    ``simulate_batch`` is one call on a fresh engine.
    """

    def __init__(self, config: DramConfig, *, record_commands: bool = False) -> None:
        self.config = config
        self._tabler = RequestTabler(config)
        self._state = k.KernelState(config, record_commands=record_commands)

    @property
    def clock(self) -> int:
        """The next DRAM cycle to be simulated."""
        return self._state.counters.clock

    def run(self, addr, is_write, arrival) -> np.ndarray:
        """Simulate a chunk of requests; return each one's completion cycle (int64)."""
        reqs = self._tabler.table(addr, is_write, arrival)
        state = self._state
        state.start_stream()
        while True:
            status = state.run(reqs, len(reqs), k.INF)
            if status == k.RUN_DONE:
                return reqs[:, k.R_DONE].copy()
            if status == k.RUN_DEADLOCK:  # pragma: no cover - would be a scheduler bug
                raise RuntimeError(f"DRAM scheduler deadlock at cycle {self.clock}")
            if status == k.RUN_STALLED:
                raise k.stall_error(self.config, state)
            state.grow_log()

    def stats(self) -> DramStats:
        """Return the statistics of everything simulated since construction or reset."""
        return stats_from_state(self.config, self._state)

    @property
    def command_log(self) -> np.ndarray:
        """Issued commands ``(cycle, channel, command, bank, row)`` (when recording)."""
        return self._state.command_log

    def reset(self) -> None:
        """Return to power-up state at cycle 0 with zeroed statistics."""
        self._state.reset()


@dataclass(frozen=True)
class BatchResult:
    """Per-request completion cycles and the run's statistics."""

    completion: np.ndarray
    stats: DramStats


def simulate_batch(config: DramConfig, addr, is_write, arrival) -> BatchResult:
    """Simulate one request stream on a fresh memory system.

    ``addr`` are byte addresses (uint64), ``is_write`` booleans, ``arrival`` the earliest
    DRAM cycle each request may be accepted (non-decreasing, in stream order).
    """
    engine = DramEngine(config)
    completion = engine.run(addr, is_write, arrival)
    return BatchResult(completion=completion, stats=engine.stats())
