"""The DMA port's spec: one case table, run on every implementation of the block.

A :class:`DmaPortCase` names a DRAM preset, the channels used (``dma.channels``), the request
cap (``dma.requests_in_flight``, at least 1 here: the stand-alone port is then clocked), an
explicit seed, the transactions per request (``burst``: ``dma.request_bytes`` / T), a
transaction count and the probabilities of the per-cycle stimulus (:meth:`DmaPortCase.draws`).
Its transactions (:meth:`DmaPortCase.requests`) are random accelerator addresses below the
used channels' capacity plus the edges (0, the last byte, the first transactions, the ends of
the first rows), each its own transfer; with ``burst`` > 1 they come in transfers of sorted,
distinct transactions around random blocks (whole, partial and gathered requests, transfers
that start or end inside a block), answered in a seeded random order. Every implementation
returns the :class:`~colsim.hw.dma_port_model.PortTrace` (cycle, DRAM address and tag of each
transaction that passed, and the response cycles); the same table runs on the reference
model, the Amaranth simulator and Verilator (``tests/hw/test_dma_port.py``) and makes the
block's part of ``colsim regress``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from amaranth.lib import data

from colsim.config import HardwareConfig, reference_hardware
from colsim.hw.dma_port import PORT_TAG_BITS, port_layouts
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
    burst: int = 1  # transactions per request
    offer: float = 0.7  # the engine raises its next request in a cycle
    ready: float = 0.8  # the memory takes a request in a cycle
    respond: float = 0.3  # the memory presents a response in a cycle

    @property
    def name(self) -> str:
        """Return the case's id: preset, channels used, cap, transactions per request, seed."""
        burst = f"-b{self.burst}" if self.burst > 1 else ""
        return f"{self.preset}-c{self.used}-q{self.cap}{burst}-s{self.seed}"

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with this case's DRAM preset, channels, cap and
        request size."""
        hw = reference_hardware().with_overrides({"dram": {"preset": self.preset}})
        size = hw.dram_config.organization.transaction_bytes
        return hw.with_overrides(
            {"dma": {"channels": self.used, "requests_in_flight": self.cap,
                     "request_bytes": self.burst * size}})

    def requests(self) -> list[tuple[int, int, bool]]:
        """Return the (accelerator address, tag, opens its transfer) of every transaction,
        in order."""
        interleave = Interleave.from_hw(self.hardware())
        size = interleave.transaction_bytes
        rng = np.random.default_rng(self.seed)
        if self.burst == 1:
            row = size * interleave.below * interleave.used  # one row of every used channel
            edges = [0, 1, size - 1, size, 2 * size + 5, row - 1, row, row + size,
                     interleave.capacity - size, interleave.capacity - 1]
            addresses = np.r_[edges, rng.integers(0, interleave.capacity,
                                                  self.count - len(edges))]
            firsts = np.ones(self.count, dtype=bool)
        else:
            addresses, firsts = self._transfers(rng, interleave.capacity // size)
        tags = rng.integers(0, 1 << PORT_TAG_BITS, self.count)
        return [(int(a), int(t), bool(f)) for a, t, f in zip(addresses, tags, firsts,
                                                             strict=True)]

    def _transfers(self, rng, transactions: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``count`` addresses in transfers of sorted distinct transactions, each
        within a window of three blocks from a random transaction (the first at 0, the last
        at the end of the space), and whether each opens its transfer."""
        size, k = self.hardware().dram_config.organization.transaction_bytes, self.burst
        addresses, firsts = [], []
        while len(addresses) < self.count:
            start = (0 if not addresses else transactions - 3 * k
                     if len(addresses) + 3 * k >= self.count else
                     int(rng.integers(0, transactions - 3 * k)))
            dense = rng.random() < 0.5  # whole blocks, or a gather
            window = np.arange(start, start + int(rng.integers(1, 3 * k + 1)))
            chosen = window if dense else window[rng.random(window.size) < 0.5]
            chosen = chosen[:self.count - len(addresses)]
            offsets = rng.integers(0, size, chosen.size)
            addresses.extend(chosen * size + offsets)
            firsts.extend(np.arange(chosen.size) == 0)
        return np.array(addresses, dtype=np.int64), np.array(firsts, dtype=bool)

    def draws(self) -> Iterator[Draw]:
        """Yield the stimulus of every cycle from the first (seeded, endless); with requests
        of several transactions, each also picks the transaction a response answers."""
        rng = random.Random(self.seed)
        while True:
            draw = (rng.random() < self.offer, rng.random() < self.ready,
                    rng.random() < self.respond)
            yield Draw(*draw, rng.random() if self.burst > 1 else 0.0)

    def layouts(self) -> tuple[data.StructLayout, data.StructLayout]:
        """Return the port's request and response layouts (:func:`port_layouts`)."""
        return port_layouts(self.hardware())

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> DmaPortCase:
        """Return the case from its JSON (the runner's extra keys are ignored)."""
        return cls(**{key: case[key] for key in cls.__dataclass_fields__})


def request_word(layout: data.StructLayout, address: int, tag: int, first: bool) -> int:
    """Return the request payload of ``layout`` carrying ``address``, ``tag`` and (when the
    layout has it) ``first``, packed into an integer."""
    word = address << layout["addr"].offset | tag << layout["tag"].offset
    return word | (first << layout["first"].offset if "first" in dict(layout.members) else 0)


def _field(layout: data.StructLayout, word: int, name: str) -> int:
    """Return field ``name`` of the payload ``word`` of ``layout``."""
    field = layout[name]
    return word >> field.offset & ((1 << field.width) - 1)


def passed_request(layout: data.StructLayout, word: int) -> tuple[int, int]:
    """Return the (address, tag) of a request payload ``word`` of ``layout``."""
    return _field(layout, word, "addr"), _field(layout, word, "tag")


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
    # Requests of several transactions: the cap counts requests, the interleave is per block.
    DmaPortCase("gddr6", 6, 2, 8, burst=2),  # every channel: blocks still move
    DmaPortCase("gddr6", 4, 3, 9, burst=4, offer=1.0, ready=1.0),  # back to back: cap binds
    DmaPortCase("gddr6", 3, 1, 10, burst=8, respond=0.5),  # one request at a time
    DmaPortCase("hbm2", 6, 5, 11, burst=4),
)
"""Every case of the block, in a stable order (names are unique)."""
