"""Reference model of the DMA's DRAM port (no Amaranth import): cycle by cycle.

:func:`port_model` runs the port of :class:`colsim.hw.dma_port.DmaPort` on a stimulus: in
every cycle the engine may raise a request (and holds it until it passes), the memory may be
ready, and the memory may present a response to one unanswered transaction (any of them, in
any order). The engine hands over DRAM transactions; the port groups them into DMA requests
(:func:`request_starts`: a transfer's consecutive transactions in one aligned block of
``burst`` transactions). A transaction passes in a cycle where the engine offers it, the
memory is ready and, when it starts a request under a cap (``cap`` > 0), fewer than ``cap``
requests are unanswered: a request is unanswered from the cycle after its first transaction
passed until the cycle after the response to its last one was presented (a transaction that
continues a request passes without the cap). It leaves with its address interleaved
(:meth:`colsim.hw.interleave_model.Interleave.physical`) and its tag unchanged, except that
with requests of several transactions under a cap (``slots``) the tag also names the request's
slot in the port's table of ``cap`` requests (the lowest free one; the memory returns it with
the response). This is the rule :func:`colsim.sim.fast.engines.request_free` gives the fast
model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from colsim.hw.interleave_model import Interleave


@dataclass(frozen=True)
class PortTrace:
    """What left the port: ``(cycle, DRAM address, tag)`` per transaction, the response
    cycles."""

    requests: list[tuple[int, int, int]]
    responses: list[int]


@dataclass(frozen=True)
class Draw:
    """One cycle's stimulus: the engine offers its next transaction, the memory is ready, the
    memory presents a response (only when a transaction is unanswered) to the unanswered
    transaction at ``pick`` (in [0, 1)) of them, in the order they passed."""

    offer: bool
    ready: bool
    respond: bool
    pick: float = 0.0


def request_starts(address: np.ndarray, first: np.ndarray, block_bytes: int) -> np.ndarray:
    """Return, per transaction of a stream (accelerator ``address``es in issue order;
    ``first``: the transaction opens its transfer), whether it starts a DMA request: it opens
    its transfer or lies in another aligned block of ``block_bytes`` than the one before."""
    block = np.asarray(address, dtype=np.int64) // block_bytes
    starts = np.asarray(first, dtype=bool).copy()
    if starts.size:
        starts[0] = True
        starts[1:] |= block[1:] != block[:-1]
    return starts


def port_model(cap: int, interleave: Interleave, requests: Sequence[tuple[int, int, bool]],
               draws: Iterator[Draw], *, slots: bool = False,
               tag_bits: int = 0) -> PortTrace:
    """Return what leaves the port when the engine sends ``requests`` (address, tag, opens
    its transfer) under ``draws``, until every transaction passed and was answered.

    With ``slots`` (requests of several transactions under a cap) a passed transaction's tag
    carries its request's slot above the engine's ``tag_bits``.
    """
    block_bytes = interleave.transaction_bytes * interleave.burst
    starts = request_starts(np.array([a for a, _, _ in requests], dtype=np.int64),
                            np.array([f for _, _, f in requests], dtype=bool), block_bytes)
    passed: list[tuple[int, int, int]] = []
    responses: list[int] = []
    unanswered: list[int] = []  # the slots of the transactions passed and not answered
    pending = [0] * max(cap, 1)  # per slot: its request's transactions unanswered
    offering, cycle, slot = False, 0, 0
    while len(passed) < len(requests) or unanswered:
        draw = next(draws)
        offering = offering or (draw.offer and len(passed) < len(requests))
        answer = unanswered.pop(int(draw.pick * len(unanswered))) if (
            draw.respond and unanswered) else None
        start = bool(starts[len(passed)]) if offering else False
        open_slots = [s for s in range(cap) if pending[s] == 0]
        unanswered_requests = cap - len(open_slots)
        if offering and draw.ready and (cap == 0 or not start or unanswered_requests < cap):
            if start and cap:
                slot = open_slots[0]
            address, tag, _ = requests[len(passed)]
            if slots:
                tag |= slot << tag_bits
            passed.append((cycle, int(interleave.physical(address)), tag))
            unanswered.append(slot)
            pending[slot] += 1
            offering = False
        if answer is not None:
            pending[answer] -= 1
            responses.append(cycle)
        cycle += 1
    return PortTrace(passed, responses)
