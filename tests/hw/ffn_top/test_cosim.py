"""FFN engine top co-simulated on Verilator with the GDDR6 model; its CLI commands."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from colsim.cli import main
from colsim.config import tiny_array_hardware, tiny_hardware
from colsim.config.hardware import TINY_TOML, packaged_config
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.profiler.profile import CapturedInput, LayerInfo, Profile
from colsim.testbench.ffn_case import CosimSpec
from colsim.testbench.ffn_data import random_operands
from colsim.testbench.ffn_run import CosimReport, run_cosim

pytestmark = pytest.mark.cocotb

PLAIN = FfnLayer("blocks.0.ff", 8, 16, 64, False)
GATED = FfnLayer("gated", 5, 12, 40, True)


def hot_mask(layer: FfnLayer, density: float, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).random(layer.hidden) < density


def assert_passed(report: CosimReport) -> None:
    assert report.passed, report.checks
    assert all(report.checks.values())
    for it in report.iterations:
        assert it.request_stream_equal
        assert it.cycles >= it.array_busy and it.cycles > 0


def test_dense_then_sparse_against_gddr6(tmp_path):
    spec = CosimSpec(tiny_hardware(), PLAIN, hot_mask(PLAIN, 0.3), iterations=2)
    report = run_cosim(spec, results_xml=tmp_path / "results.xml")
    assert_passed(report)
    assert [it.mode for it in report.iterations] == ["dense", "sparse"]
    assert report.dram["reads"] + report.dram["writes"] == sum(
        it.transactions for it in report.iterations)
    # The fast model, started at the RTL's start cycle from its DRAM state, runs the same
    # schedule under the same engine rules: the same cycles, counters and DRAM events.
    for row in report.crosscheck_rows("dense-then-sparse"):
        assert row["match"], row
        assert row["fast_cycles"] == row["rtl_cycles"]
    for it in report.iterations:
        assert it.cycles >= it.array_busy
    assert report.iterations[1].transactions < report.iterations[0].transactions


def test_random_latency_and_back_pressure_gated_hotcold(tmp_path):
    single = np.zeros(GATED.hidden, bool)
    single[17] = True
    spec = CosimSpec(tiny_hardware(), GATED, single, layout="hotcold", iterations=2,
                     memory="random", refuse=0.3, latency=(1, 90), seed=4)
    assert_passed(run_cosim(spec, results_xml=tmp_path / "results.xml"))


def test_a_wrong_expected_stream_fails_the_run(tmp_path):
    spec = CosimSpec(tiny_hardware(), PLAIN, hot_mask(PLAIN, 0.3), iterations=1,
                     memory="random")
    report = run_cosim(spec, results_xml=tmp_path / "results.xml", corrupt="requests")
    assert not report.passed
    assert not report.checks["request_stream"]
    testcase = ET.parse(tmp_path / "results.xml").getroot().find(".//testcase")
    assert testcase is not None and testcase.find("failure") is not None


def test_a_flipped_data_bit_fails_the_output_check(tmp_path):
    spec = CosimSpec(tiny_hardware(), PLAIN, hot_mask(PLAIN, 0.3), iterations=1,
                     memory="random")
    report = run_cosim(spec, results_xml=tmp_path / "results.xml", corrupt="data")
    assert not report.passed
    assert report.checks["request_stream"]
    assert not report.checks["outputs_bit_exact"]


SLOW = [
    dict(layer=PLAIN, density=0.0, layout="rowmajor", array=4),    # all cold: no array ops
    dict(layer=PLAIN, density=1.0, layout="hotcold", array=4),     # all hot
    dict(layer=GATED, density=0.5, layout="perlayer", array=8),    # 8×8, ragged tiles
    dict(layer=FfnLayer("wide", 16, 40, 96, False), density=0.2, layout="rowmajor", array=4),
]


@pytest.mark.slow
@pytest.mark.parametrize("params", SLOW, ids=lambda p: f"{p['layer'].name}-d{p['density']}")
def test_matrix_sample_against_gddr6(params, tmp_path):
    hw = tiny_array_hardware(params["array"])
    spec = CosimSpec(hw, params["layer"], hot_mask(params["layer"], params["density"]),
                     layout=params["layout"], iterations=3)
    assert_passed(run_cosim(spec, results_xml=tmp_path / "results.xml"))


@pytest.fixture
def profile_file(tmp_path):
    """A profile of one layer whose iterations 0 and 1 carry captured inputs and weights."""
    info = LayerInfo(PLAIN.name, PLAIN.tokens, PLAIN.d_model, PLAIN.hidden, PLAIN.gated)
    rng = np.random.default_rng(0)
    edges = np.linspace(0, 4, 9, dtype=np.float32)
    operands = random_operands(PLAIN, 2, seed=9)
    weights = {"w1": operands.w1.astype(np.float32), "b1": np.zeros(PLAIN.hidden, np.float32),
               "w2": operands.w2.astype(np.float32), "b2": np.zeros(PLAIN.d_model, np.float32)}
    profile = Profile(
        layers=(info,), bin_edges=edges,
        colmax={info.name: rng.random((3, info.hidden)).astype(np.float32)},
        histogram={info.name: np.zeros((3, edges.size + 1), dtype=np.int64)},
        meta={"model": "synthetic"},
        inputs=tuple(CapturedInput(info.name, t, operands.x[t].astype(np.float32))
                     for t in range(2)),
        weights={info.name: weights},
    )
    path = tmp_path / "profile.h5"
    profile.save(path)
    return path


def test_rtl_run_cli_prints_checks_and_writes_json(profile_file, tmp_path, capsys):
    out = tmp_path / "result.json"
    relative = os.path.relpath(profile_file)  # the simulator runs in another folder
    status = main(["rtl-run", "--profile", relative, "--layer", PLAIN.name,
                   "--iterations", "0,1", "--tau", "0.7", "--array", "4x4", "--config",
                   str(packaged_config(TINY_TOML)), "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "check request_stream: pass" in text and "check dram_protocol: pass" in text
    result = json.loads(out.read_text())
    assert result["config"]["profile"]["tau"] == 0.7
    hot = np.array(result["config"]["hot"])
    colmax = Profile.load(profile_file).colmax[PLAIN.name][0]
    np.testing.assert_array_equal(hot, colmax > np.float32(0.7))


def test_a_schedule_the_top_cannot_hold_fails_before_the_build():
    # 8×8 with the tiny 1 KiB weight slots: 64 rows, but a gated W1 fill writes 2 × 64.
    hw = tiny_hardware(systolic={"rows": 8, "cols": 8})
    spec = CosimSpec(hw, GATED, hot_mask(GATED, 0.5), iterations=1)
    with pytest.raises(ColsimError, match="a fill needs 128 rows of a 64-row slot"):
        run_cosim(spec)  # raised by the compiler, not from inside a simulation


def test_an_error_inside_the_simulation_reaches_the_user_as_its_own_line():
    spec = CosimSpec(tiny_hardware(), PLAIN, hot_mask(PLAIN, 0.3), iterations=1,
                     profile="/nonexistent/profile.h5", profile_iterations=(0,))
    message = (r"^the co-simulation stopped: profile file '/nonexistent/profile.h5' does not "
               r"exist; log: \S+/sim.log$")
    with pytest.raises(ColsimError, match=message):
        run_cosim(spec)


def test_rtl_run_cli_errors_name_the_bad_value(profile_file, capsys):
    assert main(["rtl-run", "--profile", str(profile_file), "--layer", "nope"]) == 2
    assert "unknown layer 'nope'" in capsys.readouterr().err
    assert main(["rtl-run", "--profile", str(profile_file), "--layer", PLAIN.name,
                 "--array", "4by4"]) == 2
    assert "`--array` must look like 4x4, not '4by4'" in capsys.readouterr().err
    assert main(["rtl-run", "--profile", str(profile_file), "--layer", PLAIN.name,
                 "--iterations", "0,7"]) == 2
    assert "iteration 7 is outside" in capsys.readouterr().err
    assert main(["rtl-run", "--profile", str(profile_file), "--layer", PLAIN.name,
                 "--array", "1x1"]) == 2
    assert "the RTL top needs a systolic array of at least 2x2, not 1x1" in \
        capsys.readouterr().err


def test_regress_cli_runs_a_selection_and_writes_junit(tmp_path, capsys):
    assert main(["regress", "--list", "-k", "ffn-4x4-plain-rowmajor-d0.15-random"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == ["ffn-4x4-plain-rowmajor-d0.15-random-s1",
                      "ffn-4x4-plain-rowmajor-d0.15-random-s2"]
    junit = tmp_path / "regress.xml"
    assert main(["regress", "-k", "ffn-4x4-plain-rowmajor-d0.15-random-s1",
                 "--junit", str(junit)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert [c.get("name") for c in cases] == ["ffn-4x4-plain-rowmajor-d0.15-random-s1"]
    assert main(["regress", "-k", "no-such-case"]) == 2
