"""Systolic engine: the reference model and the Amaranth RTL against numpy's int32 matmul."""

from __future__ import annotations

import random

import numpy as np
import pytest

from colsim.hw.systolic import SystolicEngine
from colsim.hw.systolic_model import (
    ResultRow,
    SystolicEngineModel,
    assemble_tiles,
    ideal_cycles,
    reference_matmul,
    tile_steps,
)
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testbench.operands import make_operands


def run_model(a, b, rows, cols):
    model = SystolicEngineModel(rows, cols)
    for step in tile_steps(a, b, rows, cols):
        model.step(step)
    return assemble_tiles(model.results, a.shape[0], b.shape[1], rows, cols)


def run_rtl(a, b, rows, cols, *, seed: int, stall: float):
    """Run the Amaranth RTL on ``a @ b``; return (product, cycles until the last result row)."""
    dut = SystolicEngine(rows, cols)
    steps = tile_steps(a, b, rows, cols)
    n_rows_out = sum(s.last for s in steps) * rows
    rng = random.Random(seed)
    rngs = [random.Random(rng.random()) for _ in range(3)]
    result: dict[str, object] = {}

    async def source_a(ctx):
        payloads = [{"data": list(s.a), "last": int(s.last)} for s in steps]
        await drive(ctx, dut.i_a, payloads, rng=rngs[0], stall=stall)

    async def source_b(ctx):
        await drive(ctx, dut.i_b, [list(s.b) for s in steps], rng=rngs[1], stall=stall)

    async def sink(ctx):
        received = await collect(ctx, dut.o_c, n_rows_out, rng=rngs[2], stall=stall)
        result["rows"] = [ResultRow(tuple(int(v) for v in p.data), bool(p.last))
                          for p in received]

    async def clock_counter(ctx):
        result["cycles"] = 0
        async for _ in ctx.tick():
            result["cycles"] += 1

    with simulation(dut, f"systolic_{rows}x{cols}") as sim:
        sim.add_testbench(source_a, background=True)
        sim.add_testbench(source_b, background=True)
        sim.add_testbench(clock_counter, background=True)
        sim.add_testbench(sink)
        sim.run()
    product = assemble_tiles(result["rows"], a.shape[0], b.shape[1], rows, cols)
    return product, result["cycles"]


@pytest.mark.parametrize("kind", ["random", "extreme", "min"])
@pytest.mark.parametrize(("m", "k", "n", "rows", "cols"), [
    (4, 5, 4, 2, 2), (5, 3, 7, 2, 3), (1, 1, 1, 4, 4), (9, 17, 6, 4, 4), (12, 8, 3, 8, 4),
])
def test_model_equals_numpy(m, k, n, rows, cols, kind):
    rng = np.random.default_rng(hash((m, k, n, rows, cols, kind)) % 2**32)
    a, b = make_operands(rng, m, k, n, kind)
    np.testing.assert_array_equal(run_model(a, b, rows, cols), reference_matmul(a, b))


@pytest.mark.parametrize(("m", "k", "n", "rows", "cols", "stall"), [
    (4, 6, 4, 2, 2, 0.0),      # exact fit, no stalls
    (5, 3, 7, 2, 3, 0.3),      # ragged in both M and N, K shorter than the array
    (8, 16, 8, 4, 4, 0.5),     # heavy source stalls and sink back-pressure
    (3, 1, 2, 4, 4, 0.2),      # K = 1 and a tile larger than the product
    (9, 10, 5, 8, 4, 0.3),     # 8x4 array, ragged
])
@pytest.mark.parametrize("kind", ["random", "extreme"])
def test_rtl_equals_numpy(m, k, n, rows, cols, stall, kind):
    rng = np.random.default_rng(abs(hash((m, k, n, rows, cols, kind))) % 2**32)
    a, b = make_operands(rng, m, k, n, kind)
    product, _ = run_rtl(a, b, rows, cols, seed=m * k * n, stall=stall)
    np.testing.assert_array_equal(product, reference_matmul(a, b))


@pytest.mark.parametrize(("rows", "cols", "k", "tiles"), [
    (4, 4, 12, 6),   # K >= R + C: one step per cycle
    (4, 4, 2, 6),    # K < R + C: each tile waits for the previous one to drain
    (2, 2, 1, 1),
    (8, 4, 8, 3),
])
def test_rtl_timing_equals_ideal_cycles(rows, cols, k, tiles):
    rng = np.random.default_rng(1)
    a, b = make_operands(rng, rows * tiles, k, cols, "random")
    product, cycles = run_rtl(a, b, rows, cols, seed=0, stall=0.0)
    np.testing.assert_array_equal(product, reference_matmul(a, b))
    assert cycles == ideal_cycles(tiles, k, rows, cols)
