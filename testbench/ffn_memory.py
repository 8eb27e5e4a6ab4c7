"""Memory agents that answer the FFN engine top's DRAM requests, on the core clock.

Both agents take requests with :meth:`offer` (``False`` = not accepted this core cycle: the
bench holds the request and retries) and report completed tags with :meth:`pop_due` — the
tags whose responses are due at or before a core cycle — and :meth:`next_due`, the earliest
core cycle at which :meth:`pop_due` may return something new (``None`` when nothing is
outstanding), so a bench only wakes when a request or a response is due.

* :class:`Gddr6Memory` — the cycle-accurate :class:`~colsim.sim.dram.model.DramModel` on the
  DRAM clock, with :class:`~colsim.sim.dram.model.ClockRatio` between the clocks. A request
  offered in core cycle ``c`` is submitted at DRAM cycle ``to_dram(c)`` (or the cycle after
  the previous acceptance); a request completing at DRAM cycle ``d`` is due in the first core
  cycle ``c`` with ``to_dram(c) > d``. It logs every acceptance and completion (DRAM cycles)
  and can hand its controller state to another executor (:meth:`Gddr6Memory.snapshot`).
* :class:`RandomLatencyMemory` — every request completes after a seeded random latency, and
  offers are refused with a given probability (back-pressure).
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.model import ClockRatio, DramModel


class Gddr6Memory:
    """The DRAM transaction model behind the core clock (``core_mhz``)."""

    def __init__(self, config: DramConfig, core_mhz: float) -> None:
        self.config = config
        self.ratio = ClockRatio(core_mhz, config.timing.clock_mhz)
        self.model = DramModel(config, record_commands=True)
        self._last_accept = -1
        self.accepted: list[tuple[Any, int]] = []  # (tag, DRAM cycle) per accepted request
        self.completed: list[tuple[Any, int]] = []  # (tag, DRAM cycle) per completion
        # Nothing can complete before this core cycle (None: nothing is outstanding).
        self._quiet_until: int | None = 0

    def warm_up(self) -> None:
        """Run one request through a throwaway model (loads the compiled kernels first)."""
        scratch = DramModel(self.config)
        scratch.submit(0, False, 0)
        scratch.drain()
        scratch.next_event_cycle()

    def offer(self, addr: int, is_write: bool, tag: Any, core_cycle: int) -> bool:
        """Offer one request in ``core_cycle``; return whether the DRAM accepted it."""
        dram_cycle = max(self.ratio.to_dram(core_cycle), self._last_accept + 1,
                         self.model.cycle)
        if not self.model.submit(addr, is_write, dram_cycle, tag):
            return False
        self._last_accept = dram_cycle
        self.accepted.append((tag, dram_cycle))
        self._quiet_until = self._first_due_cycle(core_cycle)  # it may come sooner
        return True

    def pop_due(self, core_cycle: int) -> list[Any]:
        """Return the tags of requests that completed before core cycle ``core_cycle``.

        The model is only advanced from the cycle :meth:`next_due` named on: before it no
        command issues, so nothing can complete (a bench may call this every cycle).
        """
        if self._quiet_until is None or core_cycle < self._quiet_until:
            return []
        target = self.ratio.to_dram(core_cycle)
        if target > self.model.cycle:
            self.model.advance(target)
        finished = self.model.pop_completed()
        self.completed.extend((completion.tag, completion.cycle) for completion in finished)
        done = [completion.tag for completion in finished]
        self._quiet_until = self._first_due_cycle(core_cycle)
        return done

    def next_due(self, core_cycle: int) -> int | None:
        """Return the first core cycle after ``core_cycle`` worth calling :meth:`pop_due` at."""
        if self._quiet_until is not None and core_cycle < self._quiet_until:
            return self._quiet_until  # nothing submitted since it was computed
        return self._first_due_cycle(core_cycle)

    def _first_due_cycle(self, core_cycle: int) -> int | None:
        """Return the first core cycle after ``core_cycle`` that starts after the earliest
        cycle a request may complete in (``None``: nothing outstanding)."""
        event = self.model.next_completion_cycle()
        if event is None:
            return None
        return max(core_cycle + 1, self.ratio.core_after(event))

    def snapshot(self):
        """Return a copy of the DRAM controller state (nothing may be in flight)."""
        return self.model.snapshot()

    def stats(self) -> dict[str, float]:
        """Return the DRAM statistics so far as a plain dict."""
        stats = self.model.stats()
        return {key: getattr(stats, key) for key in (
            "cycles", "reads", "writes", "row_hits", "row_misses", "row_conflicts",
            "refreshes", "bytes", "avg_read_latency", "bandwidth_utilisation")}


class RandomLatencyMemory:
    """Requests complete ``latency`` core cycles after acceptance, drawn from a seeded RNG."""

    def __init__(self, seed: int, low: int, high: int, refuse: float = 0.0) -> None:
        self._rng = random.Random(seed)
        self.low, self.high, self.refuse = low, high, refuse
        self._pending: list[tuple[int, int, Any]] = []
        self._order = 0

    def offer(self, addr: int, is_write: bool, tag: Any, core_cycle: int) -> bool:
        """Accept the request unless this cycle is drawn as back-pressure."""
        del addr, is_write  # the latency does not depend on them
        if self._rng.random() < self.refuse:
            return False
        due = core_cycle + self._rng.randint(self.low, self.high)
        heapq.heappush(self._pending, (due, self._order, tag))
        self._order += 1
        return True

    def pop_due(self, core_cycle: int) -> list[Any]:
        """Return the tags due at or before ``core_cycle``, oldest first."""
        out = []
        while self._pending and self._pending[0][0] <= core_cycle:
            out.append(heapq.heappop(self._pending)[2])
        return out

    def next_due(self, core_cycle: int) -> int | None:
        """Return the core cycle of the next completion (``None`` when none is pending)."""
        if not self._pending:
            return None
        return max(core_cycle + 1, self._pending[0][0])

    def warm_up(self) -> None:
        """Do nothing (nothing to load)."""

    def stats(self) -> dict[str, float]:
        """Return no statistics (the random memory has no DRAM model)."""
        return {}
