"""Hardware configuration: the reference defaults and strict validation of TOML files."""

from __future__ import annotations

import pytest

from colsim.config import HardwareConfig, load_hardware_config, reference_hardware
from colsim.errors import ConfigError


def test_reference_toml_spells_out_the_dataclass_defaults():
    assert reference_hardware() == HardwareConfig()


def test_reference_values_are_those_of_the_design():
    hw = reference_hardware()
    assert hw.clock.core_mhz == 800.0
    assert (hw.systolic.rows, hw.systolic.cols) == (32, 32)
    assert hw.simd.lanes == 64
    assert [(b.kib, b.slots) for b in (hw.sram.input, hw.sram.weight, hw.sram.output)] == [
        (24, 2), (192, 3), (24, 2)]
    assert hw.sram.weight.slot_bytes == 64 * 1024
    assert hw.dram.preset == "gddr6"
    assert hw.layers.max_hidden == 8192  # DESIGN.md's widest N = 5120, to a power of two


def test_partial_file_keeps_reference_values(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_text("[systolic]\nrows = 4\ncols = 8\n[sram.weight]\nkib = 12\n")
    hw = load_hardware_config(path)
    assert (hw.systolic.rows, hw.systolic.cols, hw.sram.weight.kib) == (4, 8, 12)
    assert hw.sram.weight.slots == 3 and hw.simd.lanes == 64


@pytest.mark.parametrize(("text", "message"), [
    ("[systolic]\nrows = -1\n", "`systolic.rows` must be positive, not -1"),
    ("[systolic]\nrows = 0\n", "`systolic.rows` must be positive, not 0"),
    ("[systolic]\nrowz = 4\n", "unknown key `systolic.rowz`"),
    ("[sram.weight]\nkib = \"big\"\n", "`sram.weight.kib` must be of type int, not 'big'"),
    ("[simd]\nlanes = true\n", "`simd.lanes` must be of type int, not True"),
    ("[clock]\ncore_mhz = -800\n", "`clock.core_mhz` must be positive, not -800"),
    ("[systolic]\noperand_bits = 8\n", "`systolic.operand_bits` must be one of 16, not 8"),
    ("gpu = 1\n", "unknown key `gpu`"),
    ("systolic = 3\n", "`systolic` must be a table, not 3"),
    ("[systolic]\ncols = 4096\n[sram.weight]\nkib = 3\n", "cannot hold one row"),
    ("[layers]\nmax_hidden = 0\n", "`layers.max_hidden` must be in [1, 1048576], not 0"),
    ("[layers]\nmax_hidden = 4096.0\n", "`layers.max_hidden` must be of type int, not 4096.0"),
    ("[layers]\nmax_width = 4096\n", "unknown key `layers.max_width`"),
])
def test_bad_values_name_the_key_and_the_value(tmp_path, text, message):
    path = tmp_path / "hw.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_hardware_config(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_hardware_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[systolic\nrows = 4\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_hardware_config(bad)


def test_config_is_frozen():
    hw = reference_hardware()
    with pytest.raises(AttributeError):
        hw.systolic.rows = 4  # type: ignore[misc]


@pytest.mark.parametrize(("max_hidden", "index_bits", "count_bits"), [
    (8192, 13, 14), (5120, 13, 13), (100, 7, 7), (1, 1, 1)])
def test_max_hidden_sizes_the_column_logic(tmp_path, max_hidden, index_bits, count_bits):
    path = tmp_path / "hw.toml"
    path.write_text(f"[layers]\nmax_hidden = {max_hidden}\n")
    layers = load_hardware_config(path).layers
    assert (layers.max_hidden, layers.index_bits, layers.count_bits) == (
        max_hidden, index_bits, count_bits)
