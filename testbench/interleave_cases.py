"""The channel interleaver's spec: one case table, run on every implementation of the block.

An :class:`InterleaveCase` names a DRAM preset, the channels used (``dma.channels``), an
explicit seed, a request count and a stall probability. Its requests
(:meth:`InterleaveCase.requests`) are random accelerator addresses below the used channels'
capacity plus the edges (0, the last byte, the first transactions, the ends of the first
rows); each must leave as :meth:`~colsim.hw.interleave_model.Interleave.physical` of it,
with its tag unchanged. The same table runs on the reference model, the Amaranth simulator
and Verilator (``tests/hw/test_interleave.py``) and makes the block's part of
``colsim regress``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, reference_hardware
from colsim.hw.interleave_model import Interleave


@dataclass(frozen=True)
class InterleaveCase:
    """``count`` requests through the interleaver of ``used`` channels of ``preset``."""

    preset: str
    used: int
    seed: int
    count: int = 200
    stall: float = 0.3

    @property
    def name(self) -> str:
        """Return the case's id: preset, channels used and seed."""
        return f"{self.preset}-c{self.used}-s{self.seed}"

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with this case's DRAM preset and channels."""
        return reference_hardware().with_overrides(
            {"dram": {"preset": self.preset}, "dma": {"channels": self.used}})

    def requests(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the accelerator addresses and the 8-bit tags of the case's requests."""
        interleave = Interleave.from_hw(self.hardware())
        size = interleave.transaction_bytes
        row = size * interleave.below * interleave.used  # one row of every used channel
        edges = [0, 1, size - 1, size, 2 * size + 5, row - 1, row, row + size,
                 interleave.capacity - size, interleave.capacity - 1]
        rng = np.random.default_rng(self.seed)
        addresses = np.r_[edges, rng.integers(0, interleave.capacity, self.count - len(edges))]
        return addresses.astype(np.int64), rng.integers(0, 256, self.count)

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> InterleaveCase:
        """Return the case from its JSON (the runner's extra keys are ignored)."""
        return cls(case["preset"], case["used"], case["seed"], case["count"], case["stall"])


INTERLEAVE_CASES: tuple[InterleaveCase, ...] = (
    # First: the sample Verilator runs by default. 4 of 6 GDDR6 channels: the decode divides
    # by a non-power of two (4 used, 6 in all) and addresses need all 34 bits.
    InterleaveCase("gddr6", 4, 1),
    InterleaveCase("gddr6", 1, 2, stall=0.0),
    InterleaveCase("gddr6", 3, 3, stall=0.5),
    InterleaveCase("gddr6", 5, 4),
    InterleaveCase("gddr6", 6, 5),  # every channel: the identity
    InterleaveCase("hbm2", 6, 6),  # 6 of 16 pseudo-channels, 32-byte transactions
    InterleaveCase("hbm2", 8, 7),
)
"""Every case of the block, in a stable order (names are unique)."""
