"""Reference model of the channel interleaver on the DMA's DRAM port (no Amaranth import).

The accelerator's data is interleaved over ``used`` of the DRAM's ``channels`` channels
(``dma.channels``) in blocks of ``burst`` = ``k`` transactions (``dma.request_bytes`` = k·T,
the DMA's request). Its address space is the DRAM's with ``used`` channels in place of all
and each block's ``k`` transactions in consecutive columns of one channel. Two steps, on the
transaction index ``t = address // T`` (``t = r·k + o``: block ``r``, transaction ``o`` in it):

1. *gather*: the block index ``r`` takes the mapping's digits with the column digit
   ``k`` times shorter; ``o`` becomes the low part of the column. With ``gather`` the product
   of those digits below the column (the channel counted as ``used``)::

       u = r % gather + gather·(k·(r // gather) + o)

2. *channels*: ``u`` keeps the digits below the channel digit of the DRAM's address mapping
   (their product ``below``: 1 under RoBaRaCoCh, where the channel is the least significant
   digit), takes the channel digit modulo ``used`` and moves the rest up::

       p = (u // (below·used))·(below·channels) + u % (below·used)

``p`` is the physical transaction index, decoded by the DRAM model's own mapping
(:func:`colsim.sim.dram.decode_array`). Under RoBaRaCoCh, ``p = r % used + channels·((r //
used)·k + o)``: block ``r`` goes to channel ``r % used`` and its transactions to consecutive
columns there. With ``k = 1`` step 1 is the identity (transaction ``t`` goes to channel
``t % used``, the accelerator's data fills the used channels as it filled all of them), and
with every channel used step 2 is. The byte offset inside the transaction is kept. The fast
model applies :meth:`Interleave.physical` to the schedule's addresses; the RTL
(:mod:`colsim.hw.interleave`) computes the same on the top's requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.sim.dram.config import DramConfig


@dataclass(frozen=True)
class Interleave:
    """The translation of the accelerator's addresses onto ``used`` of ``channels`` channels,
    ``burst`` transactions per block."""

    transaction_bytes: int
    below: int  # product of the mapping's radices below the channel digit
    used: int
    channels: int
    capacity_bytes: int  # of the whole DRAM
    burst: int = 1  # transactions per block (k)
    gather: int = 1  # product of the block index's radices below the column digit

    @classmethod
    def of(cls, dram: DramConfig, used: int, burst: int = 1) -> Interleave:
        """Return the interleave of ``used`` channels (1 .. all) of ``dram`` in blocks of
        ``burst`` transactions (a power of two dividing a row's transactions)."""
        org = dram.organization
        if not 1 <= used <= org.channels:
            raise ColsimError(f"`used` channels must be in [1, {org.channels}], not {used!r}")
        if burst < 1 or burst & (burst - 1) or org.transactions_per_row % burst:
            raise ColsimError(f"`burst` must be a power of two dividing the "
                              f"{org.transactions_per_row} transactions of a row, not {burst!r}")
        radices = {"channel": used, "bankgroup": org.bankgroups, "bank": org.banks_per_group,
                   "row": org.rows, "column": org.transactions_per_row}
        levels = list(dram.mapping)
        below = prod(radices[level] for level in levels[:levels.index("channel")])
        gather = prod(radices[level] for level in levels[:levels.index("column")])
        return cls(org.transaction_bytes, below, used, org.channels, org.capacity_bytes,
                   burst, gather)

    @classmethod
    def from_hw(cls, hw: HardwareConfig) -> Interleave:
        """Return the interleave of ``hw``'s DMA (``dma.channels``, ``dma.request_bytes``) on
        its DRAM."""
        dram = hw.dram_config
        return cls.of(dram, hw.dma.used_channels(dram), hw.dma.transactions_per_request(dram))

    @property
    def identity(self) -> bool:
        """Whether addresses pass unchanged (every channel used, one transaction per block)."""
        return self.used == self.channels and self.burst == 1

    @property
    def capacity(self) -> int:
        """Bytes of the accelerator's address space (the used channels' share of the DRAM)."""
        return self.capacity_bytes // self.channels * self.used

    def physical(self, address):
        """Return the DRAM address of accelerator ``address`` (an int or an int64 array)."""
        if self.identity:
            return address
        t, offset = divmod(address, self.transaction_bytes)
        r, o = divmod(t, self.burst)
        hi, lo = divmod(r, self.gather)
        u = (hi * self.burst + o) * self.gather + lo
        high, low = divmod(u, self.below * self.used)
        return (high * (self.below * self.channels) + low) * self.transaction_bytes + offset

    def logical(self, address):
        """Return the accelerator address of DRAM ``address`` (the inverse of
        :meth:`physical` on the used channels)."""
        if self.identity:
            return address
        p, offset = divmod(address, self.transaction_bytes)
        high, low = divmod(p, self.below * self.channels)
        u = high * (self.below * self.used) + low
        q, lo = divmod(u, self.gather)
        hi, o = divmod(q, self.burst)
        return ((hi * self.gather + lo) * self.burst + o) * self.transaction_bytes + offset

    def physical_array(self, address: np.ndarray) -> np.ndarray:
        """Return :meth:`physical` of an address array; an address beyond :attr:`capacity`
        is an error naming it."""
        address = np.asarray(address, dtype=np.int64)
        if address.size and int(address.max()) >= self.capacity:
            raise ColsimError(
                f"address {int(address.max()):#x} is beyond the {self.capacity:#x} bytes that "
                f"`dma.channels` = {self.used} of the DRAM's {self.channels} channels hold")
        return self.physical(address)
