"""DRAM configuration: presets, TOML files, overrides and validation messages."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from colsim.config import HardwareConfig, from_mapping, load_hardware_config, reference_hardware
from colsim.errors import ColsimError, ConfigError
from colsim.sim.dram import DramConfig, load_dram_config, preset_names


def test_gddr6_preset_equals_dataclass_defaults():
    assert load_dram_config() == DramConfig()
    assert load_dram_config("gddr6") == DramConfig()


def test_reference_gddr6_figures():
    config = load_dram_config()
    org, t = config.organization, config.timing
    assert (org.channels, org.banks, org.row_bytes, org.transaction_bytes) == (6, 16, 8192, 128)
    assert config.peak_bandwidth_gbs == pytest.approx(96.0)
    assert (t.cl, t.rcd_rd, t.rcd_wr, t.rp, t.ras, t.ccd_s, t.ccd_l) == (24, 26, 16, 26, 53, 4, 6)
    assert config.mapping == ("channel", "column", "bankgroup", "bank", "row")
    assert config.controller.read_queue == config.controller.write_queue == 32


def test_every_preset_loads_and_spells_out_every_key():
    assert {"gddr6", "hbm2"} <= set(preset_names())
    for name in preset_names():
        text = resources.files("colsim.sim.dram.presets").joinpath(f"{name}.toml").read_text()
        values = tomllib.loads(text)
        for table in ("organization", "timing", "controller"):
            declared = set(getattr(DramConfig(), table).__dataclass_fields__)
            assert set(values[table]) == declared, (name, table)
        config = load_dram_config(name)
        assert config.name == name


def test_hbm2_is_a_different_operating_point():
    hbm2 = load_dram_config("hbm2")
    assert hbm2.organization.channels == 16
    assert hbm2.peak_bandwidth_gbs == pytest.approx(256.0)
    assert hbm2.timing != DramConfig().timing


def test_overrides_and_user_file(tmp_path):
    config = load_dram_config(organization={"channels": 2}, controller={"refresh": "off"})
    assert config.organization.channels == 2
    assert config.controller.refresh == "off"
    assert config.timing == DramConfig().timing
    path = tmp_path / "mine.toml"
    path.write_text('name = "slow"\n[timing]\ncl = 30\n')
    mine = load_dram_config(file=str(path))
    assert (mine.name, mine.timing.cl, mine.timing.rp) == ("slow", 30, 26)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timing": {"cl": -1}}, "`timing.cl` must be positive, not -1"),
        ({"timing": {"tcl": 3}}, "unknown key `timing.tcl`"),
        ({"organization": {"channels": 0}}, "`organization.channels` must be positive, not 0"),
        ({"controller": {"refresh": "sometimes"}}, "`controller.refresh` must be one of"),
        ({"controller": {"write_low_watermark": 0.9}}, "must not exceed"),
        ({"controller": {"write_high_watermark": 1.5}}, "must be in [0.0, 1.0]"),
        ({"organization": {"row_bytes": 4096}}, "`organization.row_bytes` must equal"),
        ({"organization": {"columns": 1000}}, "must be a multiple of"),
        ({"mapping": ["row", "bank", "column", "channel"]}, "`mapping` must list each of"),
        ({"mapping": ["row", "row", "column", "channel", "bank"]}, "`mapping` must list each"),
        ({"timing": {"refi": 50}}, "`timing.rfc` (120) must be below `timing.refi` (50)"),
        ({"timing": {"refi": 120}}, "`timing.rfc` (120) must be below `timing.refi` (120)"),
        ({"timing": {"ras": 90}}, "`timing.ras` (90) must be at most `timing.rc` (79)"),
        ({"timing": {"rcd_rd": 60}}, "`timing.rcd_rd` (60) must be at most `timing.ras` (53)"),
        ({"timing": {"rp": 30}}, "`timing.ras` + `timing.rp` (53 + 30) must be at most "
                                 "`timing.rc` (79)"),
        ({"timing": {"ccd_s": 8}}, "`timing.ccd_s` (8) must be at most `timing.ccd_l` (6)"),
        ({"timing": {"wtr_l": 2}}, "`timing.wtr_s` (9) must be at most `timing.wtr_l` (2)"),
        ({"controller": {"write_low_watermark": 0.0}},
         "`controller.write_low_watermark` must be above 0"),
        ({"controller": {"refresh": "per-bank"}, "timing": {"refi": 200}},
         "per-bank refresh needs `timing.refi` / banks (200 / 16 = 12) above `timing.rrefd` (14)"),
        ({"controller": {"refresh": "per-bank"}, "timing": {"refi": 500, "rfc": 100,
                                                             "rfc_pb": 600}},
         "per-bank refresh needs `timing.refi` (496 after rounding to 16 banks) above "
         "`timing.rfc_pb` (600)"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_dram_config(**overrides)
    assert message in str(info.value)


def test_unknown_preset_and_missing_file():
    with pytest.raises(ColsimError, match=r"unknown DRAM preset 'ddr9' .*gddr6, hbm2"):
        load_dram_config("ddr9")
    with pytest.raises(ColsimError, match="does not exist"):
        load_dram_config(file="/nonexistent/dram.toml")


def test_hardware_config_carries_the_dram_it_selects(tmp_path):
    assert reference_hardware().dram_config == DramConfig()
    (tmp_path / "dram.toml").write_text("[organization]\nchannels = 4\n")
    (tmp_path / "hw.toml").write_text('[dram]\npreset = "hbm2"\nfile = "dram.toml"\n')
    hw = load_hardware_config(tmp_path / "hw.toml")  # the file is relative to hw.toml's folder
    assert hw.dram.file == str((tmp_path / "dram.toml").resolve())
    assert hw.dram_config.organization.channels == 4
    (tmp_path / "hw2.toml").write_text('[dram]\npreset = "hbm2"\n')
    assert load_hardware_config(tmp_path / "hw2.toml").dram_config.name == "hbm2"
    built = from_mapping(HardwareConfig, {"dram": {"preset": "hbm2"}})
    assert built.dram_config == load_dram_config("hbm2")
    assert built.with_overrides({"dram": {"preset": "gddr6"}}).dram_config == DramConfig()


def test_dram_file_is_read_once_when_the_hardware_config_is_built(tmp_path):
    (tmp_path / "dram.toml").write_text("[organization]\nchannels = 4\n")
    (tmp_path / "hw.toml").write_text('[dram]\nfile = "dram.toml"\n')
    hw = load_hardware_config(tmp_path / "hw.toml")
    (tmp_path / "dram.toml").unlink()
    assert hw.dram_config.organization.channels == 4
