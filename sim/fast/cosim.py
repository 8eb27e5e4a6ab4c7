"""Compiled co-simulation of one schedule against the DRAM controller kernel.

The loop below implements the execution rules of :mod:`colsim.sim.schedule.model` with the
timing of the FFN top's engines (:mod:`colsim.sim.fast.engines`, one rule per engine, each the
rule the engine's RTL documents) on the core clock, and drives the DRAM model's compiled kernel
through its public surface on the DRAM clock: :func:`~colsim.sim.dram.kernel.step` (one
cycle of the offer loop the batch path runs) for each visited cycle, and
:func:`~colsim.sim.dram.kernel.next_cycle` to jump to the next cycle where something can
happen. A request's completion cycle is known when its last command issues (before its data
arrives), and every gate depends on completions plus compute time, so each request's issue
time is known before the DRAM reaches it: the result equals a cycle-stepped execution exactly.

Clocks: a core cycle ``t`` offers to DRAM cycle ``ceil(t·dram_num/dram_den)``; a request
completing in DRAM cycle ``d`` is answered in core cycle ``floor(d·dram_den/dram_num) + 1`` at
the earliest (the first core cycle that starts after DRAM cycle ``d`` began), one response per
core cycle in completion order (``dram_num/dram_den`` = f_DRAM/f_core).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from colsim.numba_cache import key_caches_on_sources
from colsim.sim.dram import kernel as k
from colsim.sim.dram.mapping import decode_into
from colsim.sim.fast import engines as e
from colsim.sim.schedule import Schedule

# The loop runs without numba's reference counting (like the kernel), so passing the bundles
# to the small functions costs no atomic operations; :func:`cosimulate` allocates for it.
compiled = njit(cache=True, error_model="numpy", _nrt=False)

UNKNOWN = np.int64(-1)
COMPACT_FROM = 4096  # entries taken from a queue before it may move to the front (_compact)
# Result vector fields.
(X_END, X_ARRAY_BUSY, X_ARRAY_STALL, X_ARRAY_OVERHEAD, X_DRAM_END, X_SIMD_BUSY,
 X_ARRAY_RUN_STALL, X_SIZE) = range(8)

# The arrays of a Schedule the loop reads (same names there; op_unit as int64).
SCHEDULE_FIELDS = (
    "op_unit", "op_cycles", "op_overhead", "op_k", "op_needs", "op_after", "op_after_latency",
    "op_slot_wait", "tr_write", "tr_gate_op", "tr_prev", "tr_barrier", "tr_last_reader",
    "tr_first", "tr_count", "transfer", "addr", "is_write",
)
# ``op_tile_end`` / ``op_room`` / ``tx_front`` / ``tx_request``: the engine rules' per-op and
# per-transaction facts (:func:`engines.tile_ends`, :func:`engines.room_ops`,
# :func:`engines.front_waits`, :meth:`engines.EngineRules.request_index`: empty when the cap
# counts transactions); ``rules``: the engines' constants (:class:`engines.EngineRules`).
ScheduleArrays = namedtuple("ScheduleArrays", [*SCHEDULE_FIELDS, "op_tile_end", "op_room",
                                               "tx_front", "tx_request", "rules"])


def schedule_arrays(schedule: Schedule, rules: e.EngineRules, cols: int) -> ScheduleArrays:
    """Return the bundle of ``schedule``'s arrays that :func:`cosimulate` reads (``cols``:
    the array's C, the width of the mask words the front end walks; ``addr``: the DRAM
    addresses, :meth:`engines.EngineRules.dram_addresses`)."""
    fields = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}
    return ScheduleArrays(**{**fields, "op_unit": schedule.op_unit.astype(np.int64),
                             "addr": rules.dram_addresses(schedule)},
                          op_tile_end=e.tile_ends(schedule),
                          op_room=e.room_ops(schedule, rules.result_queue),
                          tx_front=e.front_waits(schedule, cols),
                          tx_request=rules.request_index(schedule),
                          rules=rules.as_array())


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
def _eval_ops(sc, next_op, out, unit_free, last_tile, tr_done, acc):
    """Evaluate ops in program order while their inputs are known; return the next op.

    ``unit_free[u]``: the cycle unit ``u``'s engine gates its next instruction from;
    ``last_tile[0]``: the cycle the array accepted the last step of its latest tile.
    """
    op_start, op_end, op_last = out.op_start, out.op_end, out.op_last
    n_ops = sc.op_unit.shape[0]
    while next_op < n_ops:
        o = next_op
        ready = UNKNOWN
        known = True
        for j in range(3):
            f = sc.op_needs[o, j]
            if f >= 0:
                if tr_done[f] < 0:
                    known = False
                    break
                ready = max(ready, tr_done[f])
        if not known:
            break
        a = sc.op_after[o]
        if a >= 0:
            ready = max(ready, e.simd_after_ready(op_end[a], op_last[a],
                                                  sc.op_after_latency[o]))
        w = sc.op_slot_wait[o]
        if w >= 0:
            rel = _release(w, sc.tr_write, sc.tr_last_reader, tr_done, op_end, next_op)
            if rel < 0:
                break
            ready = max(ready, rel)
        u = sc.op_unit[o]
        if u == 0:
            room = sc.op_room[o]
            start, end, last, run_stall = e.array_op(
                unit_free[u], ready, sc.op_cycles[o], sc.op_k[o], sc.op_tile_end[o],
                last_tile[0], op_end[room] if room >= 0 else UNKNOWN,
                sc.rules[e.RULE_RESULT_LATENCY])
            if sc.op_tile_end[o]:
                last_tile[0] = last
            acc[X_ARRAY_STALL] += start - 1 - unit_free[u]
            acc[X_ARRAY_RUN_STALL] += run_stall
            acc[X_ARRAY_BUSY] += sc.op_k[o]
            acc[X_ARRAY_OVERHEAD] += end - start - run_stall - sc.op_k[o]
        else:
            start, end = e.simd_op(unit_free[u], ready, sc.op_cycles[o],
                                   sc.rules[e.RULE_SIMD_MIN])
            last = end - 1
            acc[X_SIMD_BUSY] += end - start
        op_start[o], op_end[o], op_last[o] = start, end, last
        unit_free[u] = end
        acc[X_END] = max(acc[X_END], end)
        next_op += 1
    return next_op


@compiled
def _next_transfer(sc, cur, next_op, op_end, tr_issue, tr_done, done_prefix, prefix_max,
                   dma, front, retired, base):
    """Find the first request cycle of the next transfer if its gate is known.

    Return ``(cur, core cycle or UNKNOWN)``: the cycle the engine presents the transfer's
    first request in, before the request cap (:func:`_present`). ``dma`` holds the DMA
    engine's state (:data:`DMA_FREE`, :data:`DMA_PORT`, :data:`DMA_ALLOCATED`,
    :data:`DMA_RETIRED`) and
    ``front`` the front end's (:func:`engines.new_front`);
    ``retired[:dma[DMA_RETIRED]]`` are the cycles the retired transfers freed their
    in-flight entries in, ascending. Transfers without transactions complete as soon as
    they may issue.
    """
    n_tr = sc.tr_write.shape[0]
    while cur < n_tr:
        gate = base
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
            return cur, UNKNOWN
        if sc.tr_count[cur] == 0:
            tr_issue[cur] = gate
            tr_done[cur] = gate
            cur += 1
            continue
        entry = e.entry_free(dma[DMA_ALLOCATED], dma[DMA_RETIRED], retired,
                             sc.rules[e.RULE_IN_FLIGHT])
        if entry < 0:
            return cur, UNKNOWN
        held = e.dma_take(front, sc.tx_front[sc.tr_first[cur]], dma[DMA_FREE], base)
        first = e.dma_first_request(held, dma[DMA_PORT], max(gate, entry))
        dma[DMA_ALLOCATED] += 1
        return cur, first
    return cur, UNKNOWN


@compiled
def _present(sc, dma, offered, answered, cur, tr_issue):
    """Return the cycle transaction ``offered`` passes the DMA's port in: the cycle the engine
    presents it in (``dma[DMA_WANT]``, then cleared), once the request cap lets it pass
    (:func:`engines.request_free` when it starts a request); UNKNOWN while either is not
    known. ``answered``: the cycles requests were answered in full so far, ascending; a
    transfer's first transaction sets its ``tr_issue``."""
    want = dma[DMA_WANT]
    if want < 0:
        return UNKNOWN
    issued = offered  # the request it starts (one transaction per request) or continues
    if sc.tx_request.shape[0]:
        issued = sc.tx_request[offered]
    if offered > 0 and sc.tx_request.shape[0] and sc.tx_request[offered - 1] == issued:
        free = 0  # it continues the open request
    else:
        free = e.request_free(issued, dma[DMA_ANSWERED], answered, sc.rules[e.RULE_REQUESTS])
    if free < 0:
        return UNKNOWN
    dma[DMA_WANT] = UNKNOWN
    presented = max(want, free)
    if offered == sc.tr_first[cur]:
        tr_issue[cur] = presented
    return presented


