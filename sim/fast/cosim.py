"""Compiled co-simulation of one schedule against the DRAM controller kernel.

The loop below implements the execution rules of :mod:`colsim.sim.schedule.model` on the
core clock and drives the DRAM model's compiled kernel through its public surface on the
DRAM clock: :func:`~colsim.sim.dram.kernel.run` (the offer loop the batch path runs), one
visited cycle at a time, and :func:`~colsim.sim.dram.kernel.next_cycle` to jump to the next
cycle where something can happen. A request's completion cycle is known when its last command
issues (before its data arrives), and every gate depends on completions plus compute time,
so each transfer's issue time is known before the DRAM reaches it: the result equals a
cycle-stepped execution exactly.

Clocks: a core time ``t`` becomes DRAM cycle ``ceil(t·dram_num/dram_den)``; a DRAM cycle
``c`` becomes core time ``ceil(c·dram_den/dram_num)`` (``dram_num/dram_den`` = f_DRAM/f_core).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from colsim.sim.dram import kernel as k
from colsim.sim.dram.mapping import decode_into
from colsim.sim.schedule import Schedule

# The loop runs without numba's reference counting (like the kernel), so passing the bundles
# to the small functions costs no atomic operations; :func:`cosimulate` allocates for it.
compiled = njit(cache=True, error_model="numpy", _nrt=False)

UNKNOWN = np.int64(-1)
# Result vector fields.
(X_END, X_ARRAY_BUSY, X_ARRAY_STALL, X_ARRAY_OVERHEAD, X_DRAM_END, X_SIMD_BUSY,
 X_SIZE) = range(7)

# The arrays of a Schedule the loop reads (same names there; op_unit as int64).
ScheduleArrays = namedtuple("ScheduleArrays", [
    "op_unit", "op_cycles", "op_overhead", "op_needs", "op_after", "op_after_latency",
    "op_slot_wait", "tr_write", "tr_gate_op", "tr_prev", "tr_barrier", "tr_last_reader",
    "tr_first", "tr_count", "addr", "is_write",
])


def schedule_arrays(schedule: Schedule) -> ScheduleArrays:
    """Return the bundle of ``schedule``'s arrays that :func:`cosimulate` reads."""
    fields = {name: getattr(schedule, name) for name in ScheduleArrays._fields}
    return ScheduleArrays(**{**fields, "op_unit": schedule.op_unit.astype(np.int64)})


@compiled
def _ceil_mul(t, num, den):
    return (t * num + den - 1) // den


@compiled
def _release(f, tr_write, tr_last_reader, tr_done, op_end, next_op):
    """Return when transfer ``f`` frees its slot, or UNKNOWN."""
    if tr_write[f]:
        return tr_done[f]
    reader = tr_last_reader[f]
    if reader < 0:
        return tr_done[f]
    if reader >= next_op:
        return UNKNOWN
    return op_end[reader]


@compiled
def _eval_ops(sc, next_op, op_start, op_end, unit_free, tr_done, acc, base):
    """Evaluate ops in program order while their inputs are known; return the next op."""
    n_ops = sc.op_unit.shape[0]
    while next_op < n_ops:
        o = next_op
        ready = base
        data = base
        known = True
        for j in range(3):
            f = sc.op_needs[o, j]
            if f >= 0:
                if tr_done[f] < 0:
                    known = False
                    break
                data = max(data, tr_done[f])
        if not known:
            break
        ready = data
        a = sc.op_after[o]
        if a >= 0:
            ready = max(ready, op_end[a] + sc.op_after_latency[o])
        w = sc.op_slot_wait[o]
        if w >= 0:
            rel = _release(w, sc.tr_write, sc.tr_last_reader, tr_done, op_end, next_op)
            if rel < 0:
                break
            ready = max(ready, rel)
        u = sc.op_unit[o]
        start = max(unit_free[u], ready)
        if u == 0:
            acc[X_ARRAY_STALL] += start - unit_free[u]
            acc[X_ARRAY_BUSY] += sc.op_cycles[o] - sc.op_overhead[o]
            acc[X_ARRAY_OVERHEAD] += sc.op_overhead[o]
        else:
            acc[X_SIMD_BUSY] += sc.op_cycles[o]
        op_start[o] = start
        op_end[o] = start + sc.op_cycles[o]
        unit_free[u] = op_end[o]
        acc[X_END] = max(acc[X_END], op_end[o])
        next_op += 1
    return next_op


