"""SIMD unit: the fixed-point reference against torch / brute force, and one spec on every
implementation.

Every case of :data:`~colsim.testbench.simd_cases.SIMD_CASES` runs on the reference model,
the Amaranth RTL and Verilator (the ``implementation`` fixture of ``conftest.py``); each part's
results must equal the fixed-point reference, and an unstalled part must stream one beat per
cycle where the implementation has timing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from colsim.config import reference_hardware
from colsim.errors import ConfigError
from colsim.fixed_arith import (
    SimdOp,
    gelu_fixed,
    gelu_table,
    hot_bits,
    requantise,
    simd_apply,
)
from colsim.hw.simd import SimdUnit
from colsim.hw.simd_model import SimdResult, SimdUnitModel
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testbench.runner import run_bench
from colsim.testbench.simd_cases import SIMD_CASES, SimdCase, make_simd_beats

ALL_INT16 = np.arange(-(1 << 15), 1 << 15)


@dataclass(frozen=True)
class UnitRun:
    """What one implementation returned: results and cycles per part (``None``: untimed)."""

    results: list[list[SimdResult]]
    cycles: list[int] | None


def gelu_error(frac_bits: int, segment_bits: int) -> float:
    """Return the max |gelu_fixed - torch gelu| over every int16 input, in real units."""
    y = gelu_fixed(ALL_INT16, gelu_table(frac_bits, segment_bits))
    exact = torch.nn.functional.gelu(torch.tensor(ALL_INT16 / 2.0**frac_bits,
                                                  dtype=torch.float64)).numpy()
    return float(np.abs(y / 2.0**frac_bits - exact).max())


def test_gelu_error_at_the_reference_format_is_the_documented_one():
    simd = reference_hardware().simd
    error = gelu_error(simd.frac_bits, simd.gelu_segment_bits)
    assert error == pytest.approx(0.00410, abs=5e-6)  # stated in colsim/fixed_arith.py and README


@pytest.mark.parametrize(("frac_bits", "segment_bits"), [(8, 3), (8, 2), (12, 3), (4, 2), (6, 6)])
def test_gelu_error_is_within_interpolation_bound_plus_one_lsb(frac_bits, segment_bits):
    # Linear interpolation error of h(t) = t·Φ(-t): max|h''|·w²/8 with max|h''| = 2φ(0).
    interpolation = 2 / np.sqrt(2 * np.pi) * 2.0 ** (-2 * segment_bits) / 8
    assert gelu_error(frac_bits, segment_bits) <= interpolation + 2.0**-frac_bits


def test_gelu_is_exact_far_from_zero():
    table = gelu_table(8, 3)
    big = np.array([32767, 20000, 2048, -32768, -20000, -2048])
    np.testing.assert_array_equal(gelu_fixed(big, table), np.maximum(big, 0))


def brute_requantise(value: int, shift: int) -> int:
    rounded = (value + (1 << shift) // 2) // (1 << shift)  # floor division: half rounds up
    return max(-32768, min(32767, rounded))


def test_requantise_rounds_half_up_and_saturates():
    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.integers(-(1 << 31), 1 << 31, 2000),
        np.array([-(1 << 31), (1 << 31) - 1, 0, -1, 1, 128, -128, 127, -129, 383, -384]),
    ])
    for shift in (0, 1, 7, 8, 15, 16, 31):
        expected = [brute_requantise(int(v), shift) for v in values]
        np.testing.assert_array_equal(requantise(values, shift), expected)
    assert requantise(np.array([128, -128, 384, -384]), 8).tolist() == [1, 0, 2, -1]


def test_simd_ops_match_float_within_stated_tolerance():
    rng = np.random.default_rng(5)
    table = gelu_table(8, 3)
    scale = 2.0**8
    a = rng.integers(-(1 << 17), 1 << 17, 4000)  # Q.16 accumulators, |x| < 2 after shift 8
    b = rng.integers(-(1 << 17), 1 << 17, 4000)
    gate, value = requantise(a, 8) / scale, requantise(b, 8) / scale
    gelu = torch.nn.functional.gelu(torch.tensor(gate, dtype=torch.float64)).numpy()
    gelu_bound = gelu_error(8, 3)
    got = simd_apply(SimdOp.GELU, a, b, shift=8, table=table) / scale
    assert np.abs(got - gelu).max() <= gelu_bound
    got = simd_apply(SimdOp.GEGLU, a, b, shift=8, table=table) / scale
    # value·(gelu + e) rounded once more: |value|·gelu_bound + half an LSB.
    assert np.all(np.abs(got - value * gelu) <= np.abs(value) * gelu_bound + 0.5 / scale)
    got = simd_apply(SimdOp.ADD, a, b, shift=8, table=table)
    expected = [brute_requantise(int(x + y), 8) for x, y in zip(a, b, strict=True)]
    np.testing.assert_array_equal(got, expected)


def test_hot_bits_compare_magnitude_strictly():
    y = np.array([0, 1, -1, 5, -5, 6, -32768, 32767])
    assert hot_bits(y, 5).tolist() == [False, False, False, False, False, True, True, True]
    assert hot_bits(y, 0).tolist() == [False, True, True, True, True, True, True, True]
    assert hot_bits(y, -1).all()


def test_model_or_reduces_hot_bits_over_a_group():
    model = SimdUnitModel(4, 8, 3)
    beats = make_simd_beats(np.random.default_rng(1), 4, 12, "small", group=3)
    out = model.process(beats, shift=8, tau=60)
    for start in range(0, 12, 3):
        group = [np.abs(np.array(r.data)) > 60 for r in out[start:start + 3]]
        assert out[start + 2].hot == tuple(np.logical_or.reduce(group))
        assert out[start].hot == tuple(group[0])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lanes": 0, "frac_bits": 8, "segment_bits": 3}, "`lanes` must be a positive integer"),
    ({"lanes": 4, "frac_bits": 15, "segment_bits": 3}, "`simd.frac_bits` must be in"),
    ({"lanes": 4, "frac_bits": 2, "segment_bits": 3}, "`simd.gelu_segment_bits` must be in"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SimdUnitModel(**kwargs)


def test_bad_registers_are_named():
    with pytest.raises(ConfigError, match="`shift` must be in"):
        requantise(np.array([1]), 32)
    with pytest.raises(ConfigError, match="`tau` must be an int16 value, not 40000"):
        hot_bits(np.array([1]), 40000)


def run_model(case: SimdCase, tmp_path) -> UnitRun:
    """Run the transaction-level model on each part (no timing)."""
    model = SimdUnitModel(case.lanes, case.frac_bits, case.segment_bits)
    return UnitRun([model.process(case.beats(index), shift=part.shift, tau=part.tau)
                    for index, part in enumerate(case.parts)], None)


def run_amaranth(case: SimdCase, tmp_path) -> UnitRun:
    """Run each part in the Amaranth simulator; cycles count until its last result."""
    runs = [_simulate_part(case, index) for index in range(len(case.parts))]
    return UnitRun([results for results, _ in runs], [cycles for _, cycles in runs])


def _simulate_part(case: SimdCase, index: int) -> tuple[list[SimdResult], int]:
    """Run part ``index`` on a fresh unit; return its results and the cycles until the last."""
    part, beats = case.parts[index], case.beats(index)
    dut = SimdUnit(case.lanes, case.frac_bits, case.segment_bits)
    rng = random.Random(case.seed + 3 * index)
    source_rng, sink_rng = random.Random(rng.random()), random.Random(rng.random())
    result: dict[str, object] = {"cycles": 0}

    async def source(ctx):
        ctx.set(dut.shift, part.shift)
        ctx.set(dut.tau, part.tau)
        payloads = [{"op": int(b.op), "a": list(b.a), "b": list(b.b), "last": int(b.last)}
                    for b in beats]
        await drive(ctx, dut.i_data, payloads, rng=source_rng, stall=part.source_stall)

    async def sink(ctx):
        received = await collect(ctx, dut.o_data, len(beats), rng=sink_rng,
                                 stall=part.sink_stall)
        result["out"] = [
            SimdResult(tuple(int(v) for v in p.data),
                       tuple(bool((int(p.hot) >> i) & 1) for i in range(case.lanes)),
                       bool(p.last))
            for p in received
        ]

    async def clock_counter(ctx):
        async for _ in ctx.tick():
            result["cycles"] += 1

    with simulation(dut, f"simd_{case.name}_{index}") as sim:
        sim.add_testbench(source, background=True)
        sim.add_testbench(clock_counter, background=True)
        sim.add_testbench(sink)
        sim.run()
    return result["out"], result["cycles"]


def run_verilator(case: SimdCase, tmp_path) -> UnitRun:
    """Run the cocotb bench on Verilator (one build per unit); return its report."""
    result = run_bench("simd", case.hardware(), "colsim.testbench.simd_bench", case.to_json(),
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    report = result.report
    assert report["lanes"] == case.lanes
    results = [[SimdResult(tuple(data), tuple(hot), last) for data, hot, last in part]
               for part in report["observed"]]
    return UnitRun(results, report["cycles"])


RUNNERS = {"model": run_model, "amaranth": run_amaranth, "verilator": run_verilator}


@pytest.mark.parametrize("case", SIMD_CASES, ids=lambda case: case.name)
def test_unit_equals_reference(run, case, tmp_path):
    got = run(case, tmp_path)
    assert len(got.results) == len(case.parts)
    for index, part in enumerate(case.parts):
        reference = SimdUnitModel(case.lanes, case.frac_bits, case.segment_bits)
        expected = reference.process(case.beats(index), shift=part.shift, tau=part.tau)
        assert got.results[index] == expected, f"part {index} ({part.kind}) differs"
        if got.cycles is not None and not part.stalls:
            assert got.cycles[index] == part.count + 2  # one beat per cycle after two stages
