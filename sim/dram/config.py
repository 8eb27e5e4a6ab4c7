"""DRAM configuration: organisation, timing, controller and address mapping, from TOML.

Every figure lives in a preset file (``presets/<name>.toml``) or a user file; the dataclass
defaults equal the reference GDDR6 preset so that ``DramConfig()`` is the reference DRAM.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from colsim.config.loader import from_mapping, in_range, load_toml, one_of, positive
from colsim.errors import ConfigError

LEVELS = ("channel", "bankgroup", "bank", "row", "column")
"""Address-vector order returned by :func:`colsim.sim.dram.decode`."""

REFRESH_MODES = ("all-bank", "per-bank", "off")


@dataclass(frozen=True)
class DramOrganization:
    """Geometry of the memory system; one channel = one independent controller."""

    channels: int = field(default=6, metadata=positive())
    bankgroups: int = field(default=4, metadata=positive())
    banks_per_group: int = field(default=4, metadata=positive())
    rows: int = field(default=16384, metadata=positive())
    columns: int = field(default=1024, metadata=positive())
    burst_length: int = field(default=16, metadata=positive())
    transaction_bytes: int = field(default=128, metadata=positive())
    row_bytes: int = field(default=8192, metadata=positive())

    def __post_init__(self) -> None:
        if self.columns % self.burst_length:
            raise ConfigError(
                f"`organization.columns` ({self.columns}) must be a multiple of "
                f"`organization.burst_length` ({self.burst_length})"
            )
        if self.transactions_per_row * self.transaction_bytes != self.row_bytes:
            raise ConfigError(
                f"`organization.row_bytes` must equal columns / burst_length × "
                f"transaction_bytes = {self.transactions_per_row * self.transaction_bytes}, "
                f"not {self.row_bytes}"
            )

    @property
    def banks(self) -> int:
        """Banks per channel."""
        return self.bankgroups * self.banks_per_group

    @property
    def transactions_per_row(self) -> int:
        """Bursts (transactions) that fit in one row."""
        return self.columns // self.burst_length

    @property
    def capacity_bytes(self) -> int:
        """Total addressable bytes over all channels."""
        return self.channels * self.banks * self.rows * self.row_bytes


@dataclass(frozen=True)
class DramTiming:
    """Timing parameters in DRAM command-clock cycles (``clock_mhz`` sets the cycle)."""

    clock_mhz: float = field(default=1000.0, metadata=positive())
    bl: int = field(default=8, metadata=positive())
    cl: int = field(default=24, metadata=positive())
    cwl: int = field(default=6, metadata=positive())
    rcd_rd: int = field(default=26, metadata=positive())
    rcd_wr: int = field(default=16, metadata=positive())
    rp: int = field(default=26, metadata=positive())
    ras: int = field(default=53, metadata=positive())
    rc: int = field(default=79, metadata=positive())
    wr: int = field(default=26, metadata=positive())
    rtp: int = field(default=4, metadata=positive())
    ccd_s: int = field(default=4, metadata=positive())
    ccd_l: int = field(default=6, metadata=positive())
    rrd_s: int = field(default=5, metadata=positive())
    rrd_l: int = field(default=6, metadata=positive())
    wtr_s: int = field(default=9, metadata=positive())
    wtr_l: int = field(default=11, metadata=positive())
    faw: int = field(default=28, metadata=positive())
    rtw: int = field(default=30, metadata=positive())
    refi: int = field(default=1900, metadata=positive())
    rfc: int = field(default=120, metadata=positive())
    rfc_pb: int = field(default=60, metadata=positive())
    rrefd: int = field(default=14, metadata=positive())
    # Also apply ACT→PRE (tRAS) and PRE→ACT (tRP) across the whole channel, as Ramulator 2's
    # GDDR6 model does. Not JEDEC behaviour; only for runs compared against that model.
    channel_wide_ras_rp: bool = False

    def __post_init__(self) -> None:
        errors = _timing_relation_errors(self)
        if errors:
            raise ConfigError(errors[0])

    @property
    def read_latency(self) -> int:
        """Cycles from RD issue to the last data beat: CL + nBL."""
        return self.cl + self.bl


# JEDEC relations between timing parameters that a user can get wrong, as (smaller, larger,
# strict): `smaller` must not exceed (strict: must stay below) `larger`. tREFI > tRFC is also
# what the controller needs to make progress: refresh would otherwise take every cycle.
TIMING_RELATIONS = (
    ("rcd_rd", "ras", False),  # a row is open at least until it can be read
    ("rcd_wr", "ras", False),
    ("ras", "rc", False),
    ("ccd_s", "ccd_l", False),  # the same bank group is never faster than another one
    ("rrd_s", "rrd_l", False),
    ("wtr_s", "wtr_l", False),
    ("rfc", "refi", True),
)


def _timing_relation_errors(t: DramTiming) -> list[str]:
    """Return one message per violated relation between ``t``'s parameters."""
    errors = [
        f"`timing.{small}` ({getattr(t, small)}) must be "
        f"{'below' if strict else 'at most'} `timing.{large}` ({getattr(t, large)})"
        for small, large, strict in TIMING_RELATIONS
        if getattr(t, small) > getattr(t, large) - strict
    ]
    if t.ras + t.rp > t.rc:
        errors.append(f"`timing.ras` + `timing.rp` ({t.ras} + {t.rp}) must be at most "
                      f"`timing.rc` ({t.rc})")
    return errors


