"""cocotb bench of the hot-cold address remapper: table programming, requests, scoreboard.

The case (seed, DRAM preset, N, layout kind, request count, base, stride, stall probability)
comes as JSON in ``COLSIM_CASE``; the expected requests come from
:func:`colsim.hw.remap_model.remap`, i.e. from the DRAM model's own ``decode``.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from colsim.hw.remap_model import RemapRequest, decode_stages, remap
from colsim.sim.dram import load_dram_config
from colsim.sim.dram.config import LEVELS
from colsim.sim.layout import Layout, hotcold_layout, rowmajor_layout
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, pack, random_pauses
from colsim.testbench.simd_bench import start_and_reset, write_report

LAYOUT_KINDS = ("random", "hotcold", "identity")


def make_layout(rng: np.random.Generator, n: int, kind: str) -> Layout:
    """Return a layout of N columns: a random permutation, a hot-cold one, or row-major."""
    if kind == "random":
        return Layout("perlayer", rng.permutation(n))
    if kind == "hotcold":
        return hotcold_layout(rng.random(n) < 0.3)
    if kind == "identity":
        return rowmajor_layout(n)
    raise ValueError(f"`kind` must be one of {', '.join(LAYOUT_KINDS)}, not {kind!r}")


@cocotb.test()
async def remap_requests(dut):
    """Program the table, stream requests, compare addresses and coordinates with the model."""
    case = json.loads(os.environ["COLSIM_CASE"])
    config = load_dram_config(case["preset"])
    rng = np.random.default_rng(case["seed"])
    layout = make_layout(rng, case["n"], case["layout"])
    columns = rng.integers(0, case["n"], case["count"])
    offsets = rng.integers(0, 1 << 12, case["count"])
    expected = remap(layout, columns, offsets, base=case["base"], stride=case["stride"],
                     config=config)
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

    await start_and_reset(dut)
    dut.base.value = case["base"]
    dut.stride.value = case["stride"]
    dut.identity.value = int(case["layout"] == "identity")
    stall = case["stall"]
    if case["layout"] != "identity":
        table = StreamSource(dut, "i_table", dut.clk, random_pauses(case["seed"], stall))
        await table.start([pack([n, int(slot)], index_bits)
                           for n, slot in enumerate(layout.slot_of)])
    source = StreamSource(dut, "i_col", dut.clk, random_pauses(case["seed"] + 1, stall))
    sink = StreamSink(dut, "o_req", dut.clk, random_pauses(case["seed"] + 2, stall),
                      decode=decode)
    words = [int(c) | int(o) << index_bits | int(k == case["count"] - 1) << (index_bits
                                                                             + addr_bits)
             for k, (c, o) in enumerate(zip(columns, offsets, strict=True))]
    tasks = [source.start(words), sink.start(case["count"])]
    for task in tasks:
        await task
    assert [request for request, _ in sink.received] == expected
    assert [last for _, last in sink.received] == [k == case["count"] - 1
                                                   for k in range(case["count"])]
    write_report({"index_bits": index_bits, "addr_bits": addr_bits, **case})