@compiled
def _next_arrival(sc, cur, cur_arrival, prev_arrival, next_op, op_end, tr_issue, tr_done,
                  done_prefix, prefix_max, dram_num, dram_den):
    """Find the next transfer's issue time if its gate is known; return (cur, arrival, gate).

    Transfers without transactions complete as soon as they may issue.
    """
    n_tr = sc.tr_write.shape[0]
    while cur < n_tr and cur_arrival < 0:
        gate = prev_arrival
        if sc.tr_write[cur]:
            x = sc.tr_gate_op[cur]
            gate = max(gate, op_end[x]) if x < next_op else UNKNOWN
        elif sc.tr_prev[cur] >= 0:
            rel = _release(sc.tr_prev[cur], sc.tr_write, sc.tr_last_reader, tr_done, op_end,
                           next_op)
            gate = max(gate, rel) if rel >= 0 else UNKNOWN
        if gate >= 0 and sc.tr_barrier[cur]:
            gate = max(gate, prefix_max) if done_prefix >= cur else UNKNOWN
        if gate < 0:
            break
        tr_issue[cur] = gate
        prev_arrival = gate
        if sc.tr_count[cur] == 0:
            tr_done[cur] = gate
            cur += 1
            continue
        cur_arrival = _ceil_mul(gate, dram_num, dram_den)
    return cur, cur_arrival, prev_arrival


@compiled
def _prepare(dram, sc, mapping, work, n_free, r, transfer, arrival):
    """Write request ``r`` into a free record row and point the kernel's stream at it.

    Return the row and the number of rows left free.
    """
    if n_free == 0:  # there is a row for every request the controller can hold
        raise RuntimeError("request records too few for the requests in flight")
    row = work.free[n_free - 1]
    transaction_bytes, radices, banks_per_group = mapping
    if decode_into(sc.addr[r:r + 1], transaction_bytes, radices, work.coords) >= 0:
        raise RuntimeError("address beyond the DRAM capacity")
    reqs = k.KernelArrays(*dram).reqs
    k.set_request(reqs, row, work.coords, 0, banks_per_group, sc.is_write[r], arrival)
    work.row_tr[row] = transfer
    work.row_tx[row] = r
    k.start_stream(dram, row)
    return row, n_free - 1


# Per-run arrays: the timeline returned (``acc`` is the result vector; ``tx_accept`` and
# ``tx_done`` are each transaction's DRAM cycles of acceptance and completion), and the loop's
# bookkeeping.
Timeline = namedtuple("Timeline", [
    "acc", "op_start", "op_end", "tr_issue", "tr_done", "tx_accept", "tx_done",
])
Scratch = namedtuple("Scratch", [
    "tr_left", "tr_max", "row_tr", "row_tx", "free", "coords", "unit_free", "outstanding",
    "pending",
])


@njit(cache=True)
def cosimulate(dram, sc, transaction_bytes, radices, banks_per_group, dram_num, dram_den, base):
    """Run one schedule from core time ``base``; return its :class:`Timeline` (core cycles).

    ``dram`` is the kernel's bundle (:meth:`~colsim.sim.dram.kernel.KernelState.arrays`)
    whose request table has a row for every request the controller can hold plus one, each
    reused once its request finished, so memory does not grow with the stream; it continues
    from wherever the memory system is. ``sc`` is the schedule
    (:func:`schedule_arrays`): ``addr`` / ``is_write`` are its transactions in issue order.
    ``transaction_bytes``, ``radices`` and ``banks_per_group`` decode addresses; DRAM runs at
    ``dram_num / dram_den`` times the core clock.
    """
    n_ops, n_tr = sc.op_unit.shape[0], sc.tr_write.shape[0]
    rows = k.KernelArrays(*dram).reqs.shape[0]
    n_tx = sc.addr.shape[0]
    out = Timeline(np.zeros(X_SIZE, dtype=np.int64), np.full(n_ops, UNKNOWN),
                   np.full(n_ops, UNKNOWN), np.full(n_tr, UNKNOWN), np.full(n_tr, UNKNOWN),
                   np.full(n_tx, UNKNOWN), np.full(n_tx, UNKNOWN))
    work = Scratch(sc.tr_count.copy(), np.zeros(n_tr, dtype=np.int64),
                   np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=np.int64),
                   np.arange(rows)[::-1].copy(),
                   np.zeros((1, 5), dtype=np.int64), np.full(2, base, dtype=np.int64),
                   np.empty(rows, dtype=np.int64), np.empty(n_tr, dtype=np.int64))
    _cosimulate(dram, sc, (transaction_bytes, radices, banks_per_group), dram_num, dram_den,
                base, out, work)
    return out


