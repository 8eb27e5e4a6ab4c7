"""Reference model of the DMA's DRAM port (no Amaranth import): cycle by cycle.

:func:`port_model` runs the port of :class:`colsim.hw.dma_port.DmaPort` on a stimulus: in
every cycle the engine may raise a request (and holds it until it passes), the memory may be
ready, and the memory may present a response (when a request is unanswered). A request
passes in a cycle where the engine offers it, the memory is ready and fewer than ``cap``
requests passed before the cycle without their response having been presented before it
(``cap`` 0: no cap); it leaves with its address interleaved
(:meth:`colsim.hw.interleave_model.Interleave.physical`) and its tag unchanged. This is the
rule :func:`colsim.sim.fast.engines.request_free` gives the fast model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from colsim.hw.interleave_model import Interleave


@dataclass(frozen=True)
class PortTrace:
    """What left the port: ``(cycle, DRAM address, tag)`` per request, the response cycles."""

    requests: list[tuple[int, int, int]]
    responses: list[int]


@dataclass(frozen=True)
class Draw:
    """One cycle's stimulus: the engine offers its next request, the memory is ready, the
    memory presents a response (only when a request is unanswered)."""

    offer: bool
    ready: bool
    respond: bool


def port_model(cap: int, interleave: Interleave, requests: Sequence[tuple[int, int]],
               draws: Iterator[Draw]) -> PortTrace:
    """Return what leaves the port when the engine sends ``requests`` (address, tag) under
    ``draws``, until every request passed and was answered."""
    passed: list[tuple[int, int, int]] = []
    responses: list[int] = []
    offering, cycle = False, 0
    while len(passed) < len(requests) or len(responses) < len(passed):
        draw = next(draws)
        offering = offering or (draw.offer and len(passed) < len(requests))
        unanswered = len(passed) - len(responses)
        answer = draw.respond and unanswered > 0
        if offering and draw.ready and (cap == 0 or unanswered < cap):
            address, tag = requests[len(passed)]
            passed.append((cycle, int(interleave.physical(address)), tag))
            offering = False
        if answer:
            responses.append(cycle)
        cycle += 1
    return PortTrace(passed, responses)
