"""Compiled co-simulation of one schedule against the DRAM controller kernel.

The loop below implements the execution rules of :mod:`colsim.sim.schedule.model` on the
core clock and drives the DRAM model's compiled kernel (``try_accept`` / ``advance``, the
same code as its batch path) on the DRAM clock, cycle by cycle while requests are in flight
and in jumps while nothing is. A request's completion cycle is known when its last command
issues (before its data arrives), and every gate depends on completions plus compute time,
so each transfer's issue time is known before the DRAM reaches it: the result equals a
cycle-stepped execution exactly.

Clocks: a core time ``t`` becomes DRAM cycle ``ceil(t·dram_num/dram_den)``; a DRAM cycle
``c`` becomes core time ``ceil(c·dram_den/dram_num)`` (``dram_num/dram_den`` = f_DRAM/f_core).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from colsim.sim.dram import kernel as k
from colsim.sim.dram.mapping import decode_into

UNKNOWN = np.int64(-1)
# Result vector fields.
(X_END, X_ARRAY_BUSY, X_ARRAY_STALL, X_ARRAY_OVERHEAD, X_DRAM_END, X_SIZE) = range(6)


@njit(cache=True)
def _ceil_mul(t, num, den):
    return (t * num + den - 1) // den


@njit(cache=True)
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


@njit(cache=True)
def _eval_ops(next_op, op_unit, op_cycles, op_overhead, op_needs, op_after, op_after_latency,
              op_slot_wait, op_start, op_end, unit_free, tr_write, tr_last_reader, tr_done,
              acc, base):
    """Evaluate ops in program order while their inputs are known; return the next op."""
    n_ops = op_unit.shape[0]
    while next_op < n_ops:
        o = next_op
        ready = base
        data = base
        known = True
        for j in range(3):
            f = op_needs[o, j]
            if f >= 0:
                if tr_done[f] < 0:
                    known = False
                    break
                data = max(data, tr_done[f])
        if not known:
            break
        ready = data
        a = op_after[o]
        if a >= 0:
            ready = max(ready, op_end[a] + op_after_latency[o])
        w = op_slot_wait[o]
        if w >= 0:
            rel = _release(w, tr_write, tr_last_reader, tr_done, op_end, next_op)
            if rel < 0:
                break
            ready = max(ready, rel)
        u = op_unit[o]
        start = max(unit_free[u], ready)
        if u == 0:
            acc[X_ARRAY_STALL] += start - unit_free[u]
            acc[X_ARRAY_BUSY] += op_cycles[o] - op_overhead[o]
            acc[X_ARRAY_OVERHEAD] += op_overhead[o]
        op_start[o] = start
        op_end[o] = start + op_cycles[o]
        unit_free[u] = op_end[o]
        acc[X_END] = max(acc[X_END], op_end[o])
        next_op += 1
    return next_op


@njit(cache=True)
def _next_arrival(cur, cur_arrival, prev_arrival, next_op, op_end, tr_write, tr_gate_op,
                  tr_prev, tr_barrier, tr_last_reader, tr_count, tr_issue, tr_done,
                  done_prefix, prefix_max, dram_num, dram_den):
    """Find the next transfer's issue time if its gate is known; return (cur, arrival, gate).

    Transfers without transactions complete as soon as they may issue.
    """
    n_tr = tr_write.shape[0]
    while cur < n_tr and cur_arrival < 0:
        gate = prev_arrival
        if tr_write[cur]:
            x = tr_gate_op[cur]
            gate = max(gate, op_end[x]) if x < next_op else UNKNOWN
        elif tr_prev[cur] >= 0:
            rel = _release(tr_prev[cur], tr_write, tr_last_reader, tr_done, op_end, next_op)
            gate = max(gate, rel) if rel >= 0 else UNKNOWN
        if gate >= 0 and tr_barrier[cur]:
            gate = max(gate, prefix_max) if done_prefix >= cur else UNKNOWN
        if gate < 0:
            break
        tr_issue[cur] = gate
        prev_arrival = gate
        if tr_count[cur] == 0:
            tr_done[cur] = gate
            cur += 1
            continue
        cur_arrival = _ceil_mul(gate, dram_num, dram_den)
    return cur, cur_arrival, prev_arrival


@njit(cache=True)
def _prepare(r, reqs, ring_tr, busy, addr, is_write, transaction_bytes, radices,
             banks_per_group, scratch, transfer, arrival):
    """Write request ``r`` into its ring slot (``r % ring size``); return the slot."""
    slot = r % reqs.shape[0]
    if busy[slot]:
        raise RuntimeError("request ring too small for the requests in flight")
    if decode_into(addr[r:r + 1], transaction_bytes, radices, scratch) >= 0:
        raise RuntimeError("address beyond the DRAM capacity")
    for j in range(reqs.shape[1]):
        reqs[slot, j] = -1
    reqs[slot, k.R_CHANNEL] = scratch[0, 0]
    reqs[slot, k.R_BANKGROUP] = scratch[0, 1]
    reqs[slot, k.R_BANK] = scratch[0, 1] * banks_per_group + scratch[0, 2]
    reqs[slot, k.R_ROW] = scratch[0, 3]
    reqs[slot, k.R_WRITE] = 1 if is_write[r] else 0
    reqs[slot, k.R_CLASSIFIED] = 0
    reqs[slot, k.R_ARRIVAL] = arrival
    ring_tr[slot] = transfer
    return slot


@njit(cache=True)
def cosimulate(params, table, counts, ready, chs, memo, queues, g, reqs, log,
               addr, is_write, transaction_bytes, radices, banks_per_group,
               op_unit, op_cycles, op_overhead, op_needs, op_after, op_after_latency,
               op_slot_wait, tr_write, tr_gate_op, tr_prev, tr_barrier, tr_last_reader,
               tr_first, tr_count, dram_num, dram_den, base):
    """Run one schedule from core time ``base``; return (result vector, op_start, op_end,
    tr_issue, tr_done), times in core cycles.

    ``addr`` / ``is_write`` are the schedule's transactions in issue order; ``reqs`` is a
    ring of request records (more rows than requests can be in flight) reused as requests
    finish, so memory does not grow with the stream. The kernel state arrays continue from
    wherever the memory system is.
    """
    n_ops = op_unit.shape[0]
    n_tr = tr_write.shape[0]
    op_start = np.full(n_ops, UNKNOWN)
    op_end = np.full(n_ops, UNKNOWN)
    tr_issue = np.full(n_tr, UNKNOWN)
    tr_done = np.full(n_tr, UNKNOWN)
    tr_left = tr_count.copy()
    tr_max = np.zeros(n_tr, dtype=np.int64)
    ring_tr = np.zeros(reqs.shape[0], dtype=np.int64)
    busy = np.zeros(reqs.shape[0], dtype=np.bool_)
    scratch = np.zeros((1, 5), dtype=np.int64)
    prepared = -1  # the request whose record currently sits in its ring slot
    acc = np.zeros(X_SIZE, dtype=np.int64)
    acc[X_END] = base
    unit_free = np.full(2, base, dtype=np.int64)
    next_op = 0
    cur = 0  # transfer being offered
    cur_arrival = UNKNOWN  # its earliest DRAM cycle, once known
    prev_arrival = base
    offered = 0  # requests offered (issue order)
    done_prefix = 0  # transfers [0, done_prefix) have all completed
    prefix_max = base
    outstanding = np.empty(reqs.shape[0], dtype=np.int64)  # ring slots in flight
    n_out = 0
    pending = np.empty(n_tr, dtype=np.int64)  # transfers complete but not yet visible
    n_pend = 0
    c = max(g[k.G_CLOCK], _ceil_mul(base, dram_num, dram_den))
    finished = 0
    issued_before = g[k.G_READS] + g[k.G_WRITES]
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
        next_op = _eval_ops(next_op, op_unit, op_cycles, op_overhead, op_needs, op_after,
                            op_after_latency, op_slot_wait, op_start, op_end, unit_free,
                            tr_write, tr_last_reader, tr_done, acc, base)
        while done_prefix < n_tr and tr_done[done_prefix] >= 0:
            prefix_max = max(prefix_max, tr_done[done_prefix])
            done_prefix += 1
        cur, cur_arrival, prev_arrival = _next_arrival(
            cur, cur_arrival, prev_arrival, next_op, op_end, tr_write, tr_gate_op, tr_prev,
            tr_barrier, tr_last_reader, tr_count, tr_issue, tr_done, done_prefix, prefix_max,
            dram_num, dram_den)
        while done_prefix < n_tr and tr_done[done_prefix] >= 0:
            prefix_max = max(prefix_max, tr_done[done_prefix])
            done_prefix += 1
        if next_op == n_ops and done_prefix == n_tr:
            break
        if cur_arrival < 0 and n_out == 0 and n_pend == 0:
            raise RuntimeError("schedule deadlock: nothing in flight and no transfer can issue")
        # Offer the next request at cycle c, then run the controller through cycle c.
        if cur_arrival >= 0 and prepared != offered:
            _prepare(offered, reqs, ring_tr, busy, addr, is_write, transaction_bytes, radices,
                     banks_per_group, scratch, cur, cur_arrival)
            prepared = offered
        if cur_arrival >= 0 and c >= cur_arrival and c > g[k.G_LAST_ACCEPT]:
            slot = offered % reqs.shape[0]
            if k.try_accept(params, ready, chs, queues, g, reqs, slot, c):
                busy[slot] = True
                outstanding[n_out] = slot
                n_out += 1
                offered += 1
                if offered == tr_first[cur] + tr_count[cur]:
                    cur += 1
                    cur_arrival = UNKNOWN
                    cur, cur_arrival, prev_arrival = _next_arrival(
                        cur, cur_arrival, prev_arrival, next_op, op_end, tr_write, tr_gate_op,
                        tr_prev, tr_barrier, tr_last_reader, tr_count, tr_issue, tr_done,
                        done_prefix, prefix_max, dram_num, dram_den)
        status = k.advance(params, table, counts, ready, chs, memo, queues, g, reqs, log, c + 1)
        if status != k.RUN_DONE:
            raise RuntimeError("DRAM kernel stopped early (command log full or deadlock)")
        issued = g[k.G_READS] + g[k.G_WRITES]
        if issued != issued_before:
            issued_before = issued
            keep = 0
            for j in range(n_out):
                r = outstanding[j]
                if reqs[r, k.R_DONE] >= 0:
                    busy[r] = False
                    f = ring_tr[r]
                    tr_max[f] = max(tr_max[f], reqs[r, k.R_DONE])
                    tr_left[f] -= 1
                    finished += 1
                    if tr_left[f] == 0:
                        pending[n_pend] = f
                        n_pend += 1
                        acc[X_DRAM_END] = max(acc[X_DRAM_END], tr_max[f])
                else:
                    outstanding[keep] = r
                    keep += 1
            n_out = keep
        # Next cycle where anything can happen: a channel wakes, a refresh falls due, or
        # the next request may be offered (as the batch path's loop decides).
        nxt = k._next_cycle(params, chs, c)
        if cur_arrival >= 0 and prepared != offered:
            _prepare(offered, reqs, ring_tr, busy, addr, is_write, transaction_bytes, radices,
                     banks_per_group, scratch, cur, cur_arrival)
            prepared = offered
        if cur_arrival >= 0 and k._has_room(params, chs, reqs, offered % reqs.shape[0]):
            nxt = min(nxt, max(c + 1, cur_arrival))
        for j in range(n_pend):
            nxt = min(nxt, max(c + 1, tr_max[pending[j]] + 1))
        c = nxt if nxt < k.INF else c + 1
    for f in range(n_tr):
        acc[X_END] = max(acc[X_END], tr_done[f])
    return acc, op_start, op_end, tr_issue, tr_done
