"""The DMA's DRAM port: the blocks between the FFN top's DMA engine and its request/response
ports, as ``dma`` configures them.

From the engine outwards: the request cap (:class:`~colsim.hw.request_cap.RequestCap`, when
``dma.requests_in_flight`` is set) and the channel interleaver
(:class:`~colsim.hw.interleave.ChannelInterleaver`, when ``dma.channels`` uses fewer than all
of the DRAM's channels). Neither adds a cycle; with the defaults neither is built and the
engine drives the ports itself.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from colsim.config import HardwareConfig
from colsim.hw.interleave import ChannelInterleaver
from colsim.hw.interleave_model import Interleave
from colsim.hw.request_cap import RequestCap


def dma_port(m: Module, hw: HardwareConfig, o_req, i_resp):
    """Put ``hw``'s port blocks between the top's ``o_req`` / ``i_resp`` and its DMA engine
    (as submodules of ``m``); return the (request, response) streams the engine uses."""
    req_sink, req = wiring.flipped(o_req), o_req
    resp_source, resp = wiring.flipped(i_resp), i_resp
    interleave = Interleave.from_hw(hw)
    if not interleave.identity:
        m.submodules.interleaver = block = ChannelInterleaver(interleave, o_req.payload.shape())
        wiring.connect(m, block.o_req, req_sink)
        req_sink = req = block.i_req
    if hw.dma.requests_in_flight:
        m.submodules.request_cap = cap = RequestCap(
            hw.dma.requests_in_flight, o_req.payload.shape(), i_resp.payload.shape())
        wiring.connect(m, cap.o_req, req_sink)
        wiring.connect(m, resp_source, cap.i_resp)
        req, resp = cap.i_req, cap.o_resp
    return req, resp
