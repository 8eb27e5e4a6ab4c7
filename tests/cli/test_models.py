"""Smoke tests of ``colsim models list|show|train``."""

from __future__ import annotations

import pytest

from colsim.cli import main
from colsim.cli.models import format_table


def test_list_prints_every_workload(capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["model", "group", "modality", "L", "M"]
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert rows["dit-xl-2"][3:7] == ["28", "256", "1152", "4608"]
    assert rows["sd-v1.4"][3:8] == ["16", "64-4096", "320-1280", "1280-5120", "GEGLU"]
    assert "tiny-motion" in rows


def test_list_tiny_sizes(capsys) -> None:
    assert main(["models", "list", "--size", "tiny"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["videocrafter2"][3] == "33"
    assert rows["dit-xl-2"][3:7] == ["2", "16", "16", "64"]


def test_show_prints_every_layer_and_the_source(capsys) -> None:
    assert main(["models", "show", "mld"]) == 0
    out = capsys.readouterr().out
    assert "source: MLD" in out
    layer_lines = [line for line in out.splitlines() if ".ff.act" in line]
    assert len(layer_lines) == 9
    assert layer_lines[0].split()[:6] == ["0", "blocks.0.ff.act", "6", "256", "1024", "no"]


def test_show_tiny_size(capsys) -> None:
    assert main(["models", "show", "sd-v1.4", "--size", "tiny"]) == 0
    assert "tiny test configuration" in capsys.readouterr().out


def test_unknown_model_is_one_line_error(capsys) -> None:
    assert main(["models", "show", "sdxl"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("colsim: error: unknown model 'sdxl' (known models: dit-xl-2,")
    assert err.count("\n") == 1


def test_train_writes_weights_and_reports_loss(tmp_path, capsys) -> None:
    out = tmp_path / "m.safetensors"
    assert main(["models", "train", "tiny-motion", "--steps", "10", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.is_file()
    assert "training loss" in text and "held-out noise-prediction MSE" in text


def test_train_rejects_untrainable_model(capsys) -> None:
    assert main(["models", "train", "mdm"]) == 2
    assert "cannot be trained here" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("rows", "expected"),
    [([["a", 1]], "x  yy\n-  --\na  1"), ([], "x  yy\n-  --")],
)
def test_format_table(rows, expected) -> None:
    assert format_table(["x", "yy"], rows) == expected
