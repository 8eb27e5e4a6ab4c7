"""Design parameters of the FFN engine top beyond :class:`~colsim.config.HardwareConfig`.

These size the top's control logic (address and counter widths, in-flight transfers, the
array→SIMD result queue); they are defaults here and may be overridden from a TOML table
through :mod:`colsim.config.loader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colsim.config.loader import from_mapping, in_range, load_toml, positive


@dataclass(frozen=True)
class FfnTopConfig:
    """Widths and queue depths of the FFN engine top's sequencer."""

    address_bits: int = field(default=40, metadata=in_range(8, 64))  # DRAM byte address
    count_bits: int = field(default=16, metadata=in_range(4, 32))  # transactions, op cycles
    sync_bits: int = field(default=16, metadata=in_range(4, 32))  # modular sync counters
    program_bits: int = field(default=24, metadata=in_range(4, 32))  # instructions per stream
    status_bits: int = field(default=32, metadata=in_range(8, 64))  # cycle counters
    transfers_in_flight: int = field(default=8, metadata=positive())  # DMA tag table entries
    result_queue: int = field(default=2, metadata=positive())  # array tiles awaiting SIMD

    @property
    def tag_bits(self) -> int:
        """Return the width of a request tag (an index into the in-flight table)."""
        return max(1, (self.transfers_in_flight - 1).bit_length())


def load_ffn_top_config(path: str | Path | None = None, **overrides: Any) -> FfnTopConfig:
    """Return the defaults, a TOML file's values over them, then ``overrides`` over those."""
    values = load_toml(path) if path else {}
    values.update(overrides)
    return from_mapping(FfnTopConfig, values)
