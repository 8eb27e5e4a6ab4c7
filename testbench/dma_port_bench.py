"""cocotb bench of the DMA port: the case's per-cycle stimulus in, what leaves the port out.

The case, a :class:`~colsim.testbench.dma_port_cases.DmaPortCase`, comes as JSON in
``COLSIM_CASE``. In every cycle the bench drives the case's draw (the engine's request, held
until it passes; the memory's ``ready``; a response while a request is unanswered) right
after the rising edge (a response carries the tag of the transaction the draw picks), and
samples in ``ReadOnly`` whether a request passed (its address and tag) and whether a response
went through. The trace is written to ``COLSIM_REPORT`` (the
test compares it with the reference model's); the bench itself checks the handshake: the
engine sees ``ready`` exactly when its request passes.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from colsim.testbench.dma_port_cases import DmaPortCase, passed_request, request_word
from colsim.testbench.simd_bench import start_and_reset, write_report


@cocotb.test()
async def dma_port_trace(dut):
    """Drive the case's stimulus cycle by cycle; record the requests and responses."""
    spec = DmaPortCase.from_json(json.loads(os.environ["COLSIM_CASE"]))
    requests, draws = spec.requests(), spec.draws()
    request_layout, response_layout = spec.layouts()
    passed, responses = [], []
    unanswered = []  # the tags of the transactions passed and not answered, in order
    offering, cycle = False, 0
    await start_and_reset(dut)
    dut.o_resp__ready.value = 1
    dut.i_resp__payload.value = 0
    while len(passed) < len(requests) or unanswered:
        draw = next(draws)
        offering = offering or (draw.offer and len(passed) < len(requests))
        answer = draw.respond and bool(unanswered)
        dut.i_req__valid.value = int(offering)
        if offering:
            dut.i_req__payload.value = request_word(request_layout, *requests[len(passed)])
        dut.o_req__ready.value = int(draw.ready)
        dut.i_resp__valid.value = int(answer)
        if answer:
            tag = unanswered.pop(int(draw.pick * len(unanswered)))
            dut.i_resp__payload.value = tag << response_layout["tag"].offset
        await ReadOnly()
        moved = bool(dut.o_req__valid.value) and draw.ready
        if offering:  # the engine sees its request taken exactly when it passes
            assert bool(dut.i_req__ready.value) == moved, f"cycle {cycle}"
        if moved:
            address, tag = passed_request(request_layout, int(dut.o_req__payload.value))
            passed.append([cycle, address, tag])
            unanswered.append(tag)
            offering = False
        if dut.o_resp__valid.value:
            responses.append(cycle)
        await RisingEdge(dut.clk)
        cycle += 1
    write_report({"requests": passed, "responses": responses})
