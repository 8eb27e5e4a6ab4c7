"""Request cap: at most ``dma.requests_in_flight`` DMA requests issued and not yet answered.

Sits on the DMA's DRAM port between the engine and the memory: transactions pass from
``i_req`` to ``o_req`` and responses from ``i_resp`` to ``o_resp`` unchanged and without
delay. A DMA request is one DRAM transaction (``burst`` 1), or (``burst`` > 1) a transfer's
consecutive transactions in one aligned block of ``2**block_bits`` bytes (``burst``
transactions) of the accelerator's addresses: a transaction starts a request when its
``first`` field is set (it opens its transfer) or its block differs from the previous
transaction's (:func:`colsim.hw.dma_port_model.request_starts`). While ``cap`` requests
are unanswered the cap holds a transaction that starts a request (``o_req.valid`` and
``i_req.ready`` low); a transaction that continues the open request passes.

Counting: one transaction per request, a count of the transactions taken at ``o_req`` minus
the responses presented at ``i_resp``. Several: a table of ``cap`` request slots, each the
count of its request's transactions unanswered; a starting transaction takes the lowest slot
whose count is 0 (the open request's slot too, which it closes) and writes it into the tag's
``slot`` field; a continuing one joins the open request's slot; a response counts down the
slot its tag names (the memory returns the tag unchanged).

Timing (the rule :func:`colsim.sim.fast.engines.request_free` implements): the counts are
registers, so a starting transaction may pass in cycle ``t`` when fewer than ``cap`` requests
had a transaction pass before ``t`` without the response to their last transaction having
been presented before ``t``: request ``j`` (from 0, in stream order) starts no earlier than
the cycle after the ``j - cap + 1``-th request was answered in full (requests are answered in
any order). Responses are always accepted (``i_resp.ready`` is ``o_resp.ready``, which the
top holds high).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.ffn_datapath import equals


class RequestCap(wiring.Component):
    """Hold requests of ``request`` layout while ``cap`` are unanswered (responses of
    ``response`` layout); with ``burst`` > 1, requests of up to ``burst`` transactions in
    blocks of ``2**block_bits`` bytes (the layouts then need ``first`` and ``tag.slot``)."""

    def __init__(self, cap: int, request: data.StructLayout,
                 response: data.StructLayout, burst: int = 1, block_bits: int = 0) -> None:
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            raise TypeError(f"`cap` must be a positive integer, not {cap!r}")
        if not isinstance(burst, int) or isinstance(burst, bool) or burst <= 0:
            raise TypeError(f"`burst` must be a positive integer, not {burst!r}")
        if burst > 1 and (not isinstance(block_bits, int) or block_bits <= 0):
            raise TypeError(f"`block_bits` must be a positive integer, not {block_bits!r}")
        self._cap, self._burst, self._block_bits = cap, burst, block_bits
        super().__init__(request_path(request, response))

    @property
    def cap(self) -> int:
        """Requests that may be unanswered at once."""
        return self._cap

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.i_resp), wiring.flipped(self.o_resp))
        source, sink = self.i_req, self.o_req
        room = Signal()
        m.d.comb += [sink.valid.eq(source.valid & room),
                     source.ready.eq(sink.ready & room),
                     sink.payload.eq(source.payload)]
        issued = sink.valid & sink.ready
        answered = self.i_resp.valid & self.i_resp.ready
        if self._burst == 1:
            # --- One transaction per request: + a request taken, - a response -------------
            count = Signal(range(self._cap + 1))
            m.d.comb += room.eq(count != self._cap)
            with m.If(issued & ~answered):
                m.d.sync += count.eq(count + 1)
            with m.Elif(answered & ~issued):
                m.d.sync += count.eq(count - 1)
            return m

        # --- Request starts: a transfer's first transaction, or another block ---------------
        address = source.payload.addr
        block = Signal(len(address) - self._block_bits, name="block")
        starts = Signal(name="starts")
        m.d.comb += starts.eq(source.payload.first | (address[self._block_bits:] != block))

        # --- Slots: unanswered transactions per request; a start takes the lowest free ------
        slot_shape = source.payload.tag.slot.shape()
        pending = [Signal(range(self._burst + 1), name=f"pending_{s}") for s in range(self._cap)]
        free_slot, has_free = Signal(slot_shape, name="free_slot"), Signal(name="has_free")
        for s in reversed(range(self._cap)):
            with m.If(equals(pending[s], 0)):
                m.d.comb += [free_slot.eq(s), has_free.eq(1)]
        current = Signal(slot_shape, name="current")  # the open request's slot
        slot = Signal(slot_shape, name="slot")
        m.d.comb += [room.eq(~starts | has_free), slot.eq(Mux(starts, free_slot, current)),
                     sink.payload.tag.slot.eq(slot)]
        with m.If(issued):
            m.d.sync += [block.eq(address[self._block_bits:]), current.eq(slot)]
        response_slot = self.i_resp.payload.tag.slot
        for s in range(self._cap):
            up, down = issued & equals(slot, s), answered & equals(response_slot, s)
            with m.If(up & ~down):
                m.d.sync += pending[s].eq(pending[s] + 1)
            with m.Elif(down & ~up):
                m.d.sync += pending[s].eq(pending[s] - 1)
        return m


def request_slots(hw: HardwareConfig) -> int:
    """Return the request slots of ``hw``'s DMA port: ``dma.requests_in_flight`` when its
    requests span several transactions under a cap, else 0 (the request and response layouts
    then carry no ``first`` / ``tag.slot`` fields)."""
    burst = hw.dma.transactions_per_request(hw.dram_config)
    return hw.dma.requests_in_flight if burst > 1 else 0


def slot_bits(slots: int) -> int:
    """Return the width of a request slot's index among ``slots``."""
    return max(1, (slots - 1).bit_length())


def request_path(request: data.StructLayout, response: data.StructLayout) -> dict:
    """Return the ports of a block on the DMA's request/response path: requests of layout
    ``request`` in (``i_req``) and on (``o_req``), responses of ``response`` in (``i_resp``)
    and on (``o_resp``)."""
    return {"i_req": In(stream.Signature(request)), "o_req": Out(stream.Signature(request)),
            "i_resp": In(stream.Signature(response)),
            "o_resp": Out(stream.Signature(response))}
