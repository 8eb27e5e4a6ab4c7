"""cocotb bench of the systolic engine: drivers, monitor, reference model, scoreboard.

Run through :mod:`colsim.testbench.runner`. The case, a
:class:`~colsim.testbench.systolic_cases.SystolicCase` (product shape, operand kind, stall
probabilities, seed), comes as JSON in ``COLSIM_CASE``; the array size is read back from the
DUT's port widths, so one bench covers every parameter set. A summary (the product the DUT
returned, cycles, wall time) is written to ``COLSIM_REPORT`` when set.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from colsim.compat import handle_logger
from colsim.hw.systolic_model import (
    ResultRow,
    SystolicEngineModel,
    assemble_tiles,
    ideal_cycles,
    reference_matmul,
    tile_steps,
)
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, pack, random_pauses, unpack
from colsim.testbench.simd_bench import core_period_ps
from colsim.testbench.systolic_cases import SystolicCase


class SystolicTB:
    """Sources for ``i_a``/``i_b``, a sink for ``o_c``, and the reference model."""

    def __init__(self, dut, *, seed: int, source_stall: float, sink_stall: float) -> None:
        self.dut = dut
        self.rows = (len(dut.i_a__payload) - 1) // 16
        self.cols = len(dut.i_b__payload) // 16
        self.source_a = StreamSource(dut, "i_a", dut.clk, random_pauses(seed, source_stall))
        self.source_b = StreamSource(dut, "i_b", dut.clk, random_pauses(seed + 1, source_stall))
        self.sink = StreamSink(dut, "o_c", dut.clk, random_pauses(seed + 2, sink_stall),
                               decode=self._decode_row)
        self.model = SystolicEngineModel(self.rows, self.cols)

    def _decode_row(self, word: int) -> ResultRow:
        data = unpack(word, 32, self.cols)
        return ResultRow(tuple(data), bool((word >> (32 * self.cols)) & 1))

    async def reset(self) -> None:
        """Start the clock and hold reset for a few cycles."""
        Clock(self.dut.clk, core_period_ps(), unit="ps").start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def run_product(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
        """Stream ``a @ b`` through the DUT; return the product and its cycles.

        Cycles count from the first accepted step to the last result row, inclusive (the
        convention of :func:`~colsim.hw.systolic_model.ideal_cycles`).
        """
        steps = tile_steps(a, b, self.rows, self.cols)
        for step in steps:
            self.model.step(step)
        a_beats = [pack(s.a, 16) | (int(s.last) << (16 * self.rows)) for s in steps]
        b_beats = [pack(s.b, 16) for s in steps]
        tasks = [self.source_a.start(a_beats), self.source_b.start(b_beats),
                 self.sink.start(len(self.model.results))]
        for task in tasks:
            await task
        span = self.sink.last_transfer - self.source_a.first_transfer
        cycles = int(span // core_period_ps()) + 1
        product = assemble_tiles(self.sink.received, a.shape[0], b.shape[1],
                                 self.rows, self.cols)
        return product, cycles


@cocotb.test()
async def matmul(dut):
    """Stream a random product through the engine; the scoreboard compares with numpy."""
    case = json.loads(os.environ["COLSIM_CASE"])
    tb = SystolicTB(dut, seed=case["seed"], source_stall=case["source_stall"],
                    sink_stall=case["sink_stall"])
    spec = SystolicCase.from_json({**case, "rows": tb.rows, "cols": tb.cols})
    a, b = spec.operands()
    await tb.reset()
    wall = time.perf_counter()
    product, cycles = await tb.run_product(a, b)
    wall = time.perf_counter() - wall
    # Scoreboard: RTL == transaction-level model == numpy int32 matmul.
    expected = reference_matmul(a, b)
    if case.get("corrupt_expected"):  # self-test of the bench: the scoreboard must fail
        expected = expected + 1
    model = assemble_tiles(tb.model.results, a.shape[0], b.shape[1], tb.rows, tb.cols)
    np.testing.assert_array_equal(model, expected)
    np.testing.assert_array_equal(product, expected)
    if not spec.stalls:
        assert cycles == ideal_cycles(spec.tiles, spec.k, tb.rows, tb.cols)
    handle_logger(dut).info("%dx%d engine, %s product: %d cycles, %.2f s wall, %.0f cycles/s",
                            tb.rows, tb.cols, (spec.m, spec.k, spec.n), cycles, wall,
                            cycles / wall)
    if os.environ.get("COLSIM_REPORT"):
        with open(os.environ["COLSIM_REPORT"], "w") as handle:
            json.dump({"rows": tb.rows, "cols": tb.cols, "cycles": cycles,
                       "wall_seconds": wall, "cycles_per_second": cycles / wall,
                       "product": product.tolist(), **case}, handle)