@compiled
def _cosimulate(dram, sc, mapping, dram_num, dram_den, base, out, work):
    """The loop of :func:`cosimulate`, writing into ``out``."""
    acc, op_start, op_end, tr_issue, tr_done, tx_accept, tx_done = out
    tr_left, tr_max, row_tr, row_tx, free, unit_free, outstanding, pending = (
        work.tr_left, work.tr_max, work.row_tr, work.row_tx, work.free, work.unit_free,
        work.outstanding, work.pending)
    reqs = k.KernelArrays(*dram).reqs
    n_free = reqs.shape[0]  # request rows free: free[:n_free]
    row = -1  # the row of the request being offered, once written
    n_ops = sc.op_unit.shape[0]
    n_tr = sc.tr_write.shape[0]
    acc[X_END] = base
    next_op = 0
    cur = 0  # transfer being offered
    cur_arrival = UNKNOWN  # its earliest DRAM cycle, once known
    prev_arrival = base
    offered = 0  # requests accepted (issue order); the next one is offered
    done_prefix = 0  # transfers [0, done_prefix) have all completed
    prefix_max = base
    n_out = 0  # rows of the requests in flight: outstanding[:n_out]
    n_pend = 0  # transfers complete but not yet visible: pending[:n_pend]
    c = max(k.clock(dram), _ceil_mul(base, dram_num, dram_den))
    finished_before = k.requests_finished(dram)
    while True:
        # Completions strictly before cycle c become visible.
        keep = 0
        for j in range(n_pend):
            f = pending[j]
            if tr_max[f] < c:
                tr_done[f] = _ceil_mul(tr_max[f], dram_den, dram_num)
            else:
                pending[keep] = f
                keep += 1
        n_pend = keep
        next_op = _eval_ops(sc, next_op, op_start, op_end, unit_free, tr_done, acc, base)
        while done_prefix < n_tr and tr_done[done_prefix] >= 0:
            prefix_max = max(prefix_max, tr_done[done_prefix])
            done_prefix += 1
        cur, cur_arrival, prev_arrival = _next_arrival(
            sc, cur, cur_arrival, prev_arrival, next_op, op_end, tr_issue, tr_done, done_prefix,
            prefix_max, dram_num, dram_den)
        while done_prefix < n_tr and tr_done[done_prefix] >= 0:
            prefix_max = max(prefix_max, tr_done[done_prefix])
            done_prefix += 1
        if next_op == n_ops and done_prefix == n_tr:
            break
        if cur_arrival < 0 and n_out == 0 and n_pend == 0:
            raise RuntimeError("schedule deadlock: nothing in flight and no transfer can issue")
        # Offer the next request at cycle c (not earlier: it is known from now on), then run
        # the controller through cycle c.
        if cur_arrival >= 0 and row < 0:
            row, n_free = _prepare(dram, sc, mapping, work, n_free, offered, cur,
                                   max(cur_arrival, c))
        if k.run(dram, row + 1 if cur_arrival >= 0 else 0, c + 1) != k.RUN_DONE:
            raise RuntimeError("DRAM kernel stopped early (command log full)")
        if cur_arrival >= 0 and k.next_row(dram) > row:  # accepted
            outstanding[n_out] = row
            n_out += 1
            tx_accept[offered] = reqs[row, k.R_ACCEPT]
            row = -1
            offered += 1
            if offered == sc.tr_first[cur] + sc.tr_count[cur]:
                cur += 1
                cur_arrival = UNKNOWN
                cur, cur_arrival, prev_arrival = _next_arrival(
                    sc, cur, cur_arrival, prev_arrival, next_op, op_end, tr_issue, tr_done,
                    done_prefix, prefix_max, dram_num, dram_den)
        finished = k.requests_finished(dram)
        if finished != finished_before:
            finished_before = finished
            keep = 0
            for j in range(n_out):
                r = outstanding[j]
                if reqs[r, k.R_DONE] >= 0:
                    free[n_free] = r
                    n_free += 1
                    tx_done[row_tx[r]] = reqs[r, k.R_DONE]
                    f = row_tr[r]
                    tr_max[f] = max(tr_max[f], reqs[r, k.R_DONE])
                    tr_left[f] -= 1
                    if tr_left[f] == 0:
                        pending[n_pend] = f
                        n_pend += 1
                        acc[X_DRAM_END] = max(acc[X_DRAM_END], tr_max[f])
                else:
                    outstanding[keep] = r
                    keep += 1
            n_out = keep
        # Next cycle where anything can happen: a channel wakes, a refresh falls due, the
        # next request may be offered, or a completion becomes visible.
        if cur_arrival >= 0 and row < 0:
            row, n_free = _prepare(dram, sc, mapping, work, n_free, offered, cur, cur_arrival)
        nxt = k.next_cycle(dram, c, row + 1 if cur_arrival >= 0 else 0)
        for j in range(n_pend):
            nxt = min(nxt, max(c + 1, tr_max[pending[j]] + 1))
        c = nxt if nxt < k.INF else c + 1
    for f in range(n_tr):
        acc[X_END] = max(acc[X_END], tr_done[f])
