"""Hardware configuration: the reference defaults and strict validation of TOML files."""

from __future__ import annotations

import pytest

from colsim.config import (
    HardwareConfig,
    load_hardware_config,
    reference_hardware,
    tiny_array_hardware,
    tiny_hardware,
)
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
    assert hw.clock.period_ps == 1250
    assert (hw.dma.transfers_in_flight, hw.dma.tag_bits) == (8, 3)
    seq = hw.sequencer
    assert (seq.address_bits, seq.count_bits, seq.sync_bits, seq.program_bits, seq.status_bits,
            seq.result_queue) == (40, 16, 16, 24, 32, 2)


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
    ("[sequencer]\naddress_bits = 2\n", "`sequencer.address_bits` must be in [8, 64], not 2"),
    ("[dma]\ntransfers_in_flight = 0\n", "`dma.transfers_in_flight` must be positive, not 0"),
    ("[dma]\nresult_queue = 3\n", "unknown key `dma.result_queue`"),
    ("[dma]\nrequests_in_flight = -1\n",
     "`dma.requests_in_flight` must be non-negative, not -1"),
    ("[dma]\nchannels = -2\n", "`dma.channels` must be non-negative, not -2"),
    ("[dma]\nchannels = 7\n",
     "`dma.channels` must be at most the DRAM's 6 channels (0: all), not 7"),
    ("[dma]\nrequest_bytes = 64\n",
     "`dma.request_bytes` must be the DRAM's 128-byte transaction times a power of two "
     "dividing its 8192-byte row (0: one transaction), not 64"),
    ("[dma]\nrequest_bytes = 768\n",
     "`dma.request_bytes` must be the DRAM's 128-byte transaction times a power of two "
     "dividing its 8192-byte row (0: one transaction), not 768"),
    ("[dma]\nrequest_bytes = 16384\n",
     "`dma.request_bytes` must be the DRAM's 128-byte transaction times a power of two "
     "dividing its 8192-byte row (0: one transaction), not 16384"),
    ('[dram]\npreset = "hbm2"\n[dma]\nrequest_bytes = 2048\n',
     "`dma.request_bytes` must be the DRAM's 32-byte transaction times a power of two "
     "dividing its 1024-byte row (0: one transaction), not 2048"),
    ('[dram]\npreset = "ddr9"\n', "unknown DRAM preset 'ddr9'"),
    ("[clock]\ncore_mhz = inf\n", "`clock.core_mhz` must be a finite number, not inf"),
    ("[clock]\ncore_mhz = nan\n", "`clock.core_mhz` must be a finite number, not nan"),
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
    with pytest.raises(ConfigError, match="is a directory, not a TOML file"):
        load_hardware_config(tmp_path)


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


def test_ffn_top_tables_load_from_the_hardware_toml(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_text("[dma]\ntransfers_in_flight = 4\n[sequencer]\nresult_queue = 3\n"
                    "count_bits = 20\n")
    hw = load_hardware_config(path)
    assert (hw.dma.transfers_in_flight, hw.sequencer.result_queue) == (4, 3)
    assert (hw.sequencer.count_bits, hw.sequencer.address_bits) == (20, 40)
    assert hw.dma.tag_bits == 2


def test_memory_parallelism_defaults_keep_todays_dma():
    dma = reference_hardware().dma
    assert (dma.requests_in_flight, dma.channels, dma.request_bytes) == (0, 0, 0)
    gddr6 = reference_hardware().dram_config
    assert dma.used_channels(gddr6) == 6
    hw = reference_hardware().with_overrides(
        {"dma": {"requests_in_flight": 3, "channels": 2, "request_bytes": 128}})
    assert (hw.dma.requests_in_flight, hw.dma.used_channels(hw.dram_config)) == (3, 2)
    assert dma.transactions_per_request(gddr6) == hw.dma.transactions_per_request(gddr6) == 1
    for size, burst in ((256, 2), (1024, 8), (8192, 64)):
        hw = reference_hardware().with_overrides({"dma": {"request_bytes": size}})
        assert hw.dma.transactions_per_request(hw.dram_config) == burst
    hbm2 = reference_hardware().with_overrides({"dram": {"preset": "hbm2"},
                                                "dma": {"request_bytes": 128}})
    assert hbm2.dma.transactions_per_request(hbm2.dram_config) == 4


def test_tiny_configuration_and_its_overrides():
    hw = tiny_hardware()
    assert (hw.systolic.rows, hw.systolic.cols, hw.simd.lanes) == (4, 4, 4)
    assert hw.dma == reference_hardware().dma and hw.sequencer == reference_hardware().sequencer
    assert tiny_hardware(dma={"transfers_in_flight": 3}).dma.transfers_in_flight == 3
    wide = tiny_array_hardware(8)
    assert (wide.systolic.rows, wide.systolic.cols, wide.sram.weight.kib) == (8, 8, 6)


@pytest.mark.parametrize(("core_mhz", "period_ps"), [(800.0, 1250), (1000, 1000), (250.0, 4000),
                                                     (0.5, 2_000_000)])
def test_core_period_is_exact(core_mhz, period_ps):
    hw = reference_hardware().with_overrides({"clock": {"core_mhz": core_mhz}})
    assert hw.clock.period_ps == period_ps


def test_core_period_that_is_not_whole_picoseconds_is_refused():
    hw = reference_hardware().with_overrides({"clock": {"core_mhz": 700.0}})
    with pytest.raises(ConfigError) as info:
        _ = hw.clock.period_ps
    assert str(info.value) == ("`clock.core_mhz` must give a whole-picosecond period for the RTL "
                               "benches, not 700.0 (1428.571 ps)")
