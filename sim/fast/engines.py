"""The FFN top's engine timing rules, one function per engine, as the fast model runs them.

The rules themselves are written once, in the docstring of the RTL Component of each
engine; the functions here implement them (the compiled loop of
:mod:`colsim.sim.fast.cosim` calls them) and each names its Component:

* DMA engine — :class:`colsim.hw.dma_engine.DmaEngine`: :func:`dma_take`,
  :func:`dma_first_request`, :func:`entry_free`, :func:`dma_port_free`,
  :func:`response_cycle`, :func:`retire_visible`;
* DMA port — :class:`colsim.hw.dma_port.DmaPort`: :func:`request_free` and
  :meth:`EngineRules.request_index` (the request cap, on requests of ``dma.request_bytes``)
  and :meth:`EngineRules.dram_addresses` (the channel interleave);
* DMA front end — :class:`colsim.hw.dma_front.DmaFront`: :func:`front_waits`,
  :func:`front_deliver`, :func:`front_taken`;
* array engine — :class:`colsim.hw.array_engine.ArrayEngine`: :func:`array_op`;
* SIMD engine — :class:`colsim.hw.simd_engine.SimdEngine`: :func:`simd_op`,
  :func:`simd_after_ready`, :func:`simd_min_cycles`.

Cycles are core cycles; "visible in cycle v" means a counter or flag updated at the edge
that ends cycle ``v - 1``, so an engine gating on it sees it in ``v``. ``unit_free``: the
first cycle an engine may gate its next instruction in (the cycle after its previous one
ended, or the cycle after the first running cycle, in which it fetches its first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from colsim.config import HardwareConfig
from colsim.hw.dma_port_model import request_starts
from colsim.hw.interleave_model import Interleave
from colsim.sim.schedule import ARRAY, PHASES, SIMD, WEIGHT, Schedule

compiled = njit(cache=True, error_model="numpy", _nrt=False)

WALK_WRITE = 2  # from popping the next hot column to the hot-list position being visible
REMAP_MOVES = 2  # remapper moves after the hand-over until its output holds the instruction
# The front end's state (:func:`front_deliver`): the last run's acceptance, hand-over,
# delivery and take cycles, then a ring of the recent runs' (delivered, taken) cycles.
FRONT_ACCEPTED, FRONT_HANDED, FRONT_RUNS, FRONT_RING = range(4)
RING = 8  # more runs than the front end holds at once
SIMD_PIPELINE = 3  # the unit's two stages and the result write-back
RETIRE_DELAY = 2  # registered response, then the counters' update

# Indices of the rules vector (:meth:`EngineRules.as_array`).
RULE_IN_FLIGHT, RULE_RESULT_LATENCY, RULE_SIMD_MIN, RULE_REQUESTS, RULE_SIZE = range(5)


@dataclass(frozen=True)
class EngineRules:
    """The engines' constants for one hardware configuration."""

    in_flight: int  # dma.transfers_in_flight
    result_latency: int  # R + C: a tile's last step to its last row drained
    simd_min: int  # the shortest SIMD op
    result_queue: int  # sequencer.result_queue
    requests: int = 0  # dma.requests_in_flight (0: uncapped)
    # dma.channels and dma.request_bytes on the DRAM (None: every channel, one transaction)
    interleave: Interleave | None = None
    block_bytes: int = 0  # dma.request_bytes when a request spans several transactions

    @classmethod
    def from_hw(cls, hw: HardwareConfig) -> EngineRules:
        """Return the rules of ``hw``'s engines."""
        rows, cols = hw.systolic.rows, hw.systolic.cols
        interleave = Interleave.from_hw(hw)
        block = interleave.transaction_bytes * interleave.burst if interleave.burst > 1 else 0
        return cls(hw.dma.transfers_in_flight, rows + cols,
                   simd_min_cycles(hw), hw.sequencer.result_queue,
                   hw.dma.requests_in_flight, None if interleave.identity else interleave,
                   block)

    def as_array(self) -> np.ndarray:
        """Return the constants the compiled loop reads, indexed by ``RULE_*``."""
        return np.array([self.in_flight, self.result_latency, self.simd_min, self.requests],
                        dtype=np.int64)

    def dram_addresses(self, schedule: Schedule) -> np.ndarray:
        """Return the DRAM address of each of ``schedule``'s transactions: the DMA port's
        channel interleave (:meth:`Interleave.physical_array`) of the schedule's address."""
        if self.interleave is None:
            return schedule.addr
        return self.interleave.physical_array(schedule.addr).astype(schedule.addr.dtype)

    def request_index(self, schedule: Schedule) -> np.ndarray:
        """Return, per transaction of ``schedule``, the DMA request it belongs to (from 0, in
        stream order; :func:`colsim.hw.dma_port_model.request_starts`), or an empty array when
        every request is one transaction or none is capped (the cap then counts
        transactions, or nothing)."""
        if not (self.requests and self.block_bytes):
            return np.zeros(0, dtype=np.int64)
        transfer = schedule.transfer
        first = np.r_[True, transfer[1:] != transfer[:-1]] if transfer.size else transfer
        starts = request_starts(schedule.addr, first, self.block_bytes)
        return np.cumsum(starts, dtype=np.int64) - 1


