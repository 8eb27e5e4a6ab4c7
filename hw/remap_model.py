"""Reference model of the hot-cold address remapper (no Amaranth import).

A request names a logical column and a byte offset inside that column's record. The remapper
looks the column up in a programmable permutation table — the layout's ``slot_of``
(:class:`colsim.sim.layout.Layout`; row-major is the identity) — and returns

    address = base + slot_of[column] · stride + offset

together with its DRAM coordinates, decoded by the DRAM model's own mapping function
:func:`colsim.sim.dram.decode_array` (the one shared decode). Requests leave in the order they
arrive, which is the order the schedule prescribes.

The RTL divides by a non-power-of-two radix (e.g. 6 GDDR6 channels) by multiplying with a
reciprocal: :func:`reciprocal` returns the multiplier and shift for which
``(x · multiplier) >> shift == x // divisor`` holds for every ``x < 2**bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.errors import ColsimError
from colsim.sim.dram import DramConfig, decode_array
from colsim.sim.dram.config import LEVELS
from colsim.sim.dram.mapping import mapping_radices
from colsim.sim.layout import Layout


@dataclass(frozen=True)
class RemapRequest:
    """One emitted request: the byte address and its (channel, bankgroup, bank, row, column)."""

    address: int
    coordinates: tuple[int, int, int, int, int]


@dataclass(frozen=True)
class DecodeStage:
    """One digit of the mixed-radix decode, least significant first."""

    level: str
    radix: int


def decode_stages(config: DramConfig) -> tuple[DecodeStage, ...]:
    """Return the decode digits of ``config``'s mapping, from the DRAM model's radices."""
    return tuple(DecodeStage(LEVELS[int(level)], int(radix))
                 for level, radix in mapping_radices(config))


def address_bits(config: DramConfig) -> int:
    """Return the bits of a byte address below the DRAM capacity."""
    return (config.organization.capacity_bytes - 1).bit_length()


def reciprocal(divisor: int, bits: int) -> tuple[int, int]:
    """Return ``(multiplier, shift)`` with ``(x·multiplier) >> shift == x // divisor``.

    Exact for all ``0 <= x < 2**bits`` (Granlund–Montgomery: ``shift = bits + ceil(log2 d)``,
    ``multiplier = ceil(2**shift / d)``).
    """
    if divisor <= 0:
        raise ColsimError(f"`divisor` must be positive, not {divisor!r}")
    shift = bits + (divisor - 1).bit_length()
    return -(-(1 << shift) // divisor), shift


def remap(layout: Layout, columns: np.ndarray, offsets: np.ndarray, *, base: int,
          stride: int, config: DramConfig) -> list[RemapRequest]:
    """Return the requests for logical ``columns`` at byte ``offsets`` (in request order)."""
    columns = np.asarray(columns, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if columns.shape != offsets.shape or columns.ndim != 1:
        raise ColsimError(
            f"`columns` and `offsets` must be 1-D of one length, not {columns.shape} and "
            f"{offsets.shape}"
        )
    if columns.size and (columns.min() < 0 or columns.max() >= layout.columns):
        raise ColsimError(f"column indices must be in [0, {layout.columns})")
    if base < 0 or stride < 0 or (offsets.size and offsets.min() < 0):
        raise ColsimError("`base`, `stride` and offsets must be non-negative")
    addresses = base + layout.slot_of[columns] * stride + offsets
    coordinates = decode_array(config, addresses.astype(np.uint64))
    return [RemapRequest(int(a), tuple(int(v) for v in c))  # type: ignore[arg-type]
            for a, c in zip(addresses, coordinates, strict=True)]
