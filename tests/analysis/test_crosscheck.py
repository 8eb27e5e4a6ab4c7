"""The fast model equals the RTL: the cross-check case sets on Verilator, and its command."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from colsim.analysis.crosscheck import compare_iterations, crosscheck_case
from colsim.cli import main
from colsim.errors import ColsimError
from colsim.testbench.ffn_cases import DEFAULT_CASES, QUICK_CASES, FfnCase, load_cases

pytestmark = pytest.mark.cocotb


def assert_matches(result) -> None:
    assert all(result.checks.values()), result.checks
    for it in result.iterations:
        assert it.match, it


@pytest.mark.parametrize("case", QUICK_CASES, ids=lambda c: c.name)
def test_quick_cases_match_exactly(case):
    assert_matches(crosscheck_case(case))


@pytest.mark.slow
@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.name)
def test_default_cases_match_exactly(case):
    assert_matches(crosscheck_case(case))


def test_the_default_set_covers_what_the_cross_check_needs():
    cases = DEFAULT_CASES
    assert len(cases) >= 24 and len({c.name for c in cases}) == len(cases)
    assert {c.array for c in cases} == {4, 8}
    assert {c.layout for c in cases} == {"rowmajor", "hotcold", "perlayer"}
    assert {c.layer for c in cases} >= {"plain", "gated"}
    assert {c.buffers for c in cases} == {"tiny", "reference"}
    assert {c.refresh for c in cases} == {True, False}
    assert len({c.tau for c in cases}) >= 3 and min(c.iterations for c in cases) >= 3
    shares = [c.hot_mask(c.hardware()).mean() for c in cases]
    assert min(shares) <= 0.2
    # The DMA's memory-level parallelism is hardware configuration both executors honour.
    assert any(c.in_flight for c in QUICK_CASES)
    # SIMD units wider and narrower than a tile row (a beat of rows, beats per row).
    widths = {(c.lanes or c.hardware().simd.lanes) / c.array for c in cases}
    assert min(widths) < 1 < max(widths) and any(c.lanes for c in QUICK_CASES)
    assert any(c.requests and c.channels for c in QUICK_CASES)
    assert {c.requests for c in cases} >= {0, 1, 2, 3} and {c.channels for c in cases} >= {
        0, 1, 2, 4}
    sizes = {c.request_bytes for c in cases}
    assert sizes >= {0, 256, 512}
    assert any(c.request_bytes > 128 and c.requests and c.channels for c in cases)


def test_case_files_and_their_errors(tmp_path):
    path = tmp_path / "cases.toml"
    path.write_text('[[case]]\narray = 4\nlayer = "plain"\nlayout = "hotcold"\ntau = 0.4\n')
    assert load_cases(path) == (FfnCase(4, "plain", "hotcold", 0.4),)
    path.write_text('[[case]]\narray = 5\nlayer = "plain"\nlayout = "hotcold"\ntau = 0.4\n')
    with pytest.raises(ColsimError, match="`array` must be one of 4, 8, not 5"):
        load_cases(path)
    with pytest.raises(ColsimError, match="`cases` must be 'quick', 'default' or a TOML"):
        load_cases(tmp_path / "missing.toml")


def test_crosscheck_cli_writes_the_table_and_the_record(tmp_path, capsys):
    path = tmp_path / "cases.toml"
    path.write_text('[[case]]\narray = 4\nlayer = "plain"\nlayout = "rowmajor"\ntau = 1.2\n'
                    'iterations = 2\nrefresh = false\nin_flight = 2\n')
    out = tmp_path / "out"
    status = main(["crosscheck", "--cases", str(path), "--out", str(out),
                   "--executor", "local"])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "2 of 2 layer-iterations match in 1 cases" in text
    table = pd.read_csv(out / "crosscheck.csv")
    assert len(table) == 2 and table["match"].all()
    assert (table["rtl_cycles"] == table["fast_cycles"]).all()
    record = json.loads((out / "crosscheck.json").read_text())
    assert record["cases"][0]["passed"] and record["versions"]


def test_a_difference_names_the_first_diverging_transaction():
    case = FfnCase(4, "plain", "hotcold", 0.4, iterations=1)
    (schedule,) = case.spec().schedules()
    times = list(range(schedule.n_transactions))
    dram = dict.fromkeys(("reads", "writes", "row_hits", "row_misses", "row_conflicts",
                          "refreshes"), 0)
    engines = {"array_busy": 10, "array_stall": 2, "simd_busy": 5}
    fast = {"cycles": 100, **engines, "accepted": times, "completed": times, "dram": dram}
    late = [*times[:3], times[3] + 1, *times[4:]]
    bench = {"mode": "dense", "cycles": 101, **engines, "request_stream_equal": True,
             "rtl_timing": {"accepted": late, "completed": times, "dram": dram}, "fast": fast}
    (check,) = compare_iterations("x", [schedule], [bench])
    assert not check.match and check.difference == -1 and check.engines_equal
    transfer = int(schedule.transfer[3])
    assert check.first_divergence.startswith(f"DMA: transaction 3 (transfer {transfer}, ")
    assert check.first_divergence.endswith("accepted at DRAM cycle 4 on the RTL, 3 on the "
                                           "fast model")
