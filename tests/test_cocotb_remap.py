"""Hot-cold address remapper under cocotb 2 on Verilator against the DRAM model's decode."""

from __future__ import annotations

import pytest

from colsim.config import reference_hardware
from colsim.testbench.runner import run_bench

BENCH = "colsim.testbench.remap_bench"

pytestmark = pytest.mark.cocotb


def part(layout, *, n=300, count=150, stall=0.3, stride=4096, offset=0):
    capacity = reference_hardware().dram_config.organization.capacity_bytes
    return {"n": n, "layout": layout, "count": count, "base": capacity // 3 + offset,
            "stride": stride, "stall": stall}


def test_remap_matches_dram_decode_on_verilator(tmp_path):
    # 6 GDDR6 channels: the decode divides by a non-power of two in hardware.
    parts = [part("random"), part("hotcold", stall=0.0, offset=128),
             part("identity", stall=0.5, stride=8192 * 6, offset=256),
             part("random", n=5120, count=100, stride=1 << 20, offset=384)]
    result = run_bench("remap", reference_hardware(), BENCH, {"seed": 1, "parts": parts},
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    assert result.report["index_bits"] == 13 and result.report["addr_bits"] == 34