@compiled
def _count_up(radices, coords):
    """Advance ``coords[0]`` to the next transaction's coordinates (the mixed-radix count of
    :func:`~colsim.sim.dram.mapping.decode_into` plus one); return False past the capacity."""
    for j in range(radices.shape[0]):
        level = radices[j, 0]
        digit = coords[0, level] + 1
        if digit < radices[j, 1]:
            coords[0, level] = digit
            return True
        coords[0, level] = 0
    return False


@compiled
def _prepare(dram, addr, is_write, mapping, coords, free, row_tx, n_free, r, arrival):
    """Write request ``r`` (``addr[r]``, ``is_write[r]``) into a free record row (the last of
    ``free[:n_free]``), note its transaction in ``row_tx`` and point the kernel's stream at it.

    Requests are prepared in stream order; ``coords`` holds the last one's coordinates, so
    the next transaction in memory (most of a transfer's) is counted up, not divided out.
    Return the row and the number of rows left free.
    """
    if n_free == 0:  # there is a row for every request the controller can hold
        raise RuntimeError("request records too few for the requests in flight")
    row = free[n_free - 1]
    transaction_bytes, radices, banks_per_group = mapping
    following = r > 0 and addr[r] == addr[r - 1] + np.uint64(transaction_bytes)
    if not (following and _count_up(radices, coords)) and decode_into(
            addr[r:r + 1], transaction_bytes, radices, coords) >= 0:
        raise RuntimeError("address beyond the DRAM capacity")
    reqs = k.KernelArrays(*dram).reqs
    k.set_request(reqs, row, coords, 0, banks_per_group, is_write[r], arrival)
    row_tx[row] = r
    k.start_stream(dram, row)
    return row, n_free - 1


