"""Systolic engine under cocotb 2 on Verilator, through cocotb_tools.runner."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from colsim.config import reference_hardware
from colsim.testbench.runner import BenchFailure, has_c_header, run_bench

BENCH = "colsim.testbench.systolic_bench"

pytestmark = pytest.mark.cocotb


def engine(rows: int, cols: int):
    return reference_hardware().with_overrides({"systolic": {"rows": rows, "cols": cols}})


def case(m, k, n, kind="random", seed=1, source_stall=0.3, sink_stall=0.3, **extra):
    return {"m": m, "k": k, "n": n, "kind": kind, "seed": seed,
            "source_stall": source_stall, "sink_stall": sink_stall, **extra}


CASES = [
    # (rows, cols, case)
    (4, 4, case(9, 7, 6, "random")),                         # ragged M and N
    (4, 4, case(8, 16, 8, "extreme", source_stall=0.5)),     # int32 wrap-around, heavy stalls
    (8, 4, case(5, 3, 11, "min", sink_stall=0.6)),           # K < R + C, heavy back-pressure
]
SLOW_CASES = [
    (2, 2, case(7, 9, 5, "random", seed=2)),
    (2, 2, case(1, 1, 1, "extreme", seed=3)),
    (8, 8, case(17, 33, 12, "random", seed=4)),
    (8, 4, case(16, 40, 16, "extreme", seed=5, source_stall=0.0, sink_stall=0.0)),
]


@pytest.mark.parametrize(("rows", "cols", "bench_case"), CASES)
def test_engine_matches_numpy_on_verilator(rows, cols, bench_case, tmp_path):
    result = run_bench("systolic", engine(rows, cols), BENCH, bench_case,
                       results_xml=tmp_path / "results.xml")
    assert (result.tests, result.failed) == (1, 0)
    testcase = ET.parse(result.results_xml).getroot().find(".//testcase")
    assert testcase is not None and testcase.find("failure") is None
    assert result.report["rows"] == rows and result.report["cols"] == cols


@pytest.mark.slow
@pytest.mark.parametrize(("rows", "cols", "bench_case"), SLOW_CASES)
def test_engine_matches_numpy_on_verilator_more_shapes(rows, cols, bench_case, tmp_path):
    result = run_bench("systolic", engine(rows, cols), BENCH, bench_case,
                       results_xml=tmp_path / "results.xml")
    assert (result.tests, result.failed) == (1, 0)


def test_failing_scoreboard_fails_the_caller(tmp_path):
    """A scoreboard mismatch inside cocotb must surface as a failure in pytest."""
    with pytest.raises(BenchFailure, match="1 of 1 cocotb tests failed"):
        run_bench("systolic", engine(4, 4), BENCH, case(4, 4, 4, corrupt_expected=True),
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
    result = run_bench("systolic", engine(2, 2), BENCH, case(3, 2, 3, seed=7),
                       results_xml=tmp_path / "results.xml")
    assert result.waveform is not None and result.waveform.suffix == f".{fmt}"
    assert result.waveform.stat().st_size > 0
