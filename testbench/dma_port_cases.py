"""The DMA port's spec: one case table, run on every implementation of the block.

A :class:`DmaPortCase` names a DRAM preset, the channels used (``dma.channels``), the request
cap (``dma.requests_in_flight``, at least 1 here: the stand-alone port is then clocked), an
explicit seed, a request count and the probabilities of the per-cycle stimulus
(:meth:`DmaPortCase.draws`). Its requests (:meth:`DmaPortCase.requests`) are random
accelerator addresses below the used channels' capacity plus the edges (0, the last byte,
the first transactions, the ends of the first rows). Every implementation returns the
:class:`~colsim.hw.dma_port_model.PortTrace` (cycle, DRAM address and tag of each request
that passed, and the response cycles); the same table runs on the reference model, the
Amaranth simulator and Verilator (``tests/hw/test_dma_port.py``) and makes the block's part
of ``colsim regress``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, reference_hardware
from colsim.hw.dma_port import PORT_TAG_BITS
from colsim.hw.dma_port_model import Draw
from colsim.hw.interleave_model import Interleave


@dataclass(frozen=True)
class DmaPortCase:
    """``count`` requests through the port of ``cap`` and ``used`` channels of ``preset``."""

    preset: str
    used: int
    cap: int
    seed: int
    count: int = 120
    offer: float = 0.7  # the engine raises its next request in a cycle
    ready: float = 0.8  # the memory takes a request in a cycle
    respond: float = 0.3  # the memory presents a response in a cycle

    @property
    def name(self) -> str:
        """Return the case's id: preset, channels used, cap and seed."""
        return f"{self.preset}-c{self.used}-q{self.cap}-s{self.seed}"

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with this case's DRAM preset, channels and cap."""
        return reference_hardware().with_overrides(
            {"dram": {"preset": self.preset},
             "dma": {"channels": self.used, "requests_in_flight": self.cap}})

    def requests(self) -> list[tuple[int, int]]:
        """Return the (accelerator address, tag) of every request, in order."""
        interleave = Interleave.from_hw(self.hardware())
        size = interleave.transaction_bytes
        row = size * interleave.below * interleave.used  # one row of every used channel
        edges = [0, 1, size - 1, size, 2 * size + 5, row - 1, row, row + size,
                 interleave.capacity - size, interleave.capacity - 1]
        rng = np.random.default_rng(self.seed)
        addresses = np.r_[edges, rng.integers(0, interleave.capacity, self.count - len(edges))]
        tags = rng.integers(0, 1 << PORT_TAG_BITS, self.count)
        return [(int(a), int(t)) for a, t in zip(addresses, tags, strict=True)]

    def draws(self) -> Iterator[Draw]:
        """Yield the stimulus of every cycle from the first (seeded, endless)."""
        rng = random.Random(self.seed)
        while True:
            yield Draw(rng.random() < self.offer, rng.random() < self.ready,
                       rng.random() < self.respond)

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> DmaPortCase:
        """Return the case from its JSON (the runner's extra keys are ignored)."""
        return cls(**{key: case[key] for key in cls.__dataclass_fields__})


DMA_PORT_CASES: tuple[DmaPortCase, ...] = (
    # First: the sample Verilator runs by default. 4 of 6 GDDR6 channels (a division by a
    # non-power of two; addresses need all 34 bits) behind a cap of 2.
    DmaPortCase("gddr6", 4, 2, 1),
    DmaPortCase("gddr6", 1, 1, 2, respond=0.1),  # one request at a time, on one channel
    DmaPortCase("gddr6", 3, 5, 3, offer=1.0, ready=1.0),  # back to back: the cap binds
    DmaPortCase("gddr6", 5, 64, 4),  # a cap that never binds
    DmaPortCase("gddr6", 6, 3, 5),  # every channel: addresses unchanged
    DmaPortCase("hbm2", 6, 4, 6),  # 6 of 16 pseudo-channels, 32-byte transactions
    DmaPortCase("hbm2", 8, 7, 7, respond=0.6),
)
"""Every case of the block, in a stable order (names are unique)."""
