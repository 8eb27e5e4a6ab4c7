"""The accelerator's hardware configuration (DESIGN.md §2), as frozen validated dataclasses.

Every default here equals the reference hardware; ``reference.toml`` spells the same values
out as the file users copy and edit. Code never hard-codes these figures: it takes a
:class:`HardwareConfig`, which carries the DRAM configuration its ``[dram]`` table selects,
resolved once when the config is built (:attr:`HardwareConfig.dram_config`).

The DRAM schema (:mod:`colsim.sim.dram.config`) is imported where the selection is resolved,
not at the top of this module: that module's package loads the compiled DRAM kernel (numba),
and this one must stay light (the command line imports it to build its parser). The modules
form no cycle: this one → ``colsim.sim.dram.config`` → :mod:`colsim.config.loader`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colsim.config.loader import (
    from_mapping,
    in_range,
    load_toml,
    non_negative,
    one_of,
    positive,
    with_overrides,
)
from colsim.errors import ColsimError, ConfigError

if TYPE_CHECKING:
    from colsim.sim.dram.config import DramConfig


@dataclass(frozen=True)
class ClockConfig:
    """Core clock of the accelerator (the DRAM clock belongs to the DRAM configuration)."""

    core_mhz: float = field(default=800.0, metadata=positive())

    @property
    def period_ps(self) -> int:
        """Return the exact core clock period in picoseconds (800 MHz: 1250 ps).

        Only the RTL benches need it (their simulators count whole picoseconds), so a clock
        without a whole-picosecond period is refused here rather than when loading.
        """
        period = 1_000_000 / Fraction(str(self.core_mhz))
        if period.denominator != 1:
            raise ConfigError(f"`clock.core_mhz` must give a whole-picosecond period for the "
                              f"RTL benches, not {self.core_mhz!r} ({float(period):.3f} ps)")
        return int(period)


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

    def resolve(self) -> DramConfig:
        """Return the DRAM configuration selected: the file's (read now) or the preset's.

        A relative ``file`` is read from the working directory; :func:`load_hardware_config`
        makes it absolute (against the hardware file's folder) before the config is built.
        """
        from colsim.sim.dram.config import load_dram_config  # see the module docstring

        return load_dram_config(self.preset, self.file or None)


@dataclass(frozen=True)
class DmaConfig:
    """The FFN top's DMA engine: its memory-level parallelism (``[dma]``).

    ``transfers_in_flight`` is the size of its in-flight table: transfers issued and not yet
    completed (each owns an entry, whose index is the tag of its DRAM requests). With few
    entries the engine waits on DRAM latency, with many compute or bandwidth sets the pace.
    ``requests_in_flight`` caps the DRAM requests issued and not yet answered (0: no cap
    beyond the DRAM's own back-pressure and the in-flight table): at the cap the DMA's port
    holds its next request until a response arrives. ``channels`` is how many of the DRAM's
    channels the accelerator's data is interleaved over (0: all): transaction ``t`` of the
    accelerator's address space goes to channel ``t % channels``
    (:mod:`colsim.hw.interleave_model`). ``request_bytes`` is the size of one DMA request
    (0: one DRAM transaction ``T``): ``k·T`` with ``k`` a power of two that divides the
    transactions of a DRAM row, so a request never crosses a row of its channel. A request is
    an aligned block of ``request_bytes`` of the accelerator's address space: the DMA groups
    a transfer's consecutive transactions in one block into one request (1 to ``k`` of them),
    the block goes to one channel, its transactions to consecutive columns there, and
    ``requests_in_flight`` counts requests (unanswered until their last transaction is).
    This table is apart from :class:`SequencerConfig` because its values decide whether a
    workload is compute- or memory-bound (DESIGN.md §2: an axis to expose and measure),
    while the sequencer's only size the RTL.
    """

    transfers_in_flight: int = field(default=8, metadata=positive())
    requests_in_flight: int = field(default=0, metadata=non_negative())  # 0: uncapped
    channels: int = field(default=0, metadata=non_negative())  # 0: all the DRAM's channels
    request_bytes: int = field(default=0, metadata=non_negative())  # 0: a DRAM transaction

    @property
    def tag_bits(self) -> int:
        """Return the width of a request tag (an index into the in-flight table)."""
        return max(1, (self.transfers_in_flight - 1).bit_length())

    def check_dram(self, dram: DramConfig) -> None:
        """Raise ``ConfigError`` when a value does not fit the DRAM ``dram``.

        ``channels`` must be at most the DRAM's channels; ``request_bytes`` must be the DRAM's
        transaction times a power of two that divides its row's transactions.
        """
        org = dram.organization
        if self.channels > org.channels:
            raise ConfigError(f"`dma.channels` must be at most the DRAM's {org.channels} "
                              f"channels (0: all), not {self.channels}")
        size, k = org.transaction_bytes, self.request_bytes // org.transaction_bytes
        if self.request_bytes and (self.request_bytes % size or k & (k - 1)
                                   or org.transactions_per_row % k):
            raise ConfigError(
                f"`dma.request_bytes` must be the DRAM's {size}-byte transaction times a power "
                f"of two dividing its {org.row_bytes}-byte row (0: one transaction), "
                f"not {self.request_bytes}")

    def transactions_per_request(self, dram: DramConfig) -> int:
        """Return the DRAM transactions one DMA request spans at most (``k``)."""
        return max(1, self.request_bytes // dram.organization.transaction_bytes)

    def used_channels(self, dram: DramConfig) -> int:
        """Return the DRAM channels the accelerator's data is interleaved over."""
        return self.channels or dram.organization.channels


@dataclass(frozen=True)
class SequencerConfig:
    """The FFN top's instruction sequencer: its widths and result queue (``[sequencer]``).

    The widths size the RTL only (instruction fields, counters, status registers): a program
    whose values do not fit is refused when compiled, naming the field; they change no cycle
    count. ``result_queue`` is the depth of the array→SIMD queue of finished output tiles.
    """

    address_bits: int = field(default=40, metadata=in_range(8, 64))  # DRAM byte address
    count_bits: int = field(default=16, metadata=in_range(4, 32))  # transactions, op cycles
    sync_bits: int = field(default=16, metadata=in_range(4, 32))  # modular sync counters
    program_bits: int = field(default=24, metadata=in_range(4, 32))  # instructions per stream
    status_bits: int = field(default=32, metadata=in_range(8, 64))  # cycle counters
    result_queue: int = field(default=2, metadata=positive())  # array tiles awaiting SIMD


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
    """The whole accelerator: clock, systolic engine, SIMD unit, SRAM buffers, DRAM, limits,
    and the FFN top's DMA engine and sequencer.

    Building one (directly, :func:`load_hardware_config`, :func:`reference_hardware`,
    :func:`~colsim.config.loader.from_mapping`, :meth:`with_overrides`) resolves the ``dram``
    selection once: :attr:`dram_config` holds the result and nothing reads it again.
    """

    clock: ClockConfig = field(default_factory=ClockConfig)
    systolic: SystolicConfig = field(default_factory=SystolicConfig)
    simd: SimdConfig = field(default_factory=SimdConfig)
    sram: SramConfig = field(default_factory=SramConfig)
    dram: DramSelection = field(default_factory=DramSelection)
    layers: LayerLimits = field(default_factory=LayerLimits)
    dma: DmaConfig = field(default_factory=DmaConfig)
    sequencer: SequencerConfig = field(default_factory=SequencerConfig)

    def __post_init__(self) -> None:
        slot = self.sram.weight.slot_bytes
        column_bytes = self.systolic.cols * self.systolic.operand_bits // 8
        if slot < column_bytes:
            raise ConfigError(
                f"`sram.weight` slot of {slot} bytes cannot hold one row of "
                f"{self.systolic.cols} operands ({column_bytes} bytes)"
            )
        # Derived, not a field: equality, hashing and to_mapping() see the selection only.
        object.__setattr__(self, "_dram_config", self.dram.resolve())
        self.dma.check_dram(self._dram_config)

    @property
    def dram_config(self) -> DramConfig:
        """The DRAM configuration ``dram`` selects, resolved when this config was built."""
        return self._dram_config

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


def tiny_hardware(**overrides: Any) -> HardwareConfig:
    """Return the packaged ``tiny.toml`` (a 4×4 array, 4 SIMD lanes, 1 / 3 / 1 KiB buffers)
    with ``overrides`` applied."""
    return load_hardware_config(packaged_config(TINY_TOML)).with_overrides(overrides)


def tiny_array_hardware(size: int) -> HardwareConfig:
    """Return the tiny configuration with a ``size``×``size`` array (``size`` a multiple of 4).

    The weight buffer grows with the array so that its slots keep the tiny 4×4 top's 128
    rows: a W1 column fill writes whole DRAM beats (64 K positions) down a lane, so a gated
    layer's two parts need 128 rows even when d is smaller.
    """
    return tiny_hardware(systolic={"rows": size, "cols": size},
                         sram={"weight": {"kib": 3 * size // 4}})


def load_hardware_config(path: str | Path | None = None) -> HardwareConfig:
    """Load a hardware TOML file (keys absent from it keep the reference values).

    ``None`` returns :func:`reference_hardware`. A relative DRAM file path is resolved
    against the folder of ``path`` (and the DRAM file read once, with the hardware file).
    """
    if path is None:
        return reference_hardware()
    values = load_toml(path)
    dram = values.get("dram")
    file = dram.get("file") if isinstance(dram, dict) else None
    if isinstance(file, str) and file and not Path(file).is_absolute():
        values["dram"] = {**dram, "file": str((Path(path).parent / file).resolve())}
    return from_mapping(HardwareConfig, values)
