"""Request cap: at most ``dma.requests_in_flight`` DRAM requests issued and not yet answered.

Sits on the DMA's DRAM port between the engine and the memory: requests pass from ``i_req``
to ``o_req`` and responses from ``i_resp`` to ``o_resp`` unchanged and without delay. It
counts the requests taken at ``o_req`` and the responses presented at ``i_resp`` (one per
request); while the count is at the cap, it holds ``o_req.valid`` and ``i_req.ready`` low.

Timing (the rule :func:`colsim.sim.fast.engines.request_free` implements): the count is a
register, so a request may pass in cycle ``t`` when fewer than ``cap`` requests passed
before ``t`` without their response having been presented before ``t``: request ``j``
(from 0, in stream order) passes no earlier than the cycle after the ``j - cap + 1``-th
response (responses come in any order; one per request).
Responses are always accepted (``i_resp.ready`` is ``o_resp.ready``, which the top holds
high).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class RequestCap(wiring.Component):
    """Hold requests of ``request`` layout while ``cap`` are unanswered (responses of
    ``response`` layout)."""

    def __init__(self, cap: int, request: data.StructLayout,
                 response: data.StructLayout) -> None:
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            raise TypeError(f"`cap` must be a positive integer, not {cap!r}")
        self._cap = cap
        super().__init__(request_path(request, response))

    @property
    def cap(self) -> int:
        """Requests that may be unanswered at once."""
        return self._cap

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self._cap + 1))
        room = Signal()
        m.d.comb += room.eq(count != self._cap)

        # --- Requests pass while there is room; responses always pass ---------------------
        m.d.comb += [self.o_req.valid.eq(self.i_req.valid & room),
                     self.i_req.ready.eq(self.o_req.ready & room),
                     self.o_req.payload.eq(self.i_req.payload)]
        wiring.connect(m, wiring.flipped(self.i_resp), wiring.flipped(self.o_resp))

        # --- Count: + a request taken, - a response presented -----------------------------
        issued = self.o_req.valid & self.o_req.ready
        answered = self.i_resp.valid & self.i_resp.ready
        with m.If(issued & ~answered):
            m.d.sync += count.eq(count + 1)
        with m.Elif(answered & ~issued):
            m.d.sync += count.eq(count - 1)
        return m


def request_path(request: data.StructLayout, response: data.StructLayout) -> dict:
    """Return the ports of a block on the DMA's request/response path: requests of layout
    ``request`` in (``i_req``) and on (``o_req``), responses of ``response`` in (``i_resp``)
    and on (``o_resp``)."""
    return {"i_req": In(stream.Signature(request)), "o_req": Out(stream.Signature(request)),
            "i_resp": In(stream.Signature(response)),
            "o_resp": Out(stream.Signature(response))}