# Per-run arrays: the timeline returned (``acc`` is the result vector; ``tx_accept`` and
# ``tx_done`` are each transaction's DRAM cycles of acceptance and completion, ``op_last`` the
# cycle an op's last step ran), and the loop's bookkeeping (``answer`` and ``due``: queues in
# answer order, :func:`_insert`; ``tr_known``: each transfer's completions known, ``tr_last``
# the one of them answered last).
Timeline = namedtuple("Timeline", [
    "acc", "op_start", "op_end", "op_last", "tr_issue", "tr_done", "tx_accept", "tx_done",
])
Scratch = namedtuple("Scratch", [
    "tr_left", "row_tx", "free", "coords", "unit_free", "last_tile", "outstanding", "answer",
    "tx_command", "retired", "dma", "front", "answered", "tr_known", "tr_last", "due",
    "request_left",
])
# The DMA engine's state: the cycle it may gate its next transfer from, the first cycle the
# DRAM port takes a request, transfers allocated an in-flight entry, transfers retired,
# responses presented (``answered``), and the cycle the engine presents its next request in
# before the request cap (UNKNOWN: not known yet, or already passed to ``cur_core``).
DMA_FREE, DMA_PORT, DMA_ALLOCATED, DMA_RETIRED, DMA_ANSWERED, DMA_WANT = range(6)


