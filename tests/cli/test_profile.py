"""Smoke tests of ``colsim profile | sparsity | plot | accuracy | bench profile``."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from colsim.cli import main
from colsim.masks import MaskSet
from colsim.profiler.profile import Profile


@pytest.fixture(scope="module")
def profile_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "mdm.h5"
    code = main(["profile", "--model", "mdm", "--steps", "4", "--guidance-scale", "2.5",
                 "--capture-inputs", "0:1,blocks.1.ff.act:3", "--out", str(path)])
    assert code == 0
    return path


def test_profile_writes_a_complete_file(profile_file, capsys):
    profile = Profile.load(profile_file)
    assert profile.iterations == 4 and profile.meta["model"] == "mdm"
    assert profile.meta["batch"] == 2 and profile.meta["guidance_scale"] == 2.5
    assert profile.captured_input("blocks.0.ff.act", 1).shape == (2 * 13, 32)
    assert profile.captured_input("blocks.1.ff.act", 3).shape == (2 * 13, 32)
    assert "torch" in profile.meta["versions"]


def test_profile_is_reproducible(profile_file, tmp_path):
    again = tmp_path / "again.h5"
    assert main(["profile", "--model", "mdm", "--steps", "4", "--guidance-scale", "2.5",
                 "--out", str(again)]) == 0
    first, second = Profile.load(profile_file), Profile.load(again)
    for name in first.layer_names:
        np.testing.assert_array_equal(first.colmax[name], second.colmax[name])
        np.testing.assert_array_equal(first.histogram[name], second.histogram[name])


def test_sparsity_outputs(profile_file, tmp_path, capsys):
    assert main(["sparsity", str(profile_file)]) == 0
    text = capsys.readouterr().out
    assert "blocks.0.ff.act" in text and "column_sparsity_weighted" in text
    assert main(["sparsity", str(profile_file), "--rho", "0.164", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["axis"] == "rho" and len(report["rows"]) == 2
    masks_path = tmp_path / "masks.npz"
    assert main(["sparsity", str(profile_file), "--tau", "0.2", "--csv",
                 "--masks", str(masks_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert main(["sparsity", str(profile_file), "--sweep", "rho"]) == 0
    sweep = capsys.readouterr().out.splitlines()
    assert sweep[0].split()[:2] == ["rho", "element_sparsity_weighted"] and len(sweep) == 6
    assert [row["layer"] for row in rows] == ["blocks.0.ff.act", "blocks.1.ff.act"]
    masks = MaskSet.load(masks_path)
    profile = Profile.load(profile_file)
    np.testing.assert_array_equal(masks.hot["blocks.0.ff.act"],
                                  profile.colmax["blocks.0.ff.act"] > np.float32(0.2))


def test_plot_writes_pngs(profile_file, tmp_path):
    assert main(["plot", str(profile_file), "--out", str(tmp_path / "figs")]) == 0
    pngs = sorted((tmp_path / "figs").iterdir())
    assert [p.name for p in pngs] == sorted(["sparsity_per_layer.png",
                                             "column_sparsity_over_iterations.png",
                                             "jaccard_over_iterations.png"])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_accuracy_from_profile(profile_file, capsys):
    assert main(["accuracy", "--model", "mdm", "--steps", "4", "--guidance-scale", "2.5",
                 "--profile", str(profile_file), "--rho", "0.5", "--joint-dims", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mse"] >= 0 and result["mpjpe"] >= 0 and result["mode"] == "reuse"


def test_bench_profile_smoke(capsys):
    assert main(["bench", "profile", "--model", "mdm", "--steps", "2", "--repeats", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["hooked_s"][0] > 0 and result["unhooked_s"][0] > 0 and "overhead" in result


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sparsity", "{file}", "--tau", "-0.1"], "`tau` must be a non-negative number, not -0.1"),
        (["sparsity", "{missing}"], "does not exist"),
        (["profile", "--model", "nope", "--out", "{out}"], "unknown model 'nope'"),
        (["profile", "--model", "mdm", "--steps", "2", "--capture-inputs", "9:0",
          "--out", "{out}"], "`capture_inputs` layer index 9 is outside"),
        (["profile", "--model", "mdm", "--steps", "2", "--capture-inputs", "0:5",
          "--out", "{out}"], r"`capture_inputs` iteration 5 is outside \[0, 2\)"),
    ],
)
def test_errors_exit_2_with_one_line(profile_file, tmp_path, capsys, argv, message):
    filled = [a.format(file=profile_file, missing=tmp_path / "x.h5", out=tmp_path / "o.h5")
              for a in argv]
    assert main(filled) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("colsim: error: ")
    assert re.search(message, err)
    assert not (tmp_path / "o.h5").exists()
