"""Reference model of the channel interleaver on the DMA's DRAM port (no Amaranth import).

The accelerator's data is interleaved over ``used`` of the DRAM's ``channels`` channels
(``dma.channels``). Its address space is the DRAM's with ``used`` channels in place of all:
the transaction index ``t = address // T`` keeps the digits below the channel digit of the
DRAM's address mapping (their product ``below``: 1 under RoBaRaCoCh, where the channel is the
least significant digit), takes the channel digit modulo ``used`` and moves the rest up::

    p = (t // (below·used))·(below·channels) + t % (below·used)

the physical transaction index, decoded by the DRAM model's own mapping
(:func:`colsim.sim.dram.decode_array`). Under RoBaRaCoCh, transaction ``t`` goes to channel
``t % used`` and its column, bank group, bank and row are those transaction ``t // used``
of one channel has: the accelerator's data fills the used channels as it filled all of them.
With every channel used the translation is the identity. The byte offset inside the
transaction is kept. The fast model applies :meth:`Interleave.physical` to the schedule's
addresses; the RTL (:mod:`colsim.hw.interleave`) computes the same on the top's requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.sim.dram.config import DramConfig


@dataclass(frozen=True)
class Interleave:
    """The translation of the accelerator's addresses onto ``used`` of ``channels`` channels."""

    transaction_bytes: int
    below: int  # product of the mapping's radices below the channel digit
    used: int
    channels: int
    capacity_bytes: int  # of the whole DRAM

    @classmethod
    def of(cls, dram: DramConfig, used: int) -> Interleave:
        """Return the interleave of ``used`` channels (1 .. all) of ``dram``."""
        org = dram.organization
        if not 1 <= used <= org.channels:
            raise ColsimError(f"`used` channels must be in [1, {org.channels}], not {used!r}")
        below = 1
        for level in dram.mapping:
            if level == "channel":
                break
            below *= {"bankgroup": org.bankgroups, "bank": org.banks_per_group,
                      "row": org.rows, "column": org.transactions_per_row}[level]
        return cls(org.transaction_bytes, below, used, org.channels, org.capacity_bytes)

    @classmethod
    def from_hw(cls, hw: HardwareConfig) -> Interleave:
        """Return the interleave of ``hw``'s DMA (``dma.channels``) on its DRAM."""
        dram = hw.dram_config
        return cls.of(dram, hw.dma.used_channels(dram))

    @property
    def identity(self) -> bool:
        """Whether every channel is used (addresses pass unchanged)."""
        return self.used == self.channels

    @property
    def capacity(self) -> int:
        """Bytes of the accelerator's address space (the used channels' share of the DRAM)."""
        return self.capacity_bytes // self.channels * self.used

    def physical(self, address):
        """Return the DRAM address of accelerator ``address`` (an int or an int64 array)."""
        if self.identity:
            return address
        t, offset = divmod(address, self.transaction_bytes)
        high, low = divmod(t, self.below * self.used)
        return (high * (self.below * self.channels) + low) * self.transaction_bytes + offset

    def logical(self, address):
        """Return the accelerator address of DRAM ``address`` (the inverse of
        :meth:`physical` on the used channels)."""
        if self.identity:
            return address
        p, offset = divmod(address, self.transaction_bytes)
        high, low = divmod(p, self.below * self.channels)
        return (high * (self.below * self.used) + low) * self.transaction_bytes + offset

    def physical_array(self, address: np.ndarray) -> np.ndarray:
        """Return :meth:`physical` of an address array; an address beyond :attr:`capacity`
        is an error naming it."""
        address = np.asarray(address, dtype=np.int64)
        if address.size and int(address.max()) >= self.capacity:
            raise ColsimError(
                f"address {int(address.max()):#x} is beyond the {self.capacity:#x} bytes that "
                f"`dma.channels` = {self.used} of the DRAM's {self.channels} channels hold")
        return self.physical(address)