@njit(cache=True)
def cosimulate(dram, sc, transaction_bytes, radices, banks_per_group, dram_num, dram_den, base):
    """Run one schedule from core cycle ``base``; return its :class:`Timeline` (core cycles).

    ``base`` is the engines' first running cycle (the one after ``start``); the timeline's
    end (``acc[X_END]``) is the cycle after the last one the top runs, so ``end - base`` is the
    top's cycle count. ``dram`` is the kernel's bundle
    (:meth:`~colsim.sim.dram.kernel.KernelState.arrays`) whose request table has a row for
    every request the controller can hold plus one, each reused once its request finished, so
    memory does not grow with the stream; it continues from wherever the memory system is.
    ``sc`` is the schedule (:func:`schedule_arrays`): ``addr`` / ``is_write`` are its
    transactions in issue order. ``transaction_bytes``, ``radices`` and ``banks_per_group``
    decode addresses; DRAM runs at ``dram_num / dram_den`` times the core clock.
    """
    n_ops, n_tr = sc.op_unit.shape[0], sc.tr_write.shape[0]
    n_tx = sc.addr.shape[0]
    rows = k.KernelArrays(*dram).reqs.shape[0]
    out = Timeline(np.zeros(X_SIZE, dtype=np.int64), np.full(n_ops, UNKNOWN),
                   np.full(n_ops, UNKNOWN), np.full(n_ops, UNKNOWN), np.full(n_tr, UNKNOWN),
                   np.full(n_tr, UNKNOWN), np.full(n_tx, UNKNOWN), np.full(n_tx, UNKNOWN))
    dma = np.zeros(6, dtype=np.int64)
    dma[DMA_FREE] = base
    dma[DMA_PORT] = base
    dma[DMA_WANT] = UNKNOWN
    work = Scratch(sc.tr_count.copy(), np.zeros(rows, dtype=np.int64),
                   np.arange(rows)[::-1].copy(), np.zeros((1, 5), dtype=np.int64),
                   np.full(2, base + 1, dtype=np.int64), np.full(1, UNKNOWN),
                   np.empty(rows, dtype=np.int64),
                   np.empty(n_tx, dtype=np.int64), np.empty(n_tx, dtype=np.int64),
                   np.empty(n_tr, dtype=np.int64), dma,
                   e.new_front(base), np.empty(n_tx, dtype=np.int64),
                   np.zeros(n_tr, dtype=np.int64), np.empty(n_tr, dtype=np.int64),
                   np.empty(n_tx if sc.rules[e.RULE_REQUESTS] > 0 else n_tr, dtype=np.int64),
                   _request_sizes(sc.tx_request))
    _cosimulate(dram, sc, (transaction_bytes, radices, banks_per_group), dram_num, dram_den,
                base, out, work)
    return out


@njit(cache=True)
def _request_sizes(tx_request):
    """Return the transactions of each request (``tx_request``: each transaction's)."""
    n = tx_request[-1] + 1 if tx_request.shape[0] else 0
    sizes = np.zeros(n, dtype=np.int64)
    for r in tx_request:
        sizes[r] += 1
    return sizes