def simd_min_cycles(hw: HardwareConfig) -> int:
    """Return the shortest SIMD op: the tile's beats fed one per cycle, plus the pipeline
    (:class:`colsim.hw.simd_engine.SimdEngine`). A beat takes ``lanes // C`` rows when
    ``lanes >= C`` (at least one beat per tile), a row takes ``ceil(C / lanes)`` beats
    otherwise."""
    rows, cols, lanes = hw.systolic.rows, hw.systolic.cols, hw.simd.lanes
    beats = -(-rows // (lanes // cols)) if lanes >= cols else rows * -(-cols // lanes)
    return beats + SIMD_PIPELINE


def front_waits(schedule: Schedule, cols: int) -> np.ndarray:
    """Return, per transaction, the cycle (from the engines' first running cycle) from which
    the front end may accept the instruction of the run it starts, or -1 (not a run's first).

    A W1 column fill (an up-phase weight read) is one run per column, accepted once the
    walk wrote its hot-list position; any other transfer is one run, accepted at once.
    ``cols`` is the mask word width (the array's C).
    """
    n = schedule.layer.hidden
    placement = schedule.placement
    columns = schedule.up_columns
    hot = np.zeros(-(-n // cols) * cols, dtype=bool)
    hot[columns] = True
    # The walk: word w is read in one cycle, then each of its hot columns popped in one.
    word = np.flatnonzero(hot) // cols
    popped = word + 1 + np.arange(word.size)
    finished = hot.size // cols + word.size  # the walk runs out of mask (flush)
    written = np.r_[popped[1:], finished] + WALK_WRITE  # position p visible
    transfer = schedule.transfer
    addr = schedule.addr.astype(np.int64)
    w1 = ((schedule.tr_buffer[transfer] == WEIGHT) & ~schedule.is_write
          & (schedule.tr_phase[transfer] == PHASES.index("up")))
    slot = (addr - placement.w1) // placement.w1_record
    starts = np.r_[True, transfer[1:] != transfer[:-1]] if addr.size else np.zeros(0, bool)
    starts |= w1 & np.r_[True, slot[1:] != slot[:-1]] if addr.size else starts
    wait = np.full(addr.size, -1, dtype=np.int64)
    wait[starts] = 0
    remapped = starts & w1
    wait[remapped] = written[np.searchsorted(columns, slot[remapped])]
    return wait


@njit(cache=True)
def new_front(base):
    """Return the front end's state at the start of a layer-iteration (cycle ``base``)."""
    front = np.zeros(FRONT_RING + 2 * RING, dtype=np.int64)
    front[FRONT_ACCEPTED], front[FRONT_HANDED] = base - 1, base
    return front


@compiled
def _remapper_moves_from(front, t):
    """Return the first cycle from ``t`` on in which the remapper moves: it holds still while
    an output is untaken (from a run's delivery to its take), so skip each such span."""
    held = True
    while held:
        held = False
        for j in range(max(0, front[FRONT_RUNS] - RING), front[FRONT_RUNS]):
            at = FRONT_RING + 2 * (j % RING)
            if front[at] <= t < front[at + 1]:
                t = front[at + 1]
                held = True
    return t


@compiled
def front_deliver(front, wait):
    """Return the cycle the front end delivers the next run (accepted from ``wait`` on): the
    rule of :class:`colsim.hw.dma_front.DmaFront`."""
    accepted = max(front[FRONT_ACCEPTED] + 1, front[FRONT_HANDED], wait)
    handed = _remapper_moves_from(front, accepted + 1)
    t = handed
    for _ in range(REMAP_MOVES):
        t = _remapper_moves_from(front, t + 1)
    front[FRONT_ACCEPTED], front[FRONT_HANDED] = accepted, handed
    return t + 1


@compiled
def front_taken(front, delivered, taken):
    """Record that the DMA engine took the run delivered in ``delivered`` in ``taken``."""
    at = FRONT_RING + 2 * (front[FRONT_RUNS] % RING)
    front[at], front[at + 1] = delivered, taken
    front[FRONT_RUNS] += 1


def tile_ends(schedule: Schedule) -> np.ndarray:
    """Return, per op, whether it is an array op ending a tile (the last piece of a part)."""
    unit, part = schedule.op_unit, schedule.op_part
    following = np.r_[unit[1:], SIMD]
    following_part = np.r_[part[1:], -1]
    return (unit == ARRAY) & ((following != ARRAY) | (following_part != part))


def room_ops(schedule: Schedule, depth: int) -> np.ndarray:
    """Return, per op, the SIMD op whose end frees the result-queue entry the op's last step
    claims (-1: none): for a tile-ending array op, the SIMD op ``depth`` entries earlier."""
    room = np.full(schedule.op_unit.size, -1, dtype=np.int64)
    emitting = np.zeros(schedule.op_unit.size, dtype=bool)
    emitting[schedule.op_after[schedule.op_after >= 0]] = True
    consumers = np.flatnonzero((schedule.op_unit == SIMD) & (schedule.op_after >= 0))
    emitted_before = np.cumsum(emitting) - emitting
    ends = np.flatnonzero(tile_ends(schedule))
    index = emitted_before[ends] - depth
    ok = index >= 0
    room[ends[ok]] = consumers[index[ok]]
    return room


@compiled
def array_op(unit_free, ready, cycles, steps, tile_end, last_tile, room_end, drain):
    """Return (start, end, last step, stalled cycles) of an array op (end exclusive): the
    rule of :class:`colsim.hw.array_engine.ArrayEngine`."""
    start = max(unit_free, ready) + 1
    last = start + steps - 1
    if tile_end:
        if last_tile >= 0:
            last = max(last, last_tile + drain)
        if room_end >= 0:
            last = max(last, room_end)
    stall = last - (start + steps - 1)
    return start, max(start + cycles, last + 1), last, stall


@compiled
def simd_after_ready(after_end, after_last, latency):
    """Return when a SIMD op's tiles have drained: ``latency`` after the last step of its
    last array op, and not before that op ended."""
    return max(after_end, after_last + latency)


@compiled
def simd_op(unit_free, ready, cycles, shortest):
    """Return (start, end) of a SIMD op (end exclusive): the rule of
    :class:`colsim.hw.simd_engine.SimdEngine`."""
    start = max(unit_free, ready) + 1
    return start, start + max(cycles, shortest)


@compiled
def entry_free(allocated, retired_count, retired, entries):
    """Return when an in-flight entry is free for the next transfer (-1: not known yet): the
    gate rule of :class:`colsim.hw.dma_engine.DmaEngine`."""
    j = allocated - entries
    if j < 0:
        return 0
    if j < retired_count:
        return retired[j]
    return -1


@compiled
def request_free(issued, answered_count, answered, cap):
    """Return the first cycle the DMA's port may pass the first transaction of request
    ``issued`` (stream order from 0) under a cap of ``cap`` requests unanswered (0: none);
    -1: not known yet. (A transaction continuing a request passes without the cap.)

    ``answered[:answered_count]`` are the cycles the requests were answered in full (the
    response to their last transaction presented), ascending: request ``issued`` passes from
    the cycle after the ``issued - cap``-th of them (from 0, in the order requests were
    answered; :mod:`colsim.hw.request_cap`).
    """
    j = issued - cap
    if cap == 0 or j < 0:
        return 0
    if j < answered_count:
        return answered[j] + 1
    return -1


@compiled
def dma_take(front, wait, engine_free, base):
    """Take the next run from the front end once the engine is free (``engine_free``: the
    cycle after its last request); return the first cycle it holds the run in
    (:class:`colsim.hw.dma_engine.DmaEngine`)."""
    delivered = front_deliver(front, wait + base)
    taken = max(engine_free - 1, delivered)
    front_taken(front, delivered, taken)
    return taken + 1


@compiled
def dma_first_request(held, port_free, gate):
    """Return the cycle a transfer's first request is presented in (``held``: the first
    cycle the engine holds its first run; :class:`colsim.hw.dma_engine.DmaEngine`)."""
    return max(max(held, gate) + 1, port_free)


@compiled
def dma_port_free(presented, accepted_late):
    """Return the first cycle the port takes the next request after one presented in
    ``presented`` (``accepted_late``: the core cycle the DRAM took it after refusing, or -1;
    :class:`colsim.hw.dma_engine.DmaEngine`)."""
    return max(presented + 1, accepted_late + 1)


@compiled
def response_cycle(done, dram_num, dram_den):
    """Return the first core cycle a request completing in DRAM cycle ``done`` is answered in
    (:class:`colsim.hw.dma_engine.DmaEngine`, responses)."""
    return done * dram_den // dram_num + 1


@compiled
def retire_visible(response):
    """Return the cycle a transfer answered in ``response`` is visible as retired
    (:class:`colsim.hw.dma_engine.DmaEngine`, responses)."""
    return response + RETIRE_DELAY
