"""``colsim dram run`` and ``colsim bench dram``: output, JSON, options and error lines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from colsim.cli import main
from colsim.sim.dram import load_dram_config, simulate_batch
from colsim.sim.dram.streams import request_stream


@pytest.fixture
def trace(tmp_path):
    config = load_dram_config()
    addr, is_write, _ = request_stream(config, "hot-rows", 400, seed=4, write_share=0.25)
    lines = ["# a comment", ""]
    for i, (a, w) in enumerate(zip(addr.tolist(), is_write.tolist(), strict=True)):
        lines.append(f"{'ST' if w else 'LD'} {hex(a) if i % 2 else a}")
    path = tmp_path / "trace.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, addr, is_write


def test_run_prints_statistics(trace, capsys):
    path, addr, is_write = trace
    assert main(["dram", "run", "--trace", str(path)]) == 0
    out = capsys.readouterr().out
    expected = simulate_batch(load_dram_config(), addr, is_write, np.zeros(len(addr), np.int64))
    assert "400 requests on gddr6 (6 channels, refresh all-bank)" in out
    assert f"DRAM cycles             {expected.stats.cycles}" in out
    for label in ("reads", "writes", "row hits", "row misses", "row conflicts", "row hit rate",
                  "avg read latency", "bandwidth utilisation", "refreshes"):
        assert label in out


def test_run_json_with_options(trace, tmp_path, capsys):
    path, addr, is_write = trace
    assert main(["dram", "run", "--trace", str(path), "--json", "--no-refresh",
                 "--channels", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    config = load_dram_config(organization={"channels": 2}, controller={"refresh": "off"})
    expected = simulate_batch(config, addr, is_write, np.zeros(len(addr), np.int64)).stats
    assert report["stats"] == expected.as_dict()
    assert report["requests"] == 400
    assert report["config"]["organization"]["channels"] == 2
    assert report["config"]["controller"]["refresh"] == "off"
    custom = tmp_path / "dram.toml"
    custom.write_text("[timing]\ncl = 40\n")
    assert main(["dram", "run", "--trace", str(path), "--json", "--config", str(custom)]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["timing"]["cl"] == 40
    assert main(["dram", "run", "--trace", str(path), "--json", "--preset", "hbm2"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["name"] == "hbm2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LD 0x0\nRD 0x40\n", "trace.txt:2: expected `LD <addr>` or `ST <addr>`, not 'RD 0x40'"),
        ("LD 0x0\n\nST 0xZZ\n", "trace.txt:3: malformed address '0xZZ'"),
        ("LD 12 13\n", "trace.txt:1: expected `LD <addr>`"),
        ("LD -5\n", "trace.txt:1: address must be non-negative"),
        ("ST 0x300000000\n", "trace.txt:1: address 0x300000000 is beyond the DRAM capacity"),
    ],
)
def test_malformed_traces_name_the_line(tmp_path, capsys, text, message):
    path = tmp_path / "trace.txt"
    path.write_text(text)
    assert main(["dram", "run", "--trace", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("colsim: error: ") and message in err
    assert err.count("\n") == 1


def test_bad_options(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text("LD 0\n")
    assert main(["dram", "run", "--trace", str(path), "--channels", "0"]) == 2
    assert "`organization.channels` must be positive, not 0" in capsys.readouterr().err
    assert main(["dram", "run", "--trace", str(path), "--preset", "ddr2"]) == 2
    assert "unknown DRAM preset 'ddr2'" in capsys.readouterr().err
    assert main(["dram", "run", "--trace", str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_smoke(capsys):
    assert main(["bench", "dram", "--requests", "3000"]) == 0
    out = capsys.readouterr().out
    for name in ("JIT warm-up", "DramEngine.run overhead", "sequential reads", "strided reads",
                 "random reads", "mixed"):
        assert name in out
    assert out.count("req/s wall") == 4


def test_a_closed_output_pipe_ends_quietly(trace):
    path, _addr, _is_write = trace
    process = subprocess.Popen([sys.executable, "-m", "colsim", "dram", "run", "--trace",
                                str(path), "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader is gone before the first line (`| head -0`)
    with process.stderr:
        err = process.stderr.read()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert err == ""