@compiled
def _cosimulate(dram, sc, mapping, dram_num, dram_den, base, out, work):
    """The loop of :func:`cosimulate`, writing into ``out``."""
    acc, tr_issue, tr_done, tx_accept, tx_done = (out.acc, out.tr_issue, out.tr_done,
                                                  out.tx_accept, out.tx_done)
    tr_left, row_tx, free, unit_free, outstanding, answer, retired, dma, front = (
        work.tr_left, work.row_tx, work.free, work.unit_free, work.outstanding, work.answer,
        work.retired, work.dma, work.front)
    reqs = k.KernelArrays(*dram).reqs
    n_free = reqs.shape[0]  # request rows free: free[:n_free]
    row = -1  # the row of the request being offered, once written
    n_ops = sc.op_unit.shape[0]
    n_tr = sc.tr_write.shape[0]
    last_tile = work.last_tile
    acc[X_END] = base
    next_op = 0
    cur = 0  # transfer being offered
    cur_core = UNKNOWN  # the core cycle its next request is presented in, once known
    offered = 0  # requests accepted (issue order); the next one is offered
    done_prefix = 0  # transfers [0, done_prefix) have all completed
    prefix_max = base
    n_out = 0  # rows of the requests in flight: outstanding[:n_out]
    # Transactions complete but not yet answered: answer[ans_head:ans_tail], in answer order.
    ans_head = ans_tail = 0
    # Answers are due (the loop must visit the cycle after their completion) only where they
    # gate something: with a request cap every one, else a transfer's last (it retires the
    # transfer). The others are answered with them, in the same order and response cycles.
    # Those due and not yet answered: due[due_head:due_tail], in answer order.
    capped = sc.rules[e.RULE_REQUESTS] > 0
    tr_known, tr_last, due = work.tr_known, work.tr_last, work.due
    due_head = due_tail = 0
    answered_until = base  # the response port's next free core cycle
    c = max(k.clock(dram), _ceil_mul(base, dram_num, dram_den))
    finished_before = k.requests_finished(dram)
    evaluated = (-1, -1)  # (transfers retired, cur) when the ops were last evaluated
    while True:
        # Requests that completed before cycle c are answered, in completion order.
        if due_head < due_tail and tx_done[due[due_head]] < c:
            ans_head, answered_until = _answer(sc.transfer, sc.tx_request, answer, ans_head,
                                               ans_tail, c, tx_done, tr_left, tr_done, retired,
                                               dma, work.answered, work.request_left,
                                               answered_until, dram_num, dram_den)
            while due_head < due_tail and tx_done[due[due_head]] < c:
                due_head += 1
            ans_head, ans_tail = _compact(answer, ans_head, ans_tail)
            due_head, due_tail = _compact(due, due_head, due_tail)
        # Ops wait only on transfers completing (answered, or without transactions).
        if evaluated != (dma[DMA_RETIRED], cur):
            evaluated = (dma[DMA_RETIRED], cur)
            next_op = _eval_ops(sc, next_op, out, unit_free, last_tile, tr_done, acc)
        while done_prefix < n_tr and tr_done[done_prefix] >= 0:
            prefix_max = max(prefix_max, tr_done[done_prefix])
            done_prefix += 1
        if cur_core < 0:
            if dma[DMA_WANT] < 0:
                cur, dma[DMA_WANT] = _next_transfer(sc, cur, next_op, out.op_end, tr_issue,
                                                    tr_done, done_prefix, prefix_max, dma,
                                                    front, retired, base)
            cur_core = _present(sc, dma, offered, work.answered, cur, tr_issue)
        while done_prefix < n_tr and tr_done[done_prefix] >= 0:
            prefix_max = max(prefix_max, tr_done[done_prefix])
            done_prefix += 1
        if next_op == n_ops and done_prefix == n_tr:
            break
        if cur_core < 0 and n_out == 0 and due_head == due_tail:
            raise RuntimeError("schedule deadlock: nothing in flight and no transfer can issue")
        arrival = _ceil_mul(cur_core, dram_num, dram_den) if cur_core >= 0 else UNKNOWN
        # Offer the next request at cycle c (not earlier: it is known from now on), then run
        # the controller through cycle c.
        if arrival >= 0 and row < 0:
            row, n_free = _prepare(dram, sc.addr, sc.is_write, mapping, work.coords, free,
                                   row_tx, n_free, offered, max(arrival, c))
        status = k.step(dram, row + 1 if arrival >= 0 else 0, c)
        if status == k.RUN_STALLED:
            raise k.Stalled()
        if status != k.RUN_DONE:
            raise RuntimeError("DRAM kernel stopped early (command log full)")
        if arrival >= 0 and k.next_row(dram) > row:  # accepted
            outstanding[n_out] = row
            n_out += 1
            accepted = reqs[row, k.R_ACCEPT]
            tx_accept[offered] = accepted
            row = -1
            offered += 1
            late = _ceil_mul(accepted, dram_den, dram_num) if accepted > arrival else UNKNOWN
            dma[DMA_PORT] = e.dma_port_free(cur_core, late)
            if offered == sc.tr_first[cur] + sc.tr_count[cur]:
                dma[DMA_FREE] = cur_core + 1
                cur += 1
                cur, dma[DMA_WANT] = _next_transfer(sc, cur, next_op, out.op_end, tr_issue,
                                                    tr_done, done_prefix, prefix_max, dma,
                                                    front, retired, base)
            else:
                want = cur_core
                if sc.tx_front[offered] >= 0:  # the transfer's next run
                    want = max(want, e.dma_take(front, sc.tx_front[offered],
                                                cur_core + 1, base) - 1)
                dma[DMA_WANT] = max(want + 1, dma[DMA_PORT])
            cur_core = _present(sc, dma, offered, work.answered, cur, tr_issue)
        finished = k.requests_finished(dram)
        if finished != finished_before:
            finished_before = finished
            keep = 0
            for j in range(n_out):
                r = outstanding[j]
                if reqs[r, k.R_DONE] >= 0:
                    free[n_free] = r
                    n_free += 1
                    tx = row_tx[r]
                    tx_done[tx] = reqs[r, k.R_DONE]
                    work.tx_command[tx] = reqs[r, k.R_ISSUE]
                    ans_tail = _insert(answer, ans_head, ans_tail, tx, tx_done, work.tx_command)
                    f = sc.transfer[tx]
                    if tr_known[f] == 0 or _earlier(tr_last[f], tx, tx_done, work.tx_command):
                        tr_last[f] = tx
                    tr_known[f] += 1
                    if capped or tr_known[f] == sc.tr_count[f]:
                        due_tail = _insert(due, due_head, due_tail, tx if capped else tr_last[f],
                                           tx_done, work.tx_command)
                    acc[X_DRAM_END] = max(acc[X_DRAM_END], tx_done[tx])
                else:
                    outstanding[keep] = r
                    keep += 1
            n_out = keep
        # Next cycle where anything can happen: a channel wakes, a refresh falls due, the
        # next request may be offered, or a completion may be answered.
        arrival = _ceil_mul(cur_core, dram_num, dram_den) if cur_core >= 0 else UNKNOWN
        if arrival >= 0 and row < 0:
            row, n_free = _prepare(dram, sc.addr, sc.is_write, mapping, work.coords, free,
                                   row_tx, n_free, offered, arrival)
        nxt = k.next_cycle(dram, c, row + 1 if arrival >= 0 else 0)
        if due_head < due_tail:  # the earliest answer due
            nxt = min(nxt, max(c + 1, tx_done[due[due_head]] + 1))
        c = nxt if nxt < k.INF else c + 1
    end = max(acc[X_END], dma[DMA_FREE])
    for f in range(n_tr):
        end = max(end, tr_done[f])
    acc[X_END] = end + 1


