"""colsim reproduce: the study's grid end to end on tiny shapes, its tables, and resumption."""

from __future__ import annotations

import re

import pytest

from colsim import api
from colsim.analysis.results import load_results
from colsim.cli import main
from colsim.sim.layout import LAYOUT_KINDS

THRESHOLDS = 5  # τ and ρ values of DESIGN.md §1


def test_a_tiny_study_reproduces_end_to_end_and_resumes(tmp_path) -> None:
    options = {"out": tmp_path, "size": "tiny", "iterations": 3, "models": ("mdm", "mld"),
               "executor": "local"}
    tables = api.reproduce(**options)
    # Per workload: the baseline, every layout at every ρ, and the τ that have a figure in
    # the study file (0.164 for both, 0.2 for both MDM and MLD).
    per_model = 1 + len(LAYOUT_KINDS) * (THRESHOLDS + 2)
    assert len(tables.sweep.rows) == 2 * per_model and tables.sweep.failures == ()
    assert {cell.tau for cell in tables.skipped} == {0.10, 0.15, 0.17}
    assert [row["model"] for row in tables.baseline] == ["mdm", "mld"]
    assert len(tables.reduction) == 2 * (per_model - 1)
    results = load_results(tmp_path, "results")
    assert set(results["mask_policy"].dropna()) <= {"", "fixed"}
    assert set(load_results(tmp_path, "reduction")["layout"]) == set(LAYOUT_KINDS)
    rho = load_results(tmp_path, "reduction").query("axis == 'rho' and layout == 'hotcold'")
    assert (rho["cycle_reduction"] > 0).all()  # skipping cold columns saves cycles
    again = api.reproduce(**options)
    assert len(again.sweep.resumed) == len(tables.sweep.rows)
    assert [r["cycles"] for r in again.sweep.rows] == [r["cycles"] for r in tables.sweep.rows]


def test_reproduce_command_prints_the_tables(tmp_path, capsys) -> None:
    code = main(["reproduce", "--models", "mld", "--size", "tiny", "--iterations", "2",
                 "--executor", "local", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "compute_share" in out and "cycle_reduction" in out
    assert "not run (12): tau runs without a profile or a study figure" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--models", "tiny-dit"], "study file '.*' has no workload 'tiny-dit'"),
    (["--shapes", "study"], "`shapes` 'study' is an operating point of the full size"),
    (["--study", "missing.toml"], "config file 'missing.toml' does not exist"),
])
def test_bad_reproduce_inputs_are_one_line(tmp_path, capsys, argv, message) -> None:
    code = main(["reproduce", "--size", "tiny", "--iterations", "2", "--out",
                 str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert re.search(message, err[0])
    assert not (tmp_path / "out").exists()
