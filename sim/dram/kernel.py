"""The compiled memory controller: per-channel FR-FCFS scheduling over bank state machines.

All state lives in a few integer arrays, passed to the compiled functions as one bundle
(:meth:`KernelState.arrays`), so a simulation can stop at any cycle boundary and resume.
Every driver uses the same small public surface:

* :meth:`KernelState.offer` hands one request to its channel's queue (the event path's
  submit);
* :func:`run` is the one offer loop: it offers the requests of a stream in order, at most one
  per cycle, and steps the channels to a cycle (the batch path runs a whole stream in one
  call, the fast model's co-simulation one cycle per call, the event path only steps);
* :func:`step` simulates one cycle alone (a driver that visits only the cycles
  :func:`next_cycle` names, as the co-simulation does);
* :func:`next_cycle` says when anything can next happen; :attr:`KernelState.counters` (and
  :func:`clock`, :func:`next_row` and :func:`requests_finished` in compiled code) read the
  global counters; :func:`set_request` writes a request record, :func:`start_stream` points
  the stream at one.

Per DRAM cycle ``c`` the order is: the front end offers at most one request (accepted when
its channel's read or write queue has room), then every channel runs :func:`_tick`:

1. due refreshes join the channel's refresh queue (every ``tREFI``, or ``tREFI / banks``
   per bank);
2. the oldest *ready* request in the active buffer (rows already opened for it) issues;
3. else a pending refresh issues its next command (PREA / PRE while banks are open, then
   REFab / REFpb) when ready, and nothing else issues while a refresh waits;
4. else the write-drain mode is updated from the queue fill levels and the oldest ready
   request of the read (or write) queue issues its next command (ACT, PRE, RD or WR);
5. a closing command (PRE, PREA) is held back while a request in the active buffer still
   needs that bank.

A channel that cannot issue computes the earliest cycle anything could become ready and
sleeps until then (or until a request or refresh arrives), which makes idle and stalled
cycles free without changing a single issue cycle.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from colsim.compat import NUMBA_WITHOUT_RUNTIME
from colsim.errors import ColsimError
from colsim.limits import check_memory
from colsim.numba_cache import key_caches_on_sources
from colsim.sim.dram.commands import (
    ACT,
    BANKGROUP,
    CHANNEL,
    COMMAND_NAMES,
    PRE,
    PREA,
    RD,
    REFAB,
    REFPB,
    WR,
    constraint_table,
)
from colsim.sim.dram.config import DramConfig

# The kernels never allocate, so they are compiled without numba's reference-counted runtime
# (``_nrt=False``): passing the state arrays between the small functions below then costs no
# atomic increments, which doubled throughput. ``inline="always"`` inlines every function
# into its callers at numba's level (the same code, without a call passing ten arrays by
# value per function), which more than halved the time per request again (460 -> 185 ns for a
# sequential read stream, 1.6 -> 0.8 us for random addresses, measured); it also inlines the
# public functions into compiled drivers. ``cache=True`` keeps the machine code on disk, keyed
# on the sources it is built from (:func:`~colsim.numba_cache.key_caches_on_sources`, last line).
compiled = njit(cache=True, error_model="numpy", inline="always", **NUMBA_WITHOUT_RUNTIME)

INF = np.int64(1 << 62)
NUM_COMMANDS = len(COMMAND_NAMES)

# Parameter vector P.
(P_CHANNELS, P_BANKGROUPS, P_BANKS_PER_GROUP, P_BANKS, P_READ_QUEUE, P_WRITE_QUEUE,
 P_ACTIVE_QUEUE, P_WRITE_HIGH, P_WRITE_LOW, P_REFRESH, P_REFRESH_INTERVAL, P_READ_LATENCY,
 P_FAW, P_RECORD, P_EVERY_CYCLE, P_STALL_BOUND, P_SIZE) = range(17)
REFRESH_OFF, REFRESH_ALL_BANK, REFRESH_PER_BANK = range(3)

# Per-channel state columns of ``chs``.
(S_WAKE, S_WRITE_MODE, S_REFRESH_PENDING, S_NEXT_REFRESH, S_REFRESH_BANK, S_ACTS,
 S_SCAN, S_BLOCKED, S_CAND_VALID, S_CAND_QUEUE, S_CAND_POS, S_CAND_CMD, S_CAND_AT) = range(13)
S_QUEUE_LEN = 13  # three entries: read, write, active
S_FAW = 16  # four entries: issue cycles of the last four ACTs (ring)
S_OPEN_ROW = 20  # one entry per bank: open row or -1
Q_READ, Q_WRITE, Q_ACTIVE = range(3)

# Request record columns of ``reqs``.
(R_CHANNEL, R_BANKGROUP, R_BANK, R_ROW, R_WRITE, R_ARRIVAL, R_ACCEPT, R_ISSUE, R_DONE,
 R_CLASSIFIED, R_FIELDS) = range(11)

# Global counters ``g``.
(G_CLOCK, G_LAST_ACCEPT, G_NEXT, G_IN_FLIGHT, G_LOG_LEN, G_READS, G_WRITES, G_ROW_HITS,
 G_ROW_MISSES, G_ROW_CONFLICTS, G_REFRESHES, G_READ_LATENCY_SUM, G_LAST_DONE, G_SIZE) = range(14)

LOG_FIELDS = 5  # cycle, channel, command, bank, row

RUN_DONE, RUN_LOG_FULL, RUN_DEADLOCK, RUN_STALLED = range(4)

# The bundle is a plain tuple in this order, which compiled code names with this view (numba
# types a namedtuple argument at the Python boundary slowly: 2.7 µs a call, measured, against
# 0.9 µs for the tuple).
KernelArrays = namedtuple(
    "KernelArrays", ["params", "table", "counts", "ready", "chs", "memo", "queues", "g", "reqs",
                     "log"])


class Counters:
    """A read-only view of a kernel's global counters (live unless taken by :meth:`snapshot`)."""

    __slots__ = ("_g",)

    def __init__(self, g: np.ndarray) -> None:
        self._g = g

    def snapshot(self) -> Counters:
        """Return a view of a copy: the counters as they are now."""
        return Counters(self._g.copy())

    @property
    def clock(self) -> int:
        """The next DRAM cycle to be simulated."""
        return int(self._g[G_CLOCK])

    @property
    def last_accept(self) -> int:
        """The cycle the last request was accepted at (-1: none yet)."""
        return int(self._g[G_LAST_ACCEPT])

    @property
    def reads(self) -> int:
        """Reads whose RD issued."""
        return int(self._g[G_READS])

    @property
    def writes(self) -> int:
        """Writes whose WR issued."""
        return int(self._g[G_WRITES])

    @property
    def finished(self) -> int:
        """Requests whose last command (RD or WR) issued."""
        return int(self._g[G_READS] + self._g[G_WRITES])

    @property
    def row_hits(self) -> int:
        """Requests whose first command found their row open."""
        return int(self._g[G_ROW_HITS])

    @property
    def row_misses(self) -> int:
        """Requests whose first command found their bank closed."""
        return int(self._g[G_ROW_MISSES])

    @property
    def row_conflicts(self) -> int:
        """Requests whose first command found another row open."""
        return int(self._g[G_ROW_CONFLICTS])

    @property
    def refreshes(self) -> int:
        """Refresh commands (REFab or REFpb) issued."""
        return int(self._g[G_REFRESHES])

    @property
    def read_latency_sum(self) -> int:
        """Sum over finished reads of completion minus acceptance cycle."""
        return int(self._g[G_READ_LATENCY_SUM])

    @property
    def last_done(self) -> int:
        """The latest completion cycle so far (-1: none yet)."""
        return int(self._g[G_LAST_DONE])


