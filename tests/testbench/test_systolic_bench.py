"""The systolic engine's cocotb bench itself: failures surface, waveforms on request.

The engine's cases run on Verilator with every other implementation in
``tests/hw/test_systolic.py``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from colsim.testbench.runner import BenchFailure, has_c_header, run_bench
from colsim.testbench.systolic_cases import SystolicCase

BENCH = "colsim.testbench.systolic_bench"

pytestmark = pytest.mark.cocotb


def test_failing_scoreboard_fails_the_caller(tmp_path):
    """A scoreboard mismatch inside cocotb must surface as a failure in pytest."""
    case = SystolicCase(4, 4, 4, 4, 4, "random", seed=1)
    with pytest.raises(BenchFailure, match="1 of 1 cocotb tests failed"):
        run_bench("systolic", case.hardware(), BENCH,
                  {**case.to_json(), "corrupt_expected": True},
                  results_xml=tmp_path / "results.xml")
    testcase = ET.parse(tmp_path / "results.xml").getroot().find(".//testcase")
    assert testcase is not None and testcase.find("failure") is not None


@pytest.mark.parametrize("fmt", ["vcd", "fst"])
def test_waveform_on_request(fmt, tmp_path, monkeypatch):
    """``waves`` (or COLSIM_WAVES) records a waveform; FST needs the lz4 headers."""
    if fmt == "fst" and not has_c_header("lz4.h"):
        pytest.skip("FST needs the lz4 headers (Debian: liblz4-dev)")
    monkeypatch.setenv("COLSIM_WAVES_FORMAT", fmt)
    monkeypatch.setenv("COLSIM_WAVES", "1")
    case = SystolicCase(2, 2, 3, 2, 3, "random", seed=7)
    result = run_bench("systolic", case.hardware(), BENCH, case.to_json(),
                       results_xml=tmp_path / "results.xml")
    assert result.waveform is not None and result.waveform.suffix == f".{fmt}"
    assert result.waveform.stat().st_size > 0
