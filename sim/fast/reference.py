"""Step-by-step reference executor: the schedule's rules in plain Python on the event path.

Every DRAM cycle it offers at most one request to the cycle-stepped
:class:`~colsim.sim.dram.DramModel`, advances it one cycle, and collects the completions it
reports; the engines' timing follows the same rules (:mod:`colsim.sim.fast.engines`), applied
cycle by cycle. It is slow and obvious on purpose: the fast model
(:mod:`colsim.sim.fast.cosim`) must produce the same cycles (tested on small layers).
"""

from __future__ import annotations

import numpy as np

from colsim.config import HardwareConfig
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.model import ClockRatio, DramModel
from colsim.sim.fast import engines
from colsim.sim.fast.run import clock_ratio
from colsim.sim.schedule import ARRAY, Schedule


def execute_reference(
    schedule: Schedule, hw: HardwareConfig, dram: DramConfig
) -> tuple[int, list[int], list[int]]:
    """Run ``schedule`` from cycle 0 on a fresh DRAM; return (end, op_end, transfer_done).

    Times are core cycles; ``end`` is the cycle after the last one the engines run.
    """
    ratio = ClockRatio(hw.clock.core_mhz, dram.timing.clock_mhz)
    num, den = clock_ratio(hw, dram)
    rules = engines.EngineRules.from_hw(hw)
    tile_end, room = engines.tile_ends(schedule), engines.room_ops(schedule, rules.result_queue)
    waits = engines.front_waits(schedule, hw.systolic.cols)
    front = engines.new_front(0)
    model = DramModel(dram)
    n_ops, n_tr = schedule.op_unit.size, schedule.tr_buffer.size
    op_end: list[int | None] = [None] * n_ops
    op_last: list[int] = [0] * n_ops
    done: list[int | None] = [None] * n_tr
    left = [int(n) for n in schedule.tr_count]
    unit_free = [1, 1]
    last_tile = -1
    next_op = 0

    def release(f: int) -> int | None:
        reader = int(schedule.tr_last_reader[f])
        if schedule.tr_write[f] or reader < 0:
            return done[f]
        return op_end[reader]

    def evaluate_ops() -> None:
        nonlocal next_op, last_tile
        while next_op < n_ops:
            o = next_op
            needs = [int(f) for f in schedule.op_needs[o] if f >= 0]
            if any(done[f] is None for f in needs):
                return
            ready = max([-1, *(done[f] for f in needs)])
            after = int(schedule.op_after[o])
            if after >= 0:
                ready = max(ready, engines.simd_after_ready(
                    op_end[after], op_last[after], int(schedule.op_after_latency[o])))
            wait = int(schedule.op_slot_wait[o])
            if wait >= 0:
                freed = release(wait)
                if freed is None:
                    return
                ready = max(ready, freed)
            unit = int(schedule.op_unit[o])
            if unit == ARRAY:
                r = int(room[o])
                _, end, last, _ = engines.array_op(
                    unit_free[unit], ready, int(schedule.op_cycles[o]), int(schedule.op_k[o]),
                    bool(tile_end[o]), last_tile, op_end[r] if r >= 0 else -1,
                    rules.result_latency)
                if tile_end[o]:
                    last_tile = last
            else:
                _, end = engines.simd_op(unit_free[unit], ready, int(schedule.op_cycles[o]),
                                         rules.simd_min)
                last = end - 1
            op_end[o], op_last[o] = end, last
            unit_free[unit] = end
            next_op += 1

    def gate(f: int) -> int | None:
        time = 0
        if schedule.tr_write[f]:
            source = op_end[int(schedule.tr_gate_op[f])]
            if source is None:
                return None
            time = max(time, source)
        elif schedule.tr_prev[f] >= 0:
            freed = release(int(schedule.tr_prev[f]))
            if freed is None:
                return None
            time = max(time, freed)
        if schedule.tr_barrier[f]:
            earlier = done[:f]
            if any(t is None for t in earlier):
                return None
            time = max([time, *earlier])
        return time

    cycle = 0
    current, offered = 0, 0
    presented: int | None = None  # the core cycle the next request is presented in
    engine_free, port_free, allocated = 0, 0, 0
    retired: list[int] = []  # cycles retired transfers freed their in-flight entries
    answered = np.zeros(schedule.addr.size, dtype=np.int64)  # each request's answer cycle
    n_answered = 0
    addresses = rules.dram_addresses(schedule)
    request = rules.request_index(schedule)  # empty: one transaction per request
    if not request.size:
        request = np.arange(schedule.addr.size)
    request_left = np.bincount(request).tolist()  # each request's transactions unanswered
    answered_until = 0
    last_accept = -1  # the DRAM takes at most one request per cycle
    while True:
        for completion in model.pop_completed():  # in the order the memory agent answers
            response = max(engines.response_cycle(completion.cycle, num, den),
                           answered_until)
            answered_until = response + 1
            r = int(request[completion.tag])
            request_left[r] -= 1
            if request_left[r] == 0:
                answered[n_answered] = response
                n_answered += 1
            f = int(schedule.transfer[completion.tag])
            left[f] -= 1
            if left[f] == 0:
                done[f] = engines.retire_visible(response)
                retired.append(done[f])
        evaluate_ops()
        while current < n_tr and presented is None:
            issue = gate(current)
            if issue is None:
                break
            if schedule.tr_count[current] == 0:
                done[current] = issue
                current += 1
                continue
            entry = allocated - rules.in_flight
            if entry >= len(retired):
                break
            free = retired[entry] if entry >= 0 else 0
            held = engines.dma_take(front, int(waits[schedule.tr_first[current]]),
                                    engine_free, 0)
            presented = engines.dma_first_request(held, port_free, max(issue, free))
            allocated += 1
        if next_op == n_ops and all(t is not None for t in done):
            break
        arrival = None
        if presented is not None:  # the request cap may hold a request's first transaction
            opens = offered == 0 or request[offered] != request[offered - 1]
            free = (engines.request_free(int(request[offered]), n_answered, answered,
                                         rules.requests) if opens else 0)
            if free >= 0:
                presented = max(presented, free)
                arrival = ratio.to_dram(presented)
        if arrival is not None and cycle >= arrival and cycle > last_accept:
            addr = int(addresses[offered])
            if model.submit(addr, bool(schedule.is_write[offered]), cycle, tag=offered):
                offered += 1
                last_accept = cycle
                late = ratio.to_core(cycle) if cycle > arrival else -1
                port_free = engines.dma_port_free(presented, late)
                if offered == schedule.tr_first[current] + schedule.tr_count[current]:
                    engine_free = presented + 1
                    current += 1
                    presented = None
                else:
                    if waits[offered] >= 0:  # the transfer's next run
                        presented = max(presented, engines.dma_take(
                            front, int(waits[offered]), presented + 1, 0) - 1)
                    presented = max(presented + 1, port_free)
        model.advance(cycle + 1)
        cycle += 1
    end = max([engine_free, *(t for t in op_end if t is not None),
               *(t for t in done if t is not None)])
    return end + 1, [int(t) for t in op_end], [int(t) for t in done]