class Stalled(Exception):
    """Raised by compiled drivers when :func:`run` returns ``RUN_STALLED``; see
    :func:`stall_error` for the message a user sees."""


def stall_bound(config: DramConfig) -> int:
    """Return the most DRAM cycles the controller may go without accepting or finishing a
    request while requests are in flight (more means it can never finish: ``RUN_STALLED``).

    Generous by construction: every queue slot of a channel, plus one, waiting in turn for
    the sum of all timing parameters and a refresh interval.
    """
    org, ctl, timing = config.organization, config.controller, config.timing
    slots = ctl.read_queue + ctl.write_queue + org.banks + 1
    latencies = sum(value for value in vars(timing).values()
                    if isinstance(value, int) and not isinstance(value, bool))
    return slots * (latencies + timing.refi)


def stall_error(config: DramConfig, state: KernelState) -> ColsimError:
    """Return the one-line error for a run that stopped with ``RUN_STALLED``."""
    counters, t = state.counters, config.timing
    return ColsimError(
        f"the DRAM model made no progress for {stall_bound(config):,} cycles up to cycle "
        f"{counters.clock:,} ({int(state.g[G_IN_FLIGHT])} requests in flight, refresh "
        f"{config.controller.refresh}, `timing.refi` {t.refi}, `timing.rfc` {t.rfc}): "
        "this configuration cannot serve its requests"
    )


