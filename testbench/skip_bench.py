"""cocotb bench of the column-mask skip logic: mask driver, column monitor, model, scoreboard.

The case, a :class:`~colsim.testbench.skip_cases.SkipCase` (seed, array width C, and
``layers``: each a mask kind, N and a stall probability, run one after another in one
simulation), comes as JSON in ``COLSIM_CASE``; the mask word width (which must be C) and the
index width are read back from the DUT. A summary (the columns and counters the DUT returned
per layer) is written to ``COLSIM_REPORT`` when set.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from colsim.hw.skip_model import IssuedColumn, mask_words, skip_columns
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, random_pauses
from colsim.testbench.simd_bench import start_and_reset, write_report
from colsim.testbench.skip_cases import SkipCase


@cocotb.test()
async def skip_layers(dut):
    """Run each layer's mask; compare issued columns and counters with the model."""
    case = json.loads(os.environ["COLSIM_CASE"])
    spec = SkipCase.from_json(case)
    index_bits = len(dut.columns)
    slot_bits = max(1, (max(spec.cols, 2) - 1).bit_length())

    def decode(word: int) -> IssuedColumn:
        column = word & ((1 << index_bits) - 1)
        slot = (word >> index_bits) & ((1 << slot_bits) - 1)
        flags = word >> (index_bits + slot_bits)
        return IssuedColumn(column, slot, bool(flags & 1), bool(flags & 2))

    await start_and_reset(dut)
    width = len(dut.i_mask__payload)
    assert width == spec.cols, f"the DUT's mask words have {width} bits, the array {spec.cols}"
    layers = []
    for index, layer in enumerate(spec.layers):
        seed = spec.seed + 3 * index
        hot = spec.mask(index)
        expected = skip_columns(hot, spec.cols)
        dut.columns.value = hot.size
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        source = StreamSource(dut, "i_mask", dut.clk, random_pauses(seed, layer.stall))
        sink = StreamSink(dut, "o_col", dut.clk, random_pauses(seed + 1, layer.stall),
                          decode=decode)
        tasks = [source.start(mask_words(hot, width)), sink.start(expected.issued)]
        for task in tasks:
            await task
        while True:
            await ReadOnly()
            if not dut.busy.value:
                break
            await RisingEdge(dut.clk)
        assert sink.received == list(expected.columns), f"layer {index} ({layer.kind})"
        counters = (int(dut.issued.value), int(dut.skipped.value))
        assert counters == (expected.issued, expected.skipped), f"layer {index} counters"
        layers.append({"columns": [[c.column, c.slot, c.tile_last, c.last]
                                   for c in sink.received],
                       "issued": counters[0], "skipped": counters[1]})
        await RisingEdge(dut.clk)
    write_report({"mask_width": width, "index_bits": index_bits, "observed": layers, **case})
