"""SIMD unit under cocotb 2 on Verilator against the numpy fixed-point reference."""

from __future__ import annotations

import pytest

from colsim.config import reference_hardware
from colsim.testbench.runner import run_bench

BENCH = "colsim.testbench.simd_bench"

pytestmark = pytest.mark.cocotb


def unit(lanes: int):
    return reference_hardware().with_overrides({"simd": {"lanes": lanes}})


def part(kind, shift, tau, *, count=120, group=4, source_stall=0.3, sink_stall=0.3):
    return {"kind": kind, "shift": shift, "tau": tau, "count": count, "group": group,
            "source_stall": source_stall, "sink_stall": sink_stall}


def case(seed, parts):
    simd = reference_hardware().simd
    return {"seed": seed, "frac_bits": simd.frac_bits, "segment_bits": simd.gelu_segment_bits,
            "parts": parts}


def test_simd_matches_reference_on_verilator(tmp_path):
    parts = [
        part("small", 8, 100),                                # working range, back-pressure
        part("near", 8, 0, sink_stall=0.6),                   # rounding/saturation edges, τ = 0
        part("extreme", 0, 32767, source_stall=0.0),          # int32 extremes, no shift
        part("random", 31, -1),                               # maximal shift, τ < 0: all hot
        part("small", 8, 10, count=50, source_stall=0.0, sink_stall=0.0),  # full throughput
    ]
    result = run_bench("simd", unit(4), BENCH, case(1, parts), results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    assert result.report["lanes"] == 4
    assert result.report["cycles"][-1] == 50 + 2  # one beat per cycle after two stages


@pytest.mark.slow
@pytest.mark.parametrize(("lanes", "seed"), [(4, 7), (1, 8), (2, 9)])
def test_simd_matches_reference_on_verilator_more_cases(lanes, seed, tmp_path):
    parts = [part(kind, shift, tau, count=300, group=group)
             for kind, shift, tau, group in [("near", 12, 255, 7), ("small", 4, 3, 1),
                                              ("random", 16, 1000, 32), ("extreme", 8, 0, 3)]]
    result = run_bench("simd", unit(lanes), BENCH, case(seed, parts),
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