def state_bytes(config: DramConfig) -> int:
    """Return the bytes :class:`KernelState` and a full request table take for ``config``."""
    org, ctl = config.organization, config.controller
    queue = max(ctl.read_queue, ctl.write_queue, org.banks)
    per_channel = ((1 + org.bankgroups + org.banks) * NUM_COMMANDS  # ready
                   + S_OPEN_ROW + org.banks  # chs
                   + 3 * queue  # queues
                   + 2 * org.banks * NUM_COMMANDS  # memo
                   + (ctl.read_queue + ctl.write_queue + org.banks) * R_FIELDS)  # requests
    return 8 * org.channels * per_channel


class KernelState:
    """All mutable controller and bank state of one memory system, as int64 arrays."""

    def __init__(
        self, config: DramConfig, *, record_commands: bool = False, every_cycle: bool = False
    ) -> None:
        """Allocate power-up state; ``every_cycle`` ticks every channel on every cycle.

        ``every_cycle`` is the literal cycle-by-cycle controller (slow); tests use it to prove
        that sleeping through cycles where nothing can issue never changes a result.
        """
        org, ctl, timing = config.organization, config.controller, config.timing
        check_memory(f"the DRAM model's state ({org.channels:,} channels of {org.banks:,} "
                     f"banks, queues of {ctl.read_queue:,} + {ctl.write_queue:,})",
                     state_bytes(config))
        self.params = np.zeros(P_SIZE, dtype=np.int64)
        p = self.params
        p[P_CHANNELS], p[P_BANKGROUPS] = org.channels, org.bankgroups
        p[P_BANKS_PER_GROUP], p[P_BANKS] = org.banks_per_group, org.banks
        p[P_READ_QUEUE], p[P_WRITE_QUEUE], p[P_ACTIVE_QUEUE] = (
            ctl.read_queue, ctl.write_queue, org.banks)
        # Enter drain when len > high × size, leave when len < low × size (integer forms).
        p[P_WRITE_HIGH] = int(np.floor(ctl.write_high_watermark * ctl.write_queue))
        p[P_WRITE_LOW] = int(np.ceil(ctl.write_low_watermark * ctl.write_queue))
        p[P_REFRESH] = {"off": REFRESH_OFF, "all-bank": REFRESH_ALL_BANK,
                        "per-bank": REFRESH_PER_BANK}[ctl.refresh]
        per_bank = ctl.refresh == "per-bank"
        p[P_REFRESH_INTERVAL] = max(1, timing.refi // org.banks) if per_bank else timing.refi
        p[P_READ_LATENCY], p[P_FAW] = timing.read_latency, timing.faw
        p[P_RECORD] = int(record_commands)
        p[P_EVERY_CYCLE] = int(every_cycle)
        p[P_STALL_BOUND] = stall_bound(config)
        self.table, self.counts = constraint_table(timing)
        self.queue_size = max(ctl.read_queue, ctl.write_queue, org.banks)
        self.reset()

    def reset(self) -> None:
        """Return to power-up: all banks closed, queues empty, cycle 0, counters zero."""
        channels, banks = int(self.params[P_CHANNELS]), int(self.params[P_BANKS])
        nodes = 1 + int(self.params[P_BANKGROUPS]) + banks
        self.ready = np.zeros((channels, nodes, len(self.counts)), dtype=np.int64)
        self.chs = np.zeros((channels, S_OPEN_ROW + banks), dtype=np.int64)
        self.chs[:, S_WAKE] = INF
        self.chs[:, S_NEXT_REFRESH] = self.params[P_REFRESH_INTERVAL]
        self.chs[:, S_OPEN_ROW:] = -1
        self.queues = np.zeros((channels, 3, self.queue_size), dtype=np.int64)
        # Per-scan memo of ready cycles, keyed by (bank, command): (scan stamp, cycle).
        self.memo = np.zeros((channels, banks * len(self.counts), 2), dtype=np.int64)
        self.g = np.zeros(G_SIZE, dtype=np.int64)
        self.g[G_LAST_ACCEPT] = -1
        self.g[G_LAST_DONE] = -1
        self.counters = Counters(self.g)  # live view of the global counters
        self.log = np.zeros((1024 if self.params[P_RECORD] else 0, LOG_FIELDS), dtype=np.int64)

    def arrays(self, reqs: np.ndarray) -> tuple:
        """Return the bundle the compiled functions take, with request table ``reqs``."""
        return (self.params, self.table, self.counts, self.ready, self.chs, self.memo,
                self.queues, self.g, reqs, self.log)

    # From Python, the methods below pass the arrays one by one: numba types ten array
    # arguments faster than one tuple of them (0.6 µs against 0.9 µs a call, measured), which
    # the event path pays per request.

    def offer(self, reqs: np.ndarray, r: int, c: int) -> bool:
        """Offer row ``r`` of ``reqs`` at cycle ``c``; return whether it was accepted.

        It is refused before its arrival cycle, when a request was already accepted at
        ``c``, and while its channel's read (or write) queue is full.
        """
        return _offer(self.params, self.ready, self.chs, self.queues, self.g, reqs, r, c)

    def run(self, reqs: np.ndarray, end: int, stop: int) -> int:
        """Call :func:`run` on this state with request table ``reqs``."""
        return _run(*self.arrays(reqs), end, stop)

    def earliest_wake(self) -> int:
        """Return the earliest cycle a channel wakes at or refreshes (``INF``: none)."""
        return int(_earliest_wake(self.params, self.chs))

    @property
    def max_in_flight(self) -> int:
        """The most requests that can be accepted and unfinished at once.

        Every such request sits in its channel's read queue, write queue or active buffer.
        """
        p = self.params
        return int(p[P_CHANNELS] * (p[P_READ_QUEUE] + p[P_WRITE_QUEUE] + p[P_ACTIVE_QUEUE]))

    def start_stream(self) -> None:
        """Make row 0 of the request table the next that :func:`run` offers (a new stream)."""
        self.g[G_NEXT] = 0

    def grow_log(self) -> None:
        """Double the command-log capacity (the kernels stop when it is nearly full)."""
        self.log = np.concatenate([self.log, np.zeros_like(self.log)])

    @property
    def command_log(self) -> np.ndarray:
        """Issued commands so far, one row ``(cycle, channel, command, bank, row)`` each."""
        return self.log[: self.g[G_LOG_LEN]].copy()


@compiled
def _command_for(chs, reqs, ch, r):
    """Return the next command request ``r`` needs given its bank's state."""
    open_row = chs[ch, S_OPEN_ROW + reqs[r, R_BANK]]
    if open_row == reqs[r, R_ROW]:
        return WR if reqs[r, R_WRITE] else RD
    if open_row < 0:
        return ACT
    return PRE


@compiled
def _ready_at(params, ready, chs, ch, cmd, bg, bank):
    """Return the first cycle ``cmd`` may issue to (``bg``, ``bank``) of channel ``ch``."""
    nbg = params[P_BANKGROUPS]
    t = ready[ch, 0, cmd]
    if bg >= 0 and ready[ch, 1 + bg, cmd] > t:
        t = ready[ch, 1 + bg, cmd]
    if bank >= 0 and ready[ch, 1 + nbg + bank, cmd] > t:
        t = ready[ch, 1 + nbg + bank, cmd]
    if cmd == ACT and chs[ch, S_ACTS] >= 4:
        oldest = chs[ch, S_FAW + chs[ch, S_ACTS] % 4] + params[P_FAW]
        if oldest > t:
            t = oldest
    elif cmd == PREA:
        for b in range(params[P_BANKS]):
            if chs[ch, S_OPEN_ROW + b] >= 0 and ready[ch, 1 + nbg + b, PRE] > t:
                t = ready[ch, 1 + nbg + b, PRE]
    return t


@compiled
def _best(params, ready, chs, memo, queues, reqs, ch, qi, c):
    """Return (position, command) of the oldest request of queue ``qi`` ready at ``c``.

    Position is -1 when none is ready; then the last three values are the earliest future
    ready cycle and the (position, command) of the oldest request ready then — the winner at
    that cycle unless an issue or arrival changes the state first. When a request is ready,
    the third value bounds the future ready cycles of the requests older than it.
    """
    best, best_cmd, best_accept = -1, -1, INF
    wake, wake_pos, wake_cmd = INF, -1, -1
    stamp = chs[ch, S_SCAN] + 1
    chs[ch, S_SCAN] = stamp
    for pos in range(chs[ch, S_QUEUE_LEN + qi]):
        r = queues[ch, qi, pos]
        cmd = _command_for(chs, reqs, ch, r)
        key = reqs[r, R_BANK] * NUM_COMMANDS + cmd  # state is fixed during one scan
        if memo[ch, key, 0] == stamp:
            t = memo[ch, key, 1]
        else:
            t = _ready_at(params, ready, chs, ch, cmd, reqs[r, R_BANKGROUP], reqs[r, R_BANK])
            memo[ch, key, 0], memo[ch, key, 1] = stamp, t
        if t > c:
            if t < wake:
                wake, wake_pos, wake_cmd = t, pos, cmd
        elif reqs[r, R_ACCEPT] < best_accept:
            best, best_cmd, best_accept = pos, cmd, reqs[r, R_ACCEPT]
            if qi != Q_ACTIVE:
                break  # read/write queues are in acceptance order: the first ready wins
    return best, best_cmd, wake, wake_pos, wake_cmd


@compiled
def _closing_blocked(chs, queues, reqs, ch, cmd, bank):
    """Return whether PRE/PREA would close a bank an active-buffer request still needs."""
    if cmd != PRE and cmd != PREA:
        return False
    for pos in range(chs[ch, S_QUEUE_LEN + Q_ACTIVE]):
        if cmd == PREA or reqs[queues[ch, Q_ACTIVE, pos], R_BANK] == bank:
            return True
    return False


@compiled
def _issue(params, table, counts, ready, chs, g, log, ch, c, cmd, bg, bank, row):
    """Issue ``cmd`` at cycle ``c``: advance timing windows and bank/refresh state."""
    nbg = params[P_BANKGROUPS]
    for k in range(counts[cmd]):
        level, following, t = table[cmd, k, 0], table[cmd, k, 1], c + table[cmd, k, 2]
        node = 0 if level == CHANNEL else (1 + bg if level == BANKGROUP else 1 + nbg + bank)
        if ready[ch, node, following] < t:
            ready[ch, node, following] = t
    if cmd == ACT:
        chs[ch, S_FAW + chs[ch, S_ACTS] % 4] = c
        chs[ch, S_ACTS] += 1
        chs[ch, S_OPEN_ROW + bank] = row
    elif cmd == PRE:
        chs[ch, S_OPEN_ROW + bank] = -1
    elif cmd == PREA:
        chs[ch, S_OPEN_ROW:] = -1
    elif cmd in (REFAB, REFPB):
        chs[ch, S_REFRESH_PENDING] -= 1
        g[G_REFRESHES] += 1
        if cmd == REFPB:
            chs[ch, S_REFRESH_BANK] = (chs[ch, S_REFRESH_BANK] + 1) % params[P_BANKS]
    chs[ch, S_CAND_VALID] = 0
    if params[P_RECORD]:
        n = g[G_LOG_LEN]
        log[n, 0], log[n, 1], log[n, 2], log[n, 3], log[n, 4] = c, ch, cmd, bank, row
        g[G_LOG_LEN] = n + 1
    chs[ch, S_WAKE] = c + 1


@compiled
def _remove(chs, queues, ch, qi, pos):
    """Remove entry ``pos`` of queue ``qi`` keeping the others in order."""
    n = chs[ch, S_QUEUE_LEN + qi]
    for k in range(pos, n - 1):
        queues[ch, qi, k] = queues[ch, qi, k + 1]
    chs[ch, S_QUEUE_LEN + qi] = n - 1


@compiled
def _issue_request(params, table, counts, ready, chs, queues, g, reqs, log, ch, qi, pos, cmd,
                   c):
    """Issue the next command of the request at ``pos`` of queue ``qi``; 1 if it finished."""
    r = queues[ch, qi, pos]
    if reqs[r, R_CLASSIFIED] == 0:  # first command: row hit, miss (closed) or conflict
        reqs[r, R_CLASSIFIED] = 1
        if cmd in (RD, WR):
            g[G_ROW_HITS] += 1
        elif cmd == ACT:
            g[G_ROW_MISSES] += 1
        else:
            g[G_ROW_CONFLICTS] += 1
    bg, bank = reqs[r, R_BANKGROUP], reqs[r, R_BANK]
    _issue(params, table, counts, ready, chs, g, log, ch, c, cmd, bg, bank, reqs[r, R_ROW])
    if cmd in (RD, WR):
        done = c + params[P_READ_LATENCY] if cmd == RD else c
        reqs[r, R_ISSUE], reqs[r, R_DONE] = c, done
        if cmd == RD:
            g[G_READS] += 1
            g[G_READ_LATENCY_SUM] += done - reqs[r, R_ACCEPT]
        else:
            g[G_WRITES] += 1
        g[G_LAST_DONE] = max(g[G_LAST_DONE], done)
        g[G_IN_FLIGHT] -= 1
        _remove(chs, queues, ch, qi, pos)
        return 1
    active = chs[ch, S_QUEUE_LEN + Q_ACTIVE]
    if cmd == ACT and qi != Q_ACTIVE and active < params[P_ACTIVE_QUEUE]:
        _remove(chs, queues, ch, qi, pos)
        queues[ch, Q_ACTIVE, active] = r
        chs[ch, S_QUEUE_LEN + Q_ACTIVE] = active + 1
    return 0


@compiled
def _refresh_target(params, chs, ch):
    """Return (command, bank) that the oldest pending refresh of channel ``ch`` needs next."""
    if params[P_REFRESH] == REFRESH_PER_BANK:
        bank = chs[ch, S_REFRESH_BANK]
        return (PRE if chs[ch, S_OPEN_ROW + bank] >= 0 else REFPB), bank
    for b in range(params[P_BANKS]):
        if chs[ch, S_OPEN_ROW + b] >= 0:
            return PREA, -1
    return REFAB, -1


@compiled
def _write_mode_after(params, chs, ch):
    """Return the write-drain mode the watermarks (with hysteresis) select now."""
    writes, reads = chs[ch, S_QUEUE_LEN + Q_WRITE], chs[ch, S_QUEUE_LEN + Q_READ]
    if chs[ch, S_WRITE_MODE] == 0:
        return 1 if writes > params[P_WRITE_HIGH] or reads == 0 else 0
    return 0 if writes < params[P_WRITE_LOW] and reads != 0 else 1


@compiled
def _tick(params, table, counts, ready, chs, memo, queues, g, reqs, log, ch, c):
    """Run cycle ``c`` of channel ``ch``; return 1 when a request's last command issued."""
    if params[P_REFRESH] != REFRESH_OFF:
        while chs[ch, S_NEXT_REFRESH] <= c:
            chs[ch, S_REFRESH_PENDING] += 1
            chs[ch, S_NEXT_REFRESH] += params[P_REFRESH_INTERVAL]
    pos, cmd, wake, _pos, _cmd = _best(params, ready, chs, memo, queues, reqs, ch, Q_ACTIVE, c)
    if pos >= 0:
        return _issue_request(params, table, counts, ready, chs, queues, g, reqs, log, ch,
                              Q_ACTIVE, pos, cmd, c)
    if chs[ch, S_REFRESH_PENDING] > 0:
        cmd, bank = _refresh_target(params, chs, ch)
        bg = bank // params[P_BANKS_PER_GROUP] if bank >= 0 else -1
        t = _ready_at(params, ready, chs, ch, cmd, bg, bank)
        if t > c:
            chs[ch, S_WAKE] = min(wake, t)
        elif _closing_blocked(chs, queues, reqs, ch, cmd, bank):
            chs[ch, S_WAKE] = wake
        else:
            _issue(params, table, counts, ready, chs, g, log, ch, c, cmd, bg, bank, -1)
        return 0
    chs[ch, S_WRITE_MODE] = _write_mode_after(params, chs, ch)
    qi = Q_WRITE if chs[ch, S_WRITE_MODE] else Q_READ
    pos = chs[ch, S_CAND_POS]
    cached = (chs[ch, S_CAND_VALID] and chs[ch, S_CAND_AT] == c and chs[ch, S_CAND_QUEUE] == qi
              and not params[P_EVERY_CYCLE] and not _closing_blocked(
                  chs, queues, reqs, ch, chs[ch, S_CAND_CMD], reqs[queues[ch, qi, pos], R_BANK]))
    if cached:
        # The previous scan already found this cycle's winner and nothing changed since.
        cmd, later = chs[ch, S_CAND_CMD], INF
    else:
        pos, cmd, later, later_pos, later_cmd = _best(params, ready, chs, memo, queues, reqs,
                                                      ch, qi, c)
        chs[ch, S_CAND_VALID] = pos < 0 and later < INF
        chs[ch, S_CAND_QUEUE], chs[ch, S_CAND_POS] = qi, later_pos
        chs[ch, S_CAND_CMD], chs[ch, S_CAND_AT] = later_cmd, later
    if pos >= 0:
        bank = reqs[queues[ch, qi, pos], R_BANK]
        if not _closing_blocked(chs, queues, reqs, ch, cmd, bank):
            return _issue_request(params, table, counts, ready, chs, queues, g, reqs, log, ch,
                                  qi, pos, cmd, c)
    chs[ch, S_BLOCKED] = pos >= 0  # a ready request waits for the active buffer
    if pos >= 0:
        chs[ch, S_CAND_VALID] = 0
    chs[ch, S_WAKE] = min(wake, later)
    return 0


@compiled
def _tick_channels(params, table, counts, ready, chs, memo, queues, g, reqs, log, c):
    """Tick every channel that has something to do at cycle ``c``; return finished count."""
    finished = 0
    refresh = params[P_REFRESH] != REFRESH_OFF
    for ch in range(params[P_CHANNELS]):
        due = chs[ch, S_WAKE] <= c or (refresh and chs[ch, S_NEXT_REFRESH] <= c)
        if due or params[P_EVERY_CYCLE]:
            finished += _tick(params, table, counts, ready, chs, memo, queues, g, reqs, log, ch,
                              c)
    return finished


@compiled
def _earliest_wake(params, chs):
    """Return the earliest cycle a channel wakes at or refreshes (``INF``: none)."""
    nxt = INF
    refresh = params[P_REFRESH] != REFRESH_OFF
    for ch in range(params[P_CHANNELS]):
        nxt = min(nxt, chs[ch, S_WAKE])
        if refresh:
            nxt = min(nxt, chs[ch, S_NEXT_REFRESH])
    return nxt


@compiled
def _offer(params, ready, chs, queues, g, reqs, r, c):
    """Offer request ``r`` (a row of the table) at cycle ``c``; return whether it was accepted.

    It is refused before its arrival cycle, when a request was already accepted at ``c``, and
    while its channel's read (or write) queue is full.
    """
    if reqs[r, R_ARRIVAL] > c or c <= g[G_LAST_ACCEPT]:
        return False
    ch, qi = reqs[r, R_CHANNEL], reqs[r, R_WRITE]
    size = params[P_WRITE_QUEUE] if qi == Q_WRITE else params[P_READ_QUEUE]
    n = chs[ch, S_QUEUE_LEN + qi]
    if n >= size:
        return False
    queues[ch, qi, n] = r
    chs[ch, S_QUEUE_LEN + qi] = n + 1
    reqs[r, R_ACCEPT] = c
    g[G_LAST_ACCEPT] = c
    g[G_IN_FLIGHT] += 1
    wake = chs[ch, S_WAKE]
    if wake <= c:
        return True
    if _write_mode_after(params, chs, ch) != chs[ch, S_WRITE_MODE]:
        wake = c  # the other queue's requests become candidates: rescan now
        chs[ch, S_CAND_VALID] = 0
    elif chs[ch, S_REFRESH_PENDING] == 0 and chs[ch, S_WRITE_MODE] == qi and not chs[
            ch, S_BLOCKED]:
        # The newcomer is the youngest: it can only win once it is ready itself.
        cmd = _command_for(chs, reqs, ch, r)
        t = _ready_at(params, ready, chs, ch, cmd, reqs[r, R_BANKGROUP], reqs[r, R_BANK])
        wake = min(wake, max(c, t))
        if t < chs[ch, S_CAND_AT]:
            chs[ch, S_CAND_VALID] = 0  # it will be ready before the remembered winner
    chs[ch, S_WAKE] = wake
    return True


@compiled
def next_cycle(arrays, c, end):
    """Return the next cycle after ``c`` at which anything can happen.

    That is when a channel wakes or a refresh falls due, or when the stream's next row
    (``G_NEXT``, if below ``end``) may be offered: at its arrival, if its queue has room.
    """
    s = KernelArrays(*arrays)
    return _next_cycle(s.params, s.chs, s.g, s.reqs, c, end)


@compiled
def _next_cycle(params, chs, g, reqs, c, end):
    if params[P_EVERY_CYCLE]:
        return c + 1
    nxt = max(_earliest_wake(params, chs), c + 1)
    r = g[G_NEXT]
    if r < end:
        qi = reqs[r, R_WRITE]
        size = params[P_WRITE_QUEUE] if qi == Q_WRITE else params[P_READ_QUEUE]
        if chs[reqs[r, R_CHANNEL], S_QUEUE_LEN + qi] < size:
            nxt = min(nxt, max(c + 1, reqs[r, R_ARRIVAL]))
    return nxt


@compiled
def run(arrays, end, stop):
    """Offer the stream's rows ``G_NEXT .. end - 1`` of the table in order, step to ``stop``.

    At most one request is accepted per cycle, none before its arrival nor while its queue
    is full (see :func:`start_stream`). Every cycle before ``stop`` is simulated; with
    ``stop = INF`` the run ends instead once no request is in flight and none is left to
    offer (``G_CLOCK`` is then the cycle after the last issue). Return ``RUN_DONE``,
    ``RUN_LOG_FULL`` (grow the log and call again), ``RUN_DEADLOCK`` (a bug) or
    ``RUN_STALLED``: requests are in flight but none was accepted or finished for
    ``P_STALL_BOUND`` cycles (a configuration that cannot make progress; see
    :func:`stall_error`).
    """
    s = KernelArrays(*arrays)
    return _run(s.params, s.table, s.counts, s.ready, s.chs, s.memo, s.queues, s.g, s.reqs,
                s.log, end, stop)


@compiled
def _run(params, table, counts, ready, chs, memo, queues, g, reqs, log, end, stop):
    drain = stop >= INF
    c = g[G_CLOCK]
    if drain and g[G_IN_FLIGHT] == 0 and g[G_NEXT] >= end:
        return RUN_DONE
    while c < stop:
        status, done = _cycle(params, table, counts, ready, chs, memo, queues, g, reqs, log, end,
                              c)
        if status != RUN_DONE:
            g[G_CLOCK] = c
            return status
        if drain and done and g[G_IN_FLIGHT] == 0 and g[G_NEXT] >= end:
            g[G_CLOCK] = c + 1
            return RUN_DONE
        nxt = _next_cycle(params, chs, g, reqs, c, end)
        if nxt >= INF and drain:
            g[G_CLOCK] = c
            return RUN_DEADLOCK
        c = nxt
    g[G_CLOCK] = max(min(c, stop), g[G_CLOCK])
    return RUN_DONE


@compiled
def _cycle(params, table, counts, ready, chs, memo, queues, g, reqs, log, end, c):
    """Run cycle ``c`` of the offer loop; return ``(status, requests finished in it)``.

    ``RUN_LOG_FULL``: nothing ran (grow the log first); ``RUN_STALLED``: the cycle ran and
    the controller has made no progress for too long; else ``RUN_DONE``.
    """
    if params[P_RECORD] and g[G_LOG_LEN] + params[P_CHANNELS] > log.shape[0]:
        return RUN_LOG_FULL, 0
    i = g[G_NEXT]
    if i < end and _offer(params, ready, chs, queues, g, reqs, i, c):
        g[G_NEXT] = i + 1
    done = _tick_channels(params, table, counts, ready, chs, memo, queues, g, reqs, log, c)
    if g[G_IN_FLIGHT] > 0 and c - max(g[G_LAST_ACCEPT], g[G_LAST_DONE]) > params[P_STALL_BOUND]:
        return RUN_STALLED, done
    return RUN_DONE, done


@compiled
def step(arrays, end, c):
    """Simulate cycle ``c`` as :func:`run` would when it reaches it, offering rows below ``end``.

    The cycles from :func:`clock` up to ``c`` are skipped: the caller guarantees that nothing
    can happen in them (``c`` is at most :func:`next_cycle` of the last cycle simulated).
    Return ``RUN_DONE`` (the clock is then ``c + 1``), ``RUN_LOG_FULL`` or ``RUN_STALLED``
    (the clock is then ``c``), as :func:`run` does.
    """
    s = KernelArrays(*arrays)
    status, _ = _cycle(s.params, s.table, s.counts, s.ready, s.chs, s.memo, s.queues, s.g,
                       s.reqs, s.log, end, c)
    s.g[G_CLOCK] = c + 1 if status == RUN_DONE else c
    return status


@compiled
def set_request(reqs, r, coords, i, banks_per_group, is_write, arrival):
    """Write record ``r`` of ``reqs`` for the request decoded as ``coords[i]``.

    ``coords`` rows are (channel, bank group, bank in group, row, column), as
    :func:`~colsim.sim.dram.mapping.decode_into` writes them.
    """
    for j in range(R_FIELDS):
        reqs[r, j] = -1
    reqs[r, R_CHANNEL] = coords[i, 0]
    reqs[r, R_BANKGROUP] = coords[i, 1]
    reqs[r, R_BANK] = coords[i, 1] * banks_per_group + coords[i, 2]
    reqs[r, R_ROW] = coords[i, 3]
    reqs[r, R_WRITE] = 1 if is_write else 0
    reqs[r, R_ARRIVAL] = arrival
    reqs[r, R_CLASSIFIED] = 0


@compiled
def clock(arrays):
    """Return the next DRAM cycle to be simulated."""
    return KernelArrays(*arrays).g[G_CLOCK]


@compiled
def start_stream(arrays, first):
    """Make row ``first`` of the request table the next that :func:`run` offers."""
    KernelArrays(*arrays).g[G_NEXT] = first


@compiled
def next_row(arrays):
    """Return the row the stream offers next (one past the last row it had accepted)."""
    return KernelArrays(*arrays).g[G_NEXT]


@compiled
def requests_finished(arrays):
    """Return how many requests have issued their last command since power-up."""
    s = KernelArrays(*arrays)
    return s.g[G_READS] + s.g[G_WRITES]


key_caches_on_sources(__name__)
