"""``colsim demo``: the embedded default runs end to end and every stage reports success."""

from __future__ import annotations

import json

import pytest

from colsim.cli import main


@pytest.mark.full  # about 7 minutes from a fresh clone (Verilog and two Verilator builds)
@pytest.mark.cocotb
def test_demo_runs_every_stage(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for stage in range(1, 7):
        assert f"[{stage}/6]" in out
    assert "WARNINGS" not in out
    assert "result equals numpy int32 matmul: yes" in out
    assert "check request_stream: pass" in out and "check dram_protocol: pass" in out
    simulated = json.loads((tmp_path / "simulate.json").read_text())
    assert 0 < simulated["total"]["cycles"] < simulated["baseline"]["cycles"]
    assert simulated["cycle_reduction"] > 0
    manifest = json.loads((tmp_path / "verilog" / "manifest.json").read_text())
    assert all(entry["lint"] == "clean" for entry in manifest["files"])
    # The demo ends in the report, and its last line is the report's path.
    assert out.strip().splitlines()[-1] == str(tmp_path / "report" / "report.html")
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("Input absent:") == 2  # sensitivity and accuracy: not part of the demo
    assert (tmp_path / "sweep" / "results.parquet").is_file()
    assert (tmp_path / "crosscheck" / "results.csv").is_file()
