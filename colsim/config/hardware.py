"""The accelerator's hardware configuration (DESIGN.md §2), as frozen validated dataclasses.

Every default here equals the reference hardware; ``reference.toml`` spells the same values
out as the file users copy and edit. Code never hard-codes these figures: it takes a
:class:`HardwareConfig`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from colsim.config.loader import (
    from_mapping,
    in_range,
    load_toml,
    one_of,
    positive,
    with_overrides,
)
from colsim.errors import ColsimError, ConfigError


@dataclass(frozen=True)
class ClockConfig:
    """Core clock of the accelerator (the DRAM clock belongs to the DRAM configuration)."""

    core_mhz: float = field(default=800.0, metadata=positive())


@dataclass(frozen=True)
class SystolicConfig:
    """The systolic matrix engine: ``rows`` × ``cols`` processing elements."""

    rows: int = field(default=32, metadata=positive())
    cols: int = field(default=32, metadata=positive())
    operand_bits: int = field(default=16, metadata=one_of(16))  # int16 operands (the RTL's width)
    accumulator_bits: int = field(default=32, metadata=one_of(32))  # int32 accumulators


@dataclass(frozen=True)
class SimdConfig:
    """The element-wise SIMD unit (GELU, compare, add, requantise)."""

    lanes: int = field(default=64, metadata=positive())
    element_bits: int = field(default=16, metadata=one_of(16))
    frac_bits: int = field(default=8, metadata=in_range(0, 14))  # int16 activations are Q7.8
    gelu_segment_bits: int = field(default=3, metadata=in_range(0, 8))  # GELU LUT step 2**-3


@dataclass(frozen=True)
class SramBuffer:
    """One on-chip buffer: total capacity in KiB split into ``slots`` equal slots."""

    kib: int = field(default=24, metadata=positive())
    slots: int = field(default=2, metadata=positive())

    @property
    def bytes(self) -> int:
        """Total capacity in bytes."""
        return self.kib * 1024

    @property
    def slot_bytes(self) -> int:
        """Capacity of one slot in bytes (the unit of double/triple buffering)."""
        return self.bytes // self.slots


@dataclass(frozen=True)
class SramConfig:
    """Input / weight / output buffers (24 / 192 / 24 KiB with 2 / 3 / 2 slots by default)."""

    input: SramBuffer = field(default_factory=lambda: SramBuffer(kib=24, slots=2))
    weight: SramBuffer = field(default_factory=lambda: SramBuffer(kib=192, slots=3))
    output: SramBuffer = field(default_factory=lambda: SramBuffer(kib=24, slots=2))


@dataclass(frozen=True)
class DramSelection:
    """Which DRAM configuration the accelerator uses: a named preset or a TOML file.

    ``file`` (a path, relative paths resolved against the hardware config's folder) wins over
    ``preset`` when given. The DRAM configuration itself lives in ``colsim.sim.dram``.
    """

    preset: str = "gddr6"
    file: str = ""


@dataclass(frozen=True)
class LayerLimits:
    """The widest FFN layer the accelerator's RTL takes; it sizes the column logic.

    ``max_hidden`` (N, hidden columns) is the depth of the hot-cold remapper's permutation
    table and sets the width of the column-skip logic's indices and counters. The default,
    8192, is the widest layer of DESIGN.md's workloads (N = 5120) rounded up to a power of two.
    """

    max_hidden: int = field(default=8192, metadata=in_range(1, 1 << 20))

    @property
    def index_bits(self) -> int:
        """Bits of a column index 0 .. max_hidden-1 (the remapper's table address and entry)."""
        return max(1, (self.max_hidden - 1).bit_length())

    @property
    def count_bits(self) -> int:
        """Bits that count 0 .. max_hidden columns (the skip logic's N, indices, counters)."""
        return self.max_hidden.bit_length()

    def check_layer(self, name: str, hidden: int) -> None:
        """Raise ``ColsimError`` when a layer of ``hidden`` columns is wider than the RTL's."""
        if hidden > self.max_hidden:
            raise ColsimError(
                f"layer {name!r} has N = {hidden} hidden columns, more than "
                f"`layers.max_hidden` = {self.max_hidden} of the hardware configuration"
            )


@dataclass(frozen=True)
class HardwareConfig:
    """The whole accelerator: clock, systolic engine, SIMD unit, SRAM buffers, DRAM, limits."""

    clock: ClockConfig = field(default_factory=ClockConfig)
    systolic: SystolicConfig = field(default_factory=SystolicConfig)
    simd: SimdConfig = field(default_factory=SimdConfig)
    sram: SramConfig = field(default_factory=SramConfig)
    dram: DramSelection = field(default_factory=DramSelection)
    layers: LayerLimits = field(default_factory=LayerLimits)

    def __post_init__(self) -> None:
        slot = self.sram.weight.slot_bytes
        column_bytes = self.systolic.cols * self.systolic.operand_bits // 8
        if slot < column_bytes:
            raise ConfigError(
                f"`sram.weight` slot of {slot} bytes cannot hold one row of "
                f"{self.systolic.cols} operands ({column_bytes} bytes)"
            )

    def with_overrides(self, values: dict[str, Any]) -> HardwareConfig:
        """Return a validated copy with nested ``values`` applied (e.g. a smaller array)."""
        return with_overrides(self, values)


REFERENCE_TOML = "reference.toml"
TINY_TOML = "tiny.toml"


def packaged_config(name: str) -> Path:
    """Return the path of a hardware TOML shipped in ``colsim.config`` (e.g. ``tiny.toml``)."""
    return Path(str(resources.files("colsim.config").joinpath(name)))


def reference_hardware() -> HardwareConfig:
    """Return the reference hardware of DESIGN.md, read from the packaged ``reference.toml``."""
    text = resources.files("colsim.config").joinpath(REFERENCE_TOML).read_text()
    return from_mapping(HardwareConfig, tomllib.loads(text))


def load_hardware_config(path: str | Path | None = None) -> HardwareConfig:
    """Load a hardware TOML file (keys absent from it keep the reference values).

    ``None`` returns :func:`reference_hardware`. Relative DRAM file paths are resolved
    against the folder of ``path``.
    """
    if path is None:
        return reference_hardware()
    values = load_toml(path)
    config = from_mapping(HardwareConfig, values)
    if config.dram.file and not Path(config.dram.file).is_absolute():
        resolved = str((Path(path).parent / config.dram.file).resolve())
        config = config.with_overrides({"dram": {"file": resolved}})
    return config
