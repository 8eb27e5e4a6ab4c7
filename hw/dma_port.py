"""The DMA's DRAM port: the blocks between the FFN top's DMA engine and its request/response
ports, as ``dma`` configures them.

From the engine outwards: the request cap (:class:`~colsim.hw.request_cap.RequestCap`, when
``dma.requests_in_flight`` is set; it groups the engine's transactions into requests of
``dma.request_bytes``) and the channel interleaver
(:class:`~colsim.hw.interleave.ChannelInterleaver`, when ``dma.channels`` uses fewer than all
of the DRAM's channels or a request spans several transactions). Neither adds a cycle.
:class:`DmaPort` composes them; :func:`dma_port` puts one between the top's engine and its
ports, and with the defaults builds nothing (the engine drives the ports itself). The
behaviour, cycle by cycle, is :func:`colsim.hw.dma_port_model.port_model`.

Ports of :class:`DmaPort`: ``i_req`` (from the engine) → ``o_req`` (to the memory), and
``i_resp`` (from the memory) → ``o_resp`` (to the engine), of the caller's layouts (the
request has an ``addr`` field; with requests of several transactions under a cap, a
``first`` field and both a ``tag.slot`` field: :func:`~colsim.hw.request_cap.request_slots`).
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, wiring

from colsim.config import HardwareConfig
from colsim.hw.interleave import ChannelInterleaver, check_interleave
from colsim.hw.interleave_model import Interleave
from colsim.hw.request_cap import RequestCap, request_path, request_slots, slot_bits

PORT_TAG_BITS = 8  # the tag of the stand-alone block (:func:`dma_port_for`)


class DmaPort(wiring.Component):
    """Cap the unanswered requests at ``cap`` (0: no cap) and interleave their addresses by
    ``interleave``; ``request`` and ``response`` are the payload layouts."""

    def __init__(self, cap: int, interleave: Interleave, request: data.StructLayout,
                 response: data.StructLayout) -> None:
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
            raise TypeError(f"`cap` must be a non-negative integer, not {cap!r}")
        check_interleave(interleave, self)
        self._cap, self._interleave = cap, interleave
        super().__init__(request_path(request, response))

    @property
    def cap(self) -> int:
        """Requests that may be unanswered at once (0: no cap)."""
        return self._cap

    @property
    def interleave(self) -> Interleave:
        """The channel interleave of the requests' addresses."""
        return self._interleave

    def elaborate(self, platform):
        m = Module()
        request, response = self.i_req.payload.shape(), self.i_resp.payload.shape()
        requests, responses = wiring.flipped(self.i_req), wiring.flipped(self.i_resp)
        if self._cap:
            spec = self._interleave
            block_bits = (spec.transaction_bytes * spec.burst - 1).bit_length()
            m.submodules.cap = cap = RequestCap(self._cap, request, response, spec.burst,
                                                block_bits)
            wiring.connect(m, requests, cap.i_req)
            wiring.connect(m, responses, cap.i_resp)
            requests, responses = cap.o_req, cap.o_resp
        wiring.connect(m, responses, wiring.flipped(self.o_resp))
        m.submodules.interleaver = interleaver = ChannelInterleaver(self._interleave, request)
        wiring.connect(m, requests, interleaver.i_req)
        wiring.connect(m, interleaver.o_req, wiring.flipped(self.o_req))
        return m


def dma_port(m: Module, hw: HardwareConfig, o_req, i_resp):
    """Put ``hw``'s DMA port between the top's ``o_req`` / ``i_resp`` and its DMA engine (a
    submodule of ``m``, none with the defaults); return the (request, response) ends the
    engine's port connects to with ``wiring.connect``."""
    interleave = Interleave.from_hw(hw)
    if not hw.dma.requests_in_flight and interleave.identity:
        return wiring.flipped(o_req), wiring.flipped(i_resp)
    m.submodules.dma_port = port = DmaPort(hw.dma.requests_in_flight, interleave,
                                           o_req.payload.shape(), i_resp.payload.shape())
    wiring.connect(m, port.o_req, wiring.flipped(o_req))
    wiring.connect(m, wiring.flipped(i_resp), port.i_resp)
    return port.i_req, port.o_resp


def dma_port_for(hw: HardwareConfig) -> DmaPort:
    """Return ``hw``'s DMA port on the stand-alone layouts (:func:`port_layouts`; the FFN top
    passes its own)."""
    return DmaPort(hw.dma.requests_in_flight, Interleave.from_hw(hw), *port_layouts(hw))


def port_layouts(hw: HardwareConfig) -> tuple[data.StructLayout, data.StructLayout]:
    """Return the stand-alone port's request {``addr``, ``tag``} and response {``tag``}
    layouts; with request slots the tag is {``id``, ``slot``} and the request has ``first``."""
    slots = request_slots(hw)
    tag = (data.StructLayout({"id": PORT_TAG_BITS, "slot": slot_bits(slots)}) if slots
           else PORT_TAG_BITS)
    request = {"addr": hw.sequencer.address_bits, "tag": tag}
    if slots:
        request["first"] = 1
    return data.StructLayout(request), data.StructLayout({"tag": tag})
