"""Step-by-step reference executor: the schedule's rules in plain Python on the event path.

Every DRAM cycle it offers at most one request to the cycle-stepped
:class:`~colsim.sim.dram.DramModel`, advances it one cycle, and collects the completions it
reports; core-side ops are evaluated from those completions with
:class:`~colsim.sim.dram.ClockRatio`. It is slow and obvious on purpose: the fast model
(:mod:`colsim.sim.fast.cosim`) must produce the same cycles (tested on small layers).
"""

from __future__ import annotations

from colsim.config import HardwareConfig
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.model import ClockRatio, DramModel
from colsim.sim.schedule import Schedule


def execute_reference(
    schedule: Schedule, hw: HardwareConfig, dram: DramConfig
) -> tuple[int, list[int], list[int]]:
    """Run ``schedule`` from time 0 on a fresh DRAM; return (end, op_end, transfer_done).

    Times are core cycles. ``end`` is when the last op finished and the last transfer
    completed.
    """
    ratio = ClockRatio(hw.clock.core_mhz, dram.timing.clock_mhz)
    model = DramModel(dram)
    n_ops, n_tr = schedule.op_unit.size, schedule.tr_buffer.size
    op_end: list[int | None] = [None] * n_ops
    done: list[int | None] = [None] * n_tr
    left = [int(n) for n in schedule.tr_count]
    latest = [0] * n_tr
    unit_free = [0, 0]
    next_op = 0

    def release(f: int) -> int | None:
        reader = int(schedule.tr_last_reader[f])
        if schedule.tr_write[f] or reader < 0:
            return done[f]
        return op_end[reader]

    def evaluate_ops() -> None:
        nonlocal next_op
        while next_op < n_ops:
            o = next_op
            needs = [int(f) for f in schedule.op_needs[o] if f >= 0]
            if any(done[f] is None for f in needs):
                return
            ready = max([0, *(done[f] for f in needs)])
            after = int(schedule.op_after[o])
            if after >= 0:
                ready = max(ready, op_end[after] + int(schedule.op_after_latency[o]))
            wait = int(schedule.op_slot_wait[o])
            if wait >= 0:
                freed = release(wait)
                if freed is None:
                    return
                ready = max(ready, freed)
            unit = int(schedule.op_unit[o])
            start = max(unit_free[unit], ready)
            op_end[o] = start + int(schedule.op_cycles[o])
            unit_free[unit] = op_end[o]
            next_op += 1

    def gate(f: int, previous: int) -> int | None:
        time = previous
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
    current, offered, previous_gate = 0, 0, 0
    arrival: int | None = None
    last_accept = -1  # the DRAM takes at most one request per cycle
    while True:
        for completion in model.pop_completed():
            f = int(schedule.transfer[completion.tag])
            latest[f] = max(latest[f], completion.cycle)
            left[f] -= 1
            if left[f] == 0:
                done[f] = ratio.to_core(latest[f])
        evaluate_ops()
        while current < n_tr and arrival is None:
            issue = gate(current, previous_gate)
            if issue is None:
                break
            previous_gate = issue
            if schedule.tr_count[current] == 0:
                done[current] = issue
                current += 1
                continue
            arrival = ratio.to_dram(issue)
        if next_op == n_ops and all(t is not None for t in done):
            break
        if arrival is not None and cycle >= arrival and cycle > last_accept:
            addr = int(schedule.addr[offered])
            if model.submit(addr, bool(schedule.is_write[offered]), cycle, tag=offered):
                offered += 1
                last_accept = cycle
                if offered == schedule.tr_first[current] + schedule.tr_count[current]:
                    current += 1
                    arrival = None
        model.advance(cycle + 1)
        cycle += 1
    end = max([0, *(t for t in op_end if t is not None), *(t for t in done if t is not None)])
    return end, [int(t) for t in op_end], [int(t) for t in done]

