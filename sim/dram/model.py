"""Event path: one request at a time, for cocotb testbenches and interactive use.

:class:`DramModel` drives the same compiled controller as the batch path through
:meth:`~colsim.sim.dram.kernel.KernelState.offer` and :func:`~colsim.sim.dram.kernel.run`, so a
stream submitted here request by request gives exactly the cycles and statistics of
:func:`~colsim.sim.dram.simulate_batch` (tested). Data moves through a
:class:`~colsim.sim.dram.store.BackingStore`: a write stores its data when its WR issues, a
read returns the contents at its RD issue.
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from colsim.errors import ColsimError
from colsim.sim.dram import kernel as k
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.engine import DramStats, RequestTabler, stats_from_state
from colsim.sim.dram.store import BackingStore


@dataclass(frozen=True)
class Completion:
    """A finished request: ``cycle`` is when it completed (read data fully returned)."""

    tag: Any
    cycle: int
    addr: int
    is_write: bool
    data: bytes | None = None


class ClockRatio:
    """Convert between core-clock and DRAM-clock cycle numbers (both start at time 0)."""

    def __init__(self, core_mhz: float, dram_mhz: float) -> None:
        if core_mhz <= 0 or dram_mhz <= 0:
            raise ColsimError(f"clock frequencies must be positive, not {core_mhz}, {dram_mhz}")
        self.core_mhz, self.dram_mhz = core_mhz, dram_mhz
        dram = Fraction(dram_mhz).limit_denominator(10**6)
        dram_per_core = dram / Fraction(core_mhz).limit_denominator(10**6)
        # Integer arithmetic only (these run per request in the benches).
        self._num, self._den = dram_per_core.numerator, dram_per_core.denominator

    def to_dram(self, core_cycle: int) -> int:
        """Return the first DRAM cycle that starts at or after core cycle ``core_cycle``."""
        return -((-core_cycle * self._num) // self._den)

    def to_core(self, dram_cycle: int) -> int:
        """Return the first core cycle that starts at or after DRAM cycle ``dram_cycle``."""
        return -((-dram_cycle * self._den) // self._num)

    def core_after(self, dram_cycle: int) -> int:
        """Return the first core cycle ``c`` with ``to_dram(c) > dram_cycle``: the first that
        starts after DRAM cycle ``dram_cycle`` has begun."""
        return dram_cycle * self._den // self._num + 1


class DramModel:
    """Cycle-stepped DRAM for testbenches: submit requests, advance time, collect results.

    Cycle ``c`` runs as: requests submitted for ``c`` are offered to their queues (at most
    one per cycle; :meth:`submit` returns False when the queue is full — retry on a later
    cycle), then every channel schedules. :attr:`cycle` is the next cycle not yet run.
    """

    def __init__(
        self,
        config: DramConfig,
        *,
        store: BackingStore | None = None,
        record_commands: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self._tabler = RequestTabler(config)
        self._state = k.KernelState(config, record_commands=record_commands)
        slots = self._state.max_in_flight + 1  # and one being offered
        self._reqs = np.full((slots, k.R_FIELDS), -1, dtype=np.int64)
        self._free = list(range(slots - 1, -1, -1))
        self._live: dict[int, tuple[Any, int, bool, bytes | None]] = {}
        self._finished: list[tuple[int, int, Completion]] = []
        self._order = 0
        self._columns_seen = 0  # RD + WR issued when the live requests were last scanned
        self._read_latency = config.timing.read_latency

    @property
    def cycle(self) -> int:
        """The next DRAM cycle to be simulated."""
        return self._state.counters.clock

    def submit(
        self, addr: int, is_write: bool, cycle: int, tag: Any = None, data: bytes | None = None
    ) -> bool:
        """Offer a request at DRAM ``cycle`` (≥ :attr:`cycle`); return whether it was accepted.

        Writes carry ``data`` (one transaction's bytes) when a backing store is attached.
        """
        if cycle < self.cycle:
            raise ColsimError(f"`cycle` {cycle} is in the past (the model is at {self.cycle})")
        if cycle <= self._state.counters.last_accept:
            raise ColsimError(f"a request was already accepted at cycle {cycle}")
        if addr < 0:
            raise ColsimError(f"address must be non-negative, not {addr}")
        size = self.config.organization.transaction_bytes
        if self.store is not None and is_write and (data is None or len(data) != size):
            got = "no data" if data is None else f"{len(data)} bytes"
            raise ColsimError(f"write `data` must be one transaction of {size} bytes, not {got}")
        row = self._tabler.table(np.array([addr], dtype=np.uint64), np.array([is_write]),
                                 np.array([cycle], dtype=np.int64))
        self.advance(cycle)
        slot = self._free.pop()
        self._reqs[slot] = row[0]
        if not self._state.offer(self._reqs, slot, cycle):
            self._free.append(slot)
            return False
        self._live[slot] = (tag, addr, bool(is_write), data)
        return True

    def advance(self, to_cycle: int) -> None:
        """Simulate every cycle before ``to_cycle``."""
        # No stream (end 0): this path hands its requests over one by one with offer().
        while (status := self._state.run(self._reqs, 0, to_cycle)) == k.RUN_LOG_FULL:
            self._state.grow_log()
        if status == k.RUN_STALLED:
            raise k.stall_error(self.config, self._state)
        self._harvest()

    def _harvest(self) -> None:
        """Move requests whose last command issued to the finished list, moving their data."""
        if not self._live:
            return
        columns = self._state.counters.finished
        if columns == self._columns_seen:
            return
        self._columns_seen = columns
        slots = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
        done = slots[self._reqs[slots, k.R_DONE] >= 0]
        for slot in done[np.argsort(self._reqs[done, k.R_ISSUE], kind="stable")]:
            tag, addr, is_write, data = self._live.pop(int(slot))
            payload = None
            if self.store is not None:
                if is_write:
                    self.store.backdoor_write(addr, data)
                else:
                    size = self.config.organization.transaction_bytes
                    payload = self.store.backdoor_read(addr, size)
            cycle = int(self._reqs[slot, k.R_DONE])
            completion = Completion(tag, cycle, addr, is_write, payload)
            heapq.heappush(self._finished, (cycle, self._order, completion))
            self._order += 1
            self._free.append(int(slot))

    def pop_completed(self) -> list[Completion]:
        """Return (and forget) the requests that completed before :attr:`cycle`, in order."""
        out = []
        while self._finished and self._finished[0][0] < self.cycle:
            out.append(heapq.heappop(self._finished)[2])
        return out

    @property
    def outstanding(self) -> int:
        """Requests accepted whose completion has not been popped yet."""
        return len(self._live) + len(self._finished)

    def next_event_cycle(self) -> int | None:
        """Return the next cycle at which a command may issue or a request completes.

        The event takes effect once that cycle has been simulated (``advance(cycle + 1)``):
        a request completing at ``d`` is popped once :attr:`cycle` is past ``d``. ``None``
        when nothing is outstanding (refresh alone does not count as an event).
        """
        if not self.outstanding:
            return None
        candidates = [int(self._finished[0][0])] if self._finished else []
        if self._live:
            candidates.append(self._state.earliest_wake())
        return max(self.cycle, min(candidates))

    def next_completion_cycle(self) -> int | None:
        """Return a cycle before which no outstanding request can complete.

        A read completes the read latency after its RD issues and a write when its WR
        issues, and no command issues before :meth:`next_event_cycle`; so a bench may leave
        the model alone until then. ``None`` when nothing is outstanding.
        """
        if not self.outstanding:
            return None
        candidates = [int(self._finished[0][0])] if self._finished else []
        if self._live:
            issue = self.next_event_cycle()
            writes = any(is_write for _, _, is_write, _ in self._live.values())
            candidates.append(issue + (0 if writes else self._read_latency))
        return max(self.cycle, min(candidates))

    def drain(self) -> list[Completion]:
        """Run until every accepted request has completed; return the completions."""
        out: list[Completion] = []
        while (nxt := self.next_event_cycle()) is not None:
            self.advance(nxt + 1)
            out += self.pop_completed()
        return out

    def snapshot(self) -> k.KernelState:
        """Return a copy of the controller state (without its command log), nothing in flight.

        Another executor (the fast model) continues from it exactly where this model is.
        """
        if self.outstanding:
            raise ColsimError(f"cannot copy the state with {self.outstanding} requests in flight")
        state = copy.deepcopy(self._state)
        state.params[k.P_RECORD] = 0
        state.log = np.zeros((0, state.log.shape[1]), dtype=np.int64)
        return state

    def stats(self) -> DramStats:
        """Return the statistics so far (same definitions as the batch path)."""
        return stats_from_state(self.config, self._state)

    @property
    def command_log(self) -> np.ndarray:
        """Issued commands ``(cycle, channel, command, bank, row)`` (when recording)."""
        return self._state.command_log
