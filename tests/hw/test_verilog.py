"""Verilog generation: every block, lint-clean under ``verilator --lint-only -Wall``."""

from __future__ import annotations

import json

import pytest

from colsim.cli import main
from colsim.config import load_hardware_config, reference_hardware
from colsim.errors import ColsimError, ConfigError
from colsim.hw.verilog import block_names, lint, write_verilog

SMALL = {"systolic": {"rows": 3, "cols": 2}}
TOP_BLOCKS = ["dma_front", "ffn_top"]  # built on the top's buffer geometry
BLOCKS = [name for name in block_names() if name not in TOP_BLOCKS]


def assert_written_and_lint_clean(folder, blocks) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "colsim-verilog-manifest/1"
    assert sorted(entry["block"] for entry in manifest["files"]) == sorted(blocks)
    for entry in manifest["files"]:
        path = folder / entry["file"]
        assert path.read_text().count(f"module {entry['module']}(") == 1
        assert entry["lint"] == "clean"
        assert lint(path) == ""  # the user's own check, run independently
        names = {port["name"] for port in entry["ports"]}
        assert {"clk", "rst"} <= names


def test_every_block_is_written_with_a_manifest_and_lints_clean(tmp_path):
    write_verilog(tmp_path, reference_hardware().with_overrides(SMALL), blocks=BLOCKS)
    assert_written_and_lint_clean(tmp_path, BLOCKS)


def test_systolic_manifest_records_parameters_and_port_widths(tmp_path):
    hw = reference_hardware().with_overrides(SMALL)
    write_verilog(tmp_path, hw, blocks=["systolic"])
    (entry,) = json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert entry["parameters"] == {"rows": 3, "cols": 2, "operand_bits": 16,
                                   "accumulator_bits": 32}
    widths = {p["name"]: (p["direction"], p["width"]) for p in entry["ports"]}
    assert widths["i_a__payload"] == ("in", 3 * 16 + 1)
    assert widths["i_b__payload"] == ("in", 2 * 16)
    assert widths["o_c__payload"] == ("out", 2 * 32 + 1)


def test_a_top_the_datapath_cannot_hold_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="transaction must hold whole R-token int32 columns"):
        write_verilog(tmp_path, reference_hardware().with_overrides(SMALL), blocks=["ffn_top"])


def test_unknown_block_is_one_clear_error(tmp_path):
    with pytest.raises(ColsimError, match="unknown block 'nope'"):
        write_verilog(tmp_path, reference_hardware(), blocks=["nope"])


def test_cli_writes_the_top_from_a_config_file(tmp_path, capsys):
    config = tmp_path / "hw.toml"
    config.write_text("[systolic]\nrows = 4\ncols = 2\n")  # the top needs powers of two
    blocks = [arg for name in TOP_BLOCKS for arg in ("--block", name)]
    assert main(["verilog", "--out", str(tmp_path / "v"), "--config", str(config), *blocks]) == 0
    out = capsys.readouterr().out
    assert "ffn_top.v" in out and "dma_front.v" in out and "clean" in out
    assert_written_and_lint_clean(tmp_path / "v", TOP_BLOCKS)


def test_cli_reports_a_bad_config_value_in_one_line(tmp_path, capsys):
    config = tmp_path / "hw.toml"
    config.write_text("[systolic]\nrows = -4\n")
    assert main(["verilog", "--out", str(tmp_path / "v"), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "colsim: error: `systolic.rows` must be positive, not -4"


def test_max_hidden_from_toml_sizes_the_remapper_and_the_skip_logic(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text("[systolic]\nrows = 2\ncols = 2\n[layers]\nmax_hidden = 100\n")
    hw = load_hardware_config(config)
    write_verilog(tmp_path / "v", hw, blocks=["remap", "skip"])
    entries = {e["block"]: e for e in json.loads((tmp_path / "v" / "manifest.json").read_text())
               ["files"]}
    assert entries["remap"]["parameters"] == {"depth": 100, "index_bits": 7, "dram": "gddr6"}
    assert entries["skip"]["parameters"] == {"mask_width": 2, "tile": 2, "max_hidden": 100,
                                             "index_bits": 7}
    widths = {e["block"]: {p["name"]: p["width"] for p in e["ports"]} for e in entries.values()}
    assert widths["remap"]["i_table__payload"] == 2 * 7
    assert widths["skip"]["columns"] == 7 and widths["skip"]["issued"] == 8
    assert all(e["lint"] == "clean" for e in entries.values())
    remap = (tmp_path / "v" / "address_remapper.v").read_text()
    assert "[99:0]" in remap  # a 100-entry table: max_hidden need not be a power of two


def test_dma_from_toml_sizes_the_dma_port(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text("[dma]\nrequests_in_flight = 5\nchannels = 4\n")
    write_verilog(tmp_path / "v", load_hardware_config(config), blocks=["dma_port"])
    (entry,) = json.loads((tmp_path / "v" / "manifest.json").read_text())["files"]
    assert entry["parameters"] == {"requests_in_flight": 5, "channels": 4, "request_bytes": 0,
                                   "address_bits": 40, "dram": "gddr6"}
    assert entry["lint"] == "clean"
    verilog = (tmp_path / "v" / "dma_port.v").read_text()
    assert "reg [2:0] \\cap.count " in verilog  # a counter of 0 .. 5 unanswered requests


def test_requests_of_several_transactions_build_a_slot_table(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text("[dma]\nrequests_in_flight = 3\nrequest_bytes = 512\n")
    write_verilog(tmp_path / "v", load_hardware_config(config), blocks=["dma_port"])
    (entry,) = json.loads((tmp_path / "v" / "manifest.json").read_text())["files"]
    assert entry["parameters"]["request_bytes"] == 512 and entry["lint"] == "clean"
    verilog = (tmp_path / "v" / "dma_port.v").read_text()
    for slot in range(3):  # each counts 0 .. 4 transactions of its request unanswered
        assert f"reg [2:0] \\cap.pending_{slot} " in verilog


def test_cli_names_a_bad_max_hidden(tmp_path, capsys):
    config = tmp_path / "hw.toml"
    config.write_text("[layers]\nmax_hidden = -1\n")
    assert main(["verilog", "--out", str(tmp_path / "v"), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "colsim: error: `layers.max_hidden` must be in [1, 1048576], not -1"
