"""colsim sweep on Dask: the local path's numbers, resumption, early validation, failures
reported per run, and SIGINT / SIGTERM stopping every worker with nothing written after."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest

from colsim import api
from colsim.analysis.results import load_results
from colsim.cli import main
from colsim.testing.signals import interrupt_busy_run

RESULT_COLUMNS = ["cycles", "compute", "memory_stall", "row_hits", "row_misses",
                  "row_conflicts", "bytes_read", "bytes_written", "cycle_reduction"]


def _grid(out: Path, **changes) -> api.SweepGrid:
    values = {"models": ("tiny-dit", "tiny-motion"), "out": out,
              "layouts": ("rowmajor", "hotcold"), "rhos": (0.3, 0.6), "size": "tiny",
              "iterations": 2}
    return api.SweepGrid(**{**values, **changes})


def test_a_dask_local_cluster_gives_the_local_paths_numbers(tmp_path) -> None:
    notes: list[str] = []
    on_dask = api.sweep(_grid(tmp_path / "dask"), jobs=2, announce=notes.append)
    local = api.sweep(_grid(tmp_path / "local"), executor="local")
    assert notes[0].endswith("30 distinct layer-iterations first (as 18 tasks, those sharing "
                             "a prefix together), then the runs (28 tasks in all)")
    assert notes[1].startswith("Dask dashboard: http://127.0.0.1:")
    assert on_dask.failures == local.failures == ()
    dask_table = load_results(tmp_path / "dask", "results")
    local_table = load_results(tmp_path / "local", "results")
    assert len(dask_table) == 2 * (1 + 2 * 2)
    pd.testing.assert_frame_equal(dask_table[["run", *RESULT_COLUMNS]],
                                  local_table[["run", *RESULT_COLUMNS]])
    csv = pd.read_csv(tmp_path / "dask" / "results.csv")
    assert list(csv.columns) == list(dask_table.columns)
    assert {"seed", "config", "versions", "shapes"} <= set(dask_table.columns)
    assert json.loads(dask_table["versions"][0])["numpy"]


def test_a_rerun_resumes_from_the_finished_runs(tmp_path) -> None:
    first = api.sweep(_grid(tmp_path, rhos=(0.3,)), executor="local")
    assert first.resumed == ()
    (tmp_path / "runs" / "tiny-dit_hotcold_rho0.3.json").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    second = api.sweep(_grid(tmp_path, rhos=(0.3,)), executor="local")
    assert sorted(second.resumed) == sorted(name.removesuffix(".json") for name in stamps)
    assert all((tmp_path / "runs" / name).stat().st_mtime_ns == stamp
               for name, stamp in stamps.items())  # finished runs are not redone
    assert [r["cycles"] for r in second.rows] == [r["cycles"] for r in first.rows]
    # Other settings make other runs: nothing is reused.
    third = api.sweep(_grid(tmp_path, rhos=(0.3,), seed=1), executor="local")
    assert third.resumed == ()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rhos", "0.3", "1.5"], "`rho` must be a hot ratio in [0, 1], not 1.5"),
        (["--taus", "0.1", "--profiles", "missing"], "profiles folder 'missing' does not exist"),
        (["--layouts", "hotcold", "--rhos", "0.2", "--shapes", "study"],
         "`shapes` 'study' is an operating point of the full size, not of size 'tiny'"),
    ],
)
def test_the_whole_grid_is_validated_before_the_first_run(tmp_path, capsys, argv,
                                                          message) -> None:
    out = tmp_path / "sweep"
    code = main(["sweep", "--models", "tiny-dit", "--size", "tiny", "--iterations", "2",
                 "--out", str(out), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"colsim: error: {message}"]
    assert not out.exists()


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path, capsys) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "tiny-dit.h5").write_bytes(b"not a profile")
    out = tmp_path / "sweep"
    code = main(["sweep", "--models", "tiny-dit", "--size", "tiny", "--iterations", "2",
                 "--profiles", str(profiles), "--taus", "0.1", "--executor", "local",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 1
    assert "FAILED tiny-dit_hotcold_tau0.1: ColsimError: profile file" in text
    table = load_results(out, "results")
    assert table["run"].tolist() == ["tiny-dit_baseline"]  # the table holds finished runs
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["tiny-dit_baseline.json"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_real_sweep_at_once(tmp_path, signum: int) -> None:
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "colsim", "sweep", "--models", "dit-xl-2", "edge",
               "--iterations", "50", "--synthetic", "jaccard=0.5,regime=dispersion",
               "--mask-policy", "per-iteration", "--rhos", "0.2", "0.4", "0.6",
               "-j", "2", "--out", str(out)]
    runs = out / "runs"
    seen = interrupt_busy_run(
        command, signum, listing=lambda: sorted(runs.iterdir()) if runs.exists() else [])
    assert seen.workers_alive == 0 and seen.seconds <= 1.0
    assert seen.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert f"interrupted by {name}:" in seen.stderr.strip().splitlines()[-1]
    assert seen.written_after == seen.written_before  # nothing written after the signal
    assert not (out / "results.csv").exists()


def test_runs_share_their_layer_iterations(tmp_path, monkeypatch) -> None:
    from colsim.sim.fast import workload

    simulated = []
    simulate = workload.simulate_sharing

    def counted(hw, dram, compute, items):
        simulated.extend(item.key() for item in items)
        return simulate(hw, dram, compute, items)

    monkeypatch.setattr(workload, "simulate_sharing", counted)
    monkeypatch.setattr("colsim.analysis.sweep.simulate_sharing", counted)
    grid = _grid(tmp_path, models=("tiny-dit",), layouts=("hotcold", "perlayer", "dynamic"),
                 rhos=(0.3,))
    table = api.sweep(grid, executor="local")
    by_run = {row["run"]: row for row in table.rows}
    cycles = {by_run[f"tiny-dit_{layout}_rho0.3"]["cycles"]
              for layout in ("hotcold", "perlayer", "dynamic")}
    assert len(cycles) == 1  # the hot columns placed alike: the same layer-iterations
    assert len(simulated) == len(set(simulated))  # each simulated once for the whole grid
    assert len(simulated) == len(list((tmp_path / "layer-iterations").glob("*.json")))
    alone = api.sweep(_grid(tmp_path / "alone", models=("tiny-dit",), layouts=("perlayer",),
                            rhos=(0.3,)), executor="local")
    assert [r["cycles"] for r in alone.rows] == [by_run["tiny-dit_baseline"]["cycles"],
                                                 by_run["tiny-dit_perlayer_rho0.3"]["cycles"]]
