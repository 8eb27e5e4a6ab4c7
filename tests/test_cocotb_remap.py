"""Hot-cold address remapper under cocotb 2 on Verilator against the DRAM model's decode."""

from __future__ import annotations

import pytest

from colsim.config import reference_hardware
from colsim.sim.dram import load_dram_config
from colsim.testbench.runner import run_bench

BENCH = "colsim.testbench.remap_bench"

pytestmark = pytest.mark.cocotb


def case(layout, *, preset="gddr6", seed=1, n=300, count=200, stall=0.3, stride=4096):
    capacity = load_dram_config(preset).organization.capacity_bytes
    return {"seed": seed, "preset": preset, "n": n, "layout": layout, "count": count,
            "base": capacity // 3 + 128 * seed, "stride": stride, "stall": stall}


def test_remap_matches_dram_decode_on_verilator(tmp_path):
    # 6 GDDR6 channels: the decode divides by a non-power of two in hardware.
    result = run_bench("remap", reference_hardware(), BENCH, case("random"),
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    assert result.report["index_bits"] == 13 and result.report["addr_bits"] == 34


@pytest.mark.slow
@pytest.mark.parametrize("bench_case", [
    case("hotcold", seed=2, stall=0.0),
    case("identity", seed=3, stall=0.5, stride=8192 * 6),
    case("random", seed=4, n=5120, count=500, stride=1 << 20),
])
def test_remap_matches_dram_decode_on_verilator_more_cases(bench_case, tmp_path):
    result = run_bench("remap", reference_hardware(), BENCH, bench_case,
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
