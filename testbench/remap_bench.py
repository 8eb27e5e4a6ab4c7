"""cocotb bench of the hot-cold address remapper: table programming, requests, scoreboard.

The case, a :class:`~colsim.testbench.remap_cases.RemapCase` (seed, DRAM preset and
``parts``, each with N, a layout kind, a request count, base, stride and a stall probability,
run one after another in one simulation), comes as JSON in ``COLSIM_CASE`` with the resolved
DRAM configuration of the block's hardware (``dram``, added by the runner); the expected
requests come from :func:`colsim.hw.remap_model.remap`, i.e. from the DRAM model's own
``decode``. A summary (the requests the DUT emitted per part) is written to
``COLSIM_REPORT`` when set.
"""

from __future__ import annotations

import json
import os

import cocotb

from colsim.config.loader import from_mapping
from colsim.hw.remap_model import RemapRequest, decode_stages, remap
from colsim.sim.dram.config import LEVELS, DramConfig
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, pack, random_pauses
from colsim.testbench.remap_cases import RemapCase
from colsim.testbench.simd_bench import start_and_reset, write_report


@cocotb.test()
async def remap_requests(dut):
    """Per part: program the table, stream requests, compare with the model's requests."""
    case = json.loads(os.environ["COLSIM_CASE"])
    config = from_mapping(DramConfig, case["dram"])
    index_bits = len(dut.i_table__payload) // 2
    addr_bits = len(dut.base)
    widths = {s.level: max(1, (s.radix - 1).bit_length()) for s in decode_stages(config)}

    def decode(word: int) -> tuple[RemapRequest, bool]:
        address = word & ((1 << addr_bits) - 1)
        shift, coordinates = addr_bits, {}
        for level, width in widths.items():
            coordinates[level] = (word >> shift) & ((1 << width) - 1)
            shift += width
        request = RemapRequest(address, tuple(coordinates[level] for level in LEVELS))
        return request, bool((word >> shift) & 1)

    spec = RemapCase.from_json(case)
    observed = []
    await start_and_reset(dut)
    for index, part in enumerate(spec.parts):
        seed = spec.seed + 3 * index
        layout, columns, offsets = spec.requests(index)
        count = part.count
        expected = remap(layout, columns, offsets, base=part.base, stride=part.stride,
                         config=config)
        dut.base.value = part.base
        dut.stride.value = part.stride
        dut.identity.value = int(part.layout == "identity")
        stall = part.stall
        if part.layout != "identity":
            table = StreamSource(dut, "i_table", dut.clk, random_pauses(seed, stall))
            await table.start([pack([n, int(slot)], index_bits)
                               for n, slot in enumerate(layout.slot_of)])
        source = StreamSource(dut, "i_col", dut.clk, random_pauses(seed + 1, stall))
        sink = StreamSink(dut, "o_req", dut.clk, random_pauses(seed + 2, stall),
                          decode=decode)
        last_bit = index_bits + addr_bits
        words = [int(c) | int(o) << index_bits | int(k == count - 1) << last_bit
                 for k, (c, o) in enumerate(zip(columns, offsets, strict=True))]
        tasks = [source.start(words), sink.start(count)]
        for task in tasks:
            await task
        assert [request for request, _ in sink.received] == expected, f"part {index}"
        assert [last for _, last in sink.received] == [k == count - 1 for k in range(count)]
        observed.append([[request.address, request.coordinates, last]
                         for request, last in sink.received])
    write_report({"index_bits": index_bits, "addr_bits": addr_bits, "observed": observed,
                  **case})
