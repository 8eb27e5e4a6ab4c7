"""Commands that write refuse a bad output path up front: exit 2, one line naming it, no work.

Each case names a command, whether its output is a file or a folder, and the function whose
call would start the long work (replaced by one that fails the test if it is reached).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colsim.cli import main
from colsim.errors import ColsimError

UNWRITABLE = Path("/sys/colsim-output")  # even root cannot create files in sysfs

COMMANDS = {
    "verilog": (["verilog", "--out", "{path}"], "folder", "colsim.hw.verilog.write_verilog"),
    "models train": (["models", "train", "tiny-motion", "--steps", "1", "--out", "{path}"],
                     "file", "colsim.models.training.train_tiny_model"),
    "profile": (["profile", "--model", "tiny-dit", "--steps", "2", "--out", "{path}"], "file",
                "colsim.api.profile"),
    "sparsity --masks": (["sparsity", "missing.h5", "--masks", "{path}"], "file",
                         "colsim.profiler.profile.Profile.load"),
    "plot": (["plot", "missing.h5", "--out", "{path}"], "folder",
             "colsim.profiler.profile.Profile.load"),
    "simulate": (["simulate", "--model", "tiny-dit", "--size", "tiny", "--out", "{path}"],
                 "file", "colsim.api.simulate"),
    "sweep": (["sweep", "--models", "tiny-dit", "--size", "tiny", "--rhos", "0.2",
               "--out", "{path}"], "folder", "colsim.analysis.sweep.run_tasks"),
    "rtl-run": (["rtl-run", "--profile", "missing.h5", "--layer", "x", "--out", "{path}"],
                "file", "colsim.api.cosim_case"),
    "report": (["report", "--out", "{path}"], "folder", "colsim.api.report"),
}


def bad_path(tmp_path: Path, kind: str, wanted: str) -> Path:
    """Create the obstacle for ``kind`` under ``tmp_path``; return the bad output path."""
    (tmp_path / "file").write_text("keep")
    (tmp_path / "folder").mkdir()
    return {
        "the other kind": tmp_path / ("folder" if wanted == "file" else "file"),
        "under a file": tmp_path / "file" / "out",
        "unwritable": UNWRITABLE / "out",
    }[kind]


def snapshot(root: Path) -> dict[str, str | None]:
    return {str(p): (p.read_text() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("kind", ["the other kind", "under a file", "unwritable"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_output_path_is_refused_before_the_work(tmp_path, monkeypatch, capsys, command,
                                                     kind) -> None:
    argv, wanted, work = COMMANDS[command]
    module, name = work.rsplit(".", 1)
    monkeypatch.setattr(f"{module}.{name}", _never_called)
    path = bad_path(tmp_path, kind, wanted)
    before = snapshot(tmp_path)
    assert main([a.replace("{path}", str(path)) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("colsim: error: ") and captured.err.count("\n") == 1
    assert repr(str(path)) in captured.err and "Traceback" not in captured.err
    assert captured.out == ""
    assert snapshot(tmp_path) == before  # nothing written, nothing left behind


def test_regression_refuses_its_junit_path_before_building(tmp_path, monkeypatch) -> None:
    from colsim.testbench import regress

    monkeypatch.setattr(regress, "build_block", _never_called)
    with pytest.raises(ColsimError, match=r"^output file '.*' is a folder$"):
        regress.run_regression(regress.regression_matrix()[:1], jobs=1, junit=tmp_path)


def _never_called(*args, **kwargs):
    raise AssertionError("the work started before the output path was checked")
