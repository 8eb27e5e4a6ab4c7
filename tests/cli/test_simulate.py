"""Smoke tests of ``colsim simulate`` and ``colsim sweep`` (tiny workloads), and their errors."""

from __future__ import annotations

import csv
import json
import signal
import sys

import numpy as np
import pytest

from colsim.analysis.results import load_results
from colsim.cli import main
from colsim.masks import MaskSet
from colsim.models.registry import workload_spec
from colsim.testing.signals import interrupt_busy_run


def test_simulate_writes_a_traceable_record(tmp_path, capsys) -> None:
    out = tmp_path / "result.json"
    code = main([
        "simulate", "--model", "tiny-dit", "--size", "tiny", "--synthetic",
        "sparsity=0.5,jaccard=0.9", "--iterations", "3", "--compare-baseline",
        "--out", str(out),
    ])
    assert code == 0
    text = capsys.readouterr().out
    assert "total:" in text and "reduction" in text and "transformer_blocks.0" in text
    record = json.loads(out.read_text())
    assert record["inputs"]["masks"] == "synthetic"
    assert record["inputs"]["synthetic"] == {"sparsity": 0.5, "jaccard": 0.9}
    assert record["inputs"]["layout"] == "hotcold"
    assert record["hardware"]["systolic"]["rows"] == 32
    assert record["dram"]["organization"]["channels"] == 6
    assert len(record["per_iteration"]) == 3
    assert record["total"]["cycles"] == sum(r["cycles"] for r in record["layer_iterations"])
    assert 0 < record["cycle_reduction"] < 1
    assert set(record["versions"]) >= {"colsim", "numpy", "numba", "python"}
    rows = list(csv.DictReader(out.with_suffix(".csv").read_text().splitlines()))
    assert len(rows) == 3 * len(workload_spec("tiny-dit", "tiny").layers)
    table = load_results(out.with_suffix(".parquet"))
    assert list(table.columns) == list(rows[0]) and len(table) == len(rows)


def test_simulate_reads_a_mask_file(tmp_path, capsys) -> None:
    spec = workload_spec("tiny-motion", "tiny")
    rng = np.random.default_rng(0)
    hot = {layer.name: rng.random((2, layer.hidden)) < 0.3 for layer in spec.layers}
    path = tmp_path / "masks.npz"
    MaskSet(spec.name, spec.layer_names, hot, {"source": "test"}).save(path)
    code = main(["simulate", "--model", "tiny-motion", "--size", "tiny", "--masks", str(path),
                 "--iterations", "2", "--layout", "dynamic",
                 "--mask-policy", "per-iteration"])
    assert code == 0
    assert "row-buffer hit rate" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "tiny-dit", "--synthetic", "sparsity=0.5", "--tau", "0.1"],
         "`tau` needs a profile"),
        (["--model", "tiny-dit", "--synthetic", "colour=red"], "bad synthetic mask item"),
        (["--model", "tiny-dit", "--layout", "hotcold"], "layout 'hotcold' needs hot masks"),
        (["--model", "tiny-dit", "--masks", "missing.h5", "--tau", "0.1"],
         "profile file 'missing.h5' does not exist"),
        (["--model", "tiny-dit", "--synthetic", "sparsity=0.5", "--iterations", "0"],
         "`iterations` must be a positive integer"),
    ],
)
def test_simulate_errors_are_one_line(argv, message, capsys) -> None:
    assert main(["simulate", "--size", "tiny", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("colsim: error: ") and message in err


def test_sweep_writes_a_tidy_table_and_per_run_records(tmp_path) -> None:
    out = tmp_path / "sweep"
    code = main([
        "sweep", "--models", "tiny-dit", "tiny-motion", "--layouts", "rowmajor", "hotcold",
        "--rhos", "0.3", "0.6", "--size", "tiny", "--iterations", "2", "-j", "2",
        "--out", str(out),
    ])
    assert code == 0
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert len(rows) == 2 * (1 + 2 * 2)
    runs = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert len(runs) == len(rows)
    baselines = [r for r in rows if r["run"].endswith("_baseline")]
    assert all(float(r["cycle_reduction"]) == 0 for r in baselines)
    sparse = [r for r in rows if r["rho"] == "0.3"]
    assert all(float(r["cycle_reduction"]) > 0 for r in sparse)
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_sweep_needs_profiles_for_taus(tmp_path, capsys) -> None:
    code = main(["sweep", "--models", "tiny-dit", "--taus", "0.1", "--out", str(tmp_path)])
    assert code == 2
    assert "`taus` need profiles" in capsys.readouterr().err


def test_bench_simulate_reports_wall_time_and_memory(capsys) -> None:
    code = main(["bench", "simulate", "--models", "mld", "--iterations", "2", "--skip-hotcold",
                 "-j", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "baseline mld:" in out and "s wall" in out and "peak resident memory" in out


@pytest.fixture
def tiny_profile(tmp_path):
    """A tiny-dit profile file with seeded per-column maxima (no model run needed)."""
    from colsim.profiler.profile import LayerInfo, Profile

    spec = workload_spec("tiny-dit", "tiny")
    rng = np.random.default_rng(3)
    edges = np.linspace(0.0, 4.0, 9)
    layers = tuple(LayerInfo.from_spec_layer(layer) for layer in spec.layers)
    profile = Profile(
        layers=layers,
        bin_edges=edges,
        colmax={layer.name: rng.exponential(0.5, (3, layer.hidden)).astype(np.float32)
                for layer in layers},
        histogram={layer.name: np.ones((3, edges.size + 1), dtype=np.int64) for layer in layers},
        meta={"model": "tiny-dit"},
    )
    path = tmp_path / "tiny-dit.h5"
    profile.save(path)
    return path


@pytest.mark.parametrize("threshold", [["--tau", "0.6"], ["--rho", "0.3"]])
def test_simulate_derives_masks_from_a_profile(tiny_profile, threshold, tmp_path) -> None:
    out = tmp_path / "r.json"
    code = main(["simulate", "--model", "tiny-dit", "--size", "tiny", "--masks",
                 str(tiny_profile), *threshold, "--iterations", "3", "--out", str(out)])
    assert code == 0
    record = json.loads(out.read_text())
    assert record["inputs"]["masks"] == str(tiny_profile)
    assert record["inputs"]["masks_meta"]["source"] == "profile"
    sparse = [r for r in record["layer_iterations"] if r["mode"] == "sparse"]
    assert sparse and all(r["computed_columns"] < 192 for r in sparse)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_simulate_and_its_workers_at_once(tmp_path, signum: int) -> None:
    out = tmp_path / "run.json"
    command = [sys.executable, "-m", "colsim", "simulate", "--model", "make-an-audio",
               "--iterations", "50", "--synthetic", "jaccard=0.5,regime=dispersion",
               "--mask-policy", "per-iteration", "--rho", "0.2", "-j", "2", "--out", str(out)]
    seen = interrupt_busy_run(command, signum, listing=lambda: sorted(tmp_path.iterdir()))
    assert seen.workers_alive == 0 and seen.seconds <= 1.0
    assert seen.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert f"interrupted by {name}:" in seen.stderr.strip().splitlines()[-1]
    assert seen.written_before == seen.written_after == []  # nothing written, no temporary