@compiled
def _earlier(tx, other, tx_done, tx_command):
    """Return whether transaction ``tx`` is answered before ``other``."""
    if tx_done[tx] != tx_done[other]:
        return tx_done[tx] < tx_done[other]
    if tx_command[tx] != tx_command[other]:
        return tx_command[tx] < tx_command[other]
    return tx < other


@compiled
def _answer(transfer, tx_request, answer, head, tail, c, tx_done, tr_left, tr_done, retired,
            dma, answered, request_left, answered_until, dram_num, dram_den):
    """Answer the transactions of ``answer[head:tail]`` (in answer order: completion order,
    ties by the cycle of their last command, then by stream order, the memory agent's
    order) that completed before DRAM cycle ``c`` (all are known), one per core cycle,
    recording in ``answered`` the cycle of each response that answers its request in full
    (``request_left``: each request's transactions unanswered, when ``tx_request`` groups
    them); retire finished transfers (``transfer``: each transaction's).

    Return the new ``head`` and the response port's next free cycle.
    """
    while head < tail and tx_done[answer[head]] < c:
        tx = answer[head]
        head += 1
        response = max(e.response_cycle(tx_done[tx], dram_num, dram_den), answered_until)
        answered_until = response + 1
        complete = True
        if tx_request.shape[0]:
            r = tx_request[tx]
            request_left[r] -= 1
            complete = request_left[r] == 0
        if complete:
            answered[dma[DMA_ANSWERED]] = response
            dma[DMA_ANSWERED] += 1
        f = transfer[tx]
        tr_left[f] -= 1
        if tr_left[f] == 0:
            tr_done[f] = e.retire_visible(response)
            retired[dma[DMA_RETIRED]] = tr_done[f]
            dma[DMA_RETIRED] += 1
    return head, answered_until


@compiled
def _compact(queue, head, tail):
    """Move ``queue[head:tail]`` to the front once at least as many entries were taken from
    before it (amortised one move per entry), so a queue touches only the memory its most
    waiting entries need; return the new ``(head, tail)``."""
    if head < COMPACT_FROM or head < tail - head:
        return head, tail
    for j in range(tail - head):
        queue[j] = queue[head + j]
    return 0, tail - head


@compiled
def _insert(queue, head, tail, tx, tx_done, tx_command):
    """Insert ``tx`` into ``queue[head:tail]``, kept in answer order (:func:`_earlier`); return
    the new tail. Completions become known nearly in that order (a write's completes when
    it issues, a read's later), so an insertion moves few entries."""
    j = tail
    while j > head and _earlier(tx, queue[j - 1], tx_done, tx_command):
        queue[j] = queue[j - 1]
        j -= 1
    queue[j] = tx
    return tail + 1


# The machine code on disk holds the kernel's and the engines' functions too: keyed on their
# sources as well as this file's, a change to any of them recompiles.
key_caches_on_sources(__name__)
