"""Systolic engine: one spec on the reference model, the Amaranth RTL and Verilator.

Every case of :data:`~colsim.testbench.systolic_cases.SYSTOLIC_CASES` runs on each
implementation (the ``implementation`` fixture of ``conftest.py``); the product must equal
numpy's int32 matmul, and an unstalled run must take exactly
:func:`~colsim.hw.systolic_model.ideal_cycles` where the implementation has timing.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass

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
from colsim.testbench.runner import run_bench
from colsim.testbench.systolic_cases import SYSTOLIC_CASES, SystolicCase


@dataclass(frozen=True)
class EngineRun:
    """What one implementation returned: the product and its cycles (``None``: untimed)."""

    product: np.ndarray
    cycles: int | None


def run_model(case: SystolicCase, tmp_path) -> EngineRun:
    """Run the transaction-level model (no timing)."""
    a, b = case.operands()
    model = SystolicEngineModel(case.rows, case.cols)
    for step in tile_steps(a, b, case.rows, case.cols):
        model.step(step)
    return EngineRun(assemble_tiles(model.results, case.m, case.n, case.rows, case.cols), None)


def run_amaranth(case: SystolicCase, tmp_path) -> EngineRun:
    """Run the Amaranth RTL; cycles count until the last result row."""
    a, b = case.operands()
    dut = SystolicEngine(case.rows, case.cols)
    steps = tile_steps(a, b, case.rows, case.cols)
    n_rows_out = sum(s.last for s in steps) * case.rows
    rng = random.Random(case.seed)
    rngs = [random.Random(rng.random()) for _ in range(3)]
    result: dict[str, object] = {}

    async def source_a(ctx):
        payloads = [{"data": list(s.a), "last": int(s.last)} for s in steps]
        await drive(ctx, dut.i_a, payloads, rng=rngs[0], stall=case.source_stall)

    async def source_b(ctx):
        await drive(ctx, dut.i_b, [list(s.b) for s in steps], rng=rngs[1],
                    stall=case.source_stall)

    async def sink(ctx):
        received = await collect(ctx, dut.o_c, n_rows_out, rng=rngs[2], stall=case.sink_stall)
        result["rows"] = [ResultRow(tuple(int(v) for v in p.data), bool(p.last))
                          for p in received]

    async def clock_counter(ctx):
        result["cycles"] = 0
        async for _ in ctx.tick():
            result["cycles"] += 1

    with simulation(dut, f"systolic_{case.name}") as sim:
        sim.add_testbench(source_a, background=True)
        sim.add_testbench(source_b, background=True)
        sim.add_testbench(clock_counter, background=True)
        sim.add_testbench(sink)
        sim.run()
    product = assemble_tiles(result["rows"], case.m, case.n, case.rows, case.cols)
    return EngineRun(product, result["cycles"])


def run_verilator(case: SystolicCase, tmp_path) -> EngineRun:
    """Run the cocotb bench on Verilator (one build per array size); return its report."""
    result = run_bench("systolic", case.hardware(), "colsim.testbench.systolic_bench",
                       case.to_json(), results_xml=tmp_path / "results.xml")
    assert (result.tests, result.failed) == (1, 0)
    testcase = ET.parse(result.results_xml).getroot().find(".//testcase")
    assert testcase is not None and testcase.find("failure") is None
    report = result.report
    assert (report["rows"], report["cols"]) == (case.rows, case.cols)
    return EngineRun(np.array(report["product"], dtype=np.int32).reshape(case.m, case.n),
                     report["cycles"])


RUNNERS = {"model": run_model, "amaranth": run_amaranth, "verilator": run_verilator}


@pytest.mark.parametrize("case", SYSTOLIC_CASES, ids=lambda case: case.name)
def test_engine_equals_numpy(run, case, tmp_path):
    a, b = case.operands()
    got = run(case, tmp_path)
    np.testing.assert_array_equal(got.product, reference_matmul(a, b))
    if got.cycles is not None and not case.stalls:
        assert got.cycles == ideal_cycles(case.tiles, case.k, case.rows, case.cols)