@dataclass(frozen=True)
class ControllerConfig:
    """Per-channel FR-FCFS controller with open-row policy."""

    read_queue: int = field(default=32, metadata=positive())
    write_queue: int = field(default=32, metadata=positive())
    write_high_watermark: float = field(default=0.8, metadata=in_range(0.0, 1.0))
    write_low_watermark: float = field(default=0.2, metadata=in_range(0.0, 1.0))
    refresh: str = field(default="all-bank", metadata=one_of(*REFRESH_MODES))

    def __post_init__(self) -> None:
        if self.write_low_watermark <= 0:
            raise ConfigError(
                f"`controller.write_low_watermark` must be above 0 (write drain would never "
                f"end while reads wait), not {self.write_low_watermark!r}"
            )
        if self.write_low_watermark > self.write_high_watermark:
            raise ConfigError(
                f"`controller.write_low_watermark` ({self.write_low_watermark}) must not "
                f"exceed `controller.write_high_watermark` ({self.write_high_watermark})"
            )


def _check_mapping(order: tuple[str, ...]) -> str | None:
    """Validate a mapping order: a permutation of :data:`LEVELS`."""
    if sorted(order) != sorted(LEVELS):
        return f"must list each of {', '.join(LEVELS)} exactly once (least significant first)"
    return None


@dataclass(frozen=True)
class DramConfig:
    """A whole DRAM memory system: organisation, timing, controller, address mapping."""

    name: str = "gddr6"
    mapping: tuple[str, ...] = field(
        default=("channel", "column", "bankgroup", "bank", "row"),
        metadata={"check": _check_mapping},
    )
    organization: DramOrganization = field(default_factory=DramOrganization)
    timing: DramTiming = field(default_factory=DramTiming)
    controller: ControllerConfig = field(default_factory=ControllerConfig)

    def __post_init__(self) -> None:
        if self.controller.refresh != "per-bank":
            return
        banks, t = self.organization.banks, self.timing
        interval = t.refi // banks
        if interval <= t.rrefd:
            raise ConfigError(
                f"per-bank refresh needs `timing.refi` / banks ({t.refi} / {banks} = "
                f"{interval}) above `timing.rrefd` ({t.rrefd})"
            )
        if interval * banks <= t.rfc_pb:
            raise ConfigError(
                f"per-bank refresh needs `timing.refi` ({interval * banks} after rounding to "
                f"{banks} banks) above `timing.rfc_pb` ({t.rfc_pb})"
            )

    @property
    def peak_bandwidth_gbs(self) -> float:
        """Peak data bandwidth over all channels in GB/s."""
        org = self.organization
        per_cycle = org.transaction_bytes / self.timing.bl
        return per_cycle * org.channels * self.timing.clock_mhz / 1000.0


def preset_names() -> list[str]:
    """Return the names of the packaged DRAM presets."""
    folder = resources.files("colsim.sim.dram.presets")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _preset_values(preset: str) -> dict[str, Any]:
    """Return the parsed TOML of a packaged preset; unknown names list the known ones."""
    names = preset_names()
    if preset not in names:
        raise ConfigError(f"unknown DRAM preset {preset!r} (known presets: {', '.join(names)})")
    text = resources.files("colsim.sim.dram.presets").joinpath(f"{preset}.toml").read_text()
    return tomllib.loads(text)


def load_dram_config(
    preset: str = "gddr6", file: str | None = None, **overrides: Any
) -> DramConfig:
    """Return a validated DRAM configuration.

    ``file`` (a TOML file; keys it leaves out keep the reference GDDR6 values) wins over
    ``preset``. ``overrides`` are top-level keys or tables applied last, e.g.
    ``organization={"channels": 2}`` or ``controller={"refresh": "off"}``.
    """
    values = load_toml(file) if file else _preset_values(preset)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return from_mapping(DramConfig, values)

