"""cocotb bench of the channel interleaver: requests in, translated requests out, scoreboard.

The case, an :class:`~colsim.testbench.interleave_cases.InterleaveCase`, comes as JSON in
``COLSIM_CASE``; the expected requests come from
:meth:`colsim.hw.interleave_model.Interleave.physical` (the function the fast model applies).
A summary (the addresses and tags the DUT emitted) is written to ``COLSIM_REPORT`` when set.
"""

from __future__ import annotations

import json
import os

import cocotb

from colsim.hw.interleave_model import Interleave
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, random_pauses
from colsim.testbench.interleave_cases import InterleaveCase
from colsim.testbench.simd_bench import start_and_reset, write_report

TAG_BITS = 8  # the stand-alone block's tag (:func:`colsim.hw.interleave.interleaver_for`)


@cocotb.test()
async def interleave_requests(dut):
    """Stream the case's requests with random stalls; compare with the model's addresses."""
    spec = InterleaveCase.from_json(json.loads(os.environ["COLSIM_CASE"]))
    interleave = Interleave.from_hw(spec.hardware())
    addr_bits = len(dut.i_req__payload) - TAG_BITS
    addresses, tags = spec.requests()

    def decode(word: int) -> tuple[int, int]:
        return word & ((1 << addr_bits) - 1), word >> addr_bits

    await start_and_reset(dut)
    source = StreamSource(dut, "i_req", dut.clk, random_pauses(spec.seed, spec.stall))
    sink = StreamSink(dut, "o_req", dut.clk, random_pauses(spec.seed + 1, spec.stall),
                      decode=decode)
    tasks = [source.start([int(a) | int(t) << addr_bits
                           for a, t in zip(addresses, tags, strict=True)]),
             sink.start(spec.count)]
    for task in tasks:
        await task
    expected = [(interleave.physical(int(a)), int(t)) for a, t in zip(addresses, tags,
                                                                      strict=True)]
    assert sink.received == expected
    write_report({"addr_bits": addr_bits, "observed": [list(r) for r in sink.received]})
