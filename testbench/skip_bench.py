"""cocotb bench of the column-mask skip logic: mask driver, column monitor, model, scoreboard.

The case (seed, tile width C, and ``layers``: each a mask kind, N and stall probabilities,
run one after another in one simulation) comes as JSON in ``COLSIM_CASE``; the mask word
width and the index width are read back from the DUT.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from colsim.hw.skip_model import IssuedColumn, mask_words, skip_columns
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, random_pauses
from colsim.testbench.simd_bench import start_and_reset, write_report

MASK_KINDS = ("all_hot", "all_cold", "single", "last_only", "sparse", "half", "dense")


def make_mask(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Return an N-column hot mask of the given kind (edge cases and random densities)."""
    if kind not in MASK_KINDS:
        raise ValueError(f"`kind` must be one of {', '.join(MASK_KINDS)}, not {kind!r}")
    if kind == "all_hot":
        return np.ones(n, bool)
    if kind == "all_cold":
        return np.zeros(n, bool)
    if kind == "single":
        mask = np.zeros(n, bool)
        mask[rng.integers(n)] = True
        return mask
    if kind == "last_only":
        mask = np.zeros(n, bool)
        mask[-1] = True
        return mask
    return rng.random(n) < {"sparse": 0.1, "half": 0.5, "dense": 0.9}[kind]


@cocotb.test()
async def skip_layers(dut):
    """Run each layer's mask; compare issued columns and counters with the model."""
    case = json.loads(os.environ["COLSIM_CASE"])
    index_bits = len(dut.columns)
    slot_bits = max(1, (max(case["tile"], 2) - 1).bit_length())

    def decode(word: int) -> IssuedColumn:
        column = word & ((1 << index_bits) - 1)
        slot = (word >> index_bits) & ((1 << slot_bits) - 1)
        flags = word >> (index_bits + slot_bits)
        return IssuedColumn(column, slot, bool(flags & 1), bool(flags & 2))

    await start_and_reset(dut)
    width = len(dut.i_mask__payload)
    for index, layer in enumerate(case["layers"]):
        seed = case["seed"] + 3 * index
        hot = make_mask(np.random.default_rng(seed), layer["n"], layer["kind"])
        expected = skip_columns(hot, case["tile"])
        dut.columns.value = hot.size
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        source = StreamSource(dut, "i_mask", dut.clk, random_pauses(seed, layer["stall"]))
        sink = StreamSink(dut, "o_col", dut.clk, random_pauses(seed + 1, layer["stall"]),
                          decode=decode)
        tasks = [source.start(mask_words(hot, width)), sink.start(expected.issued)]
        for task in tasks:
            await task
        while True:
            await ReadOnly()
            if not dut.busy.value:
                break
            await RisingEdge(dut.clk)
        assert sink.received == list(expected.columns), f"layer {index} ({layer['kind']})"
        counters = (int(dut.issued.value), int(dut.skipped.value))
        assert counters == (expected.issued, expected.skipped), f"layer {index} counters"
        await RisingEdge(dut.clk)
    write_report({"mask_width": width, "index_bits": index_bits, **case})
