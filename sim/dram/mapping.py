"""Address decoding: one pure function from byte address to DRAM coordinates.

The mapping is a mixed-radix split of the transaction index (byte address divided by the
transaction size) in the configured order, least significant first. With the reference
order RoBaRaCoCh the channel is ``transaction % channels``, so a non-power-of-two channel
count (6) still spreads consecutive transactions over every channel. An address whose
transaction index does not fit the radices is beyond capacity: an error, never a wrap.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from colsim.errors import ColsimError
from colsim.sim.dram.config import LEVELS, DramConfig


def mapping_radices(config: DramConfig) -> np.ndarray:
    """Return ``(level index, radix)`` rows in mapping order (LSB first)."""
    org = config.organization
    sizes = {
        "channel": org.channels,
        "bankgroup": org.bankgroups,
        "bank": org.banks_per_group,
        "row": org.rows,
        "column": org.transactions_per_row,
    }
    return np.array([(LEVELS.index(name), sizes[name]) for name in config.mapping], np.int64)


@njit(cache=True)
def decode_into(addr, transaction_bytes, radices, out):
    """Decode ``addr`` (uint64) into ``out[i] = (ch, bg, bank, row, col)``.

    Return the index of the first address beyond capacity, or -1 when all fit.
    """
    for i in range(addr.shape[0]):
        rest = addr[i] // np.uint64(transaction_bytes)
        for k in range(radices.shape[0]):
            radix = np.uint64(radices[k, 1])
            out[i, radices[k, 0]] = np.int64(rest % radix)
            rest = rest // radix
        if rest != 0:
            return i
    return -1


def decode_array(config: DramConfig, addr: np.ndarray) -> np.ndarray:
    """Decode an array of byte addresses into an ``(n, 5)`` int64 array (see ``LEVELS``)."""
    addr = np.ascontiguousarray(addr, dtype=np.uint64)
    out = np.empty((addr.shape[0], len(LEVELS)), dtype=np.int64)
    bad = decode_into(addr, config.organization.transaction_bytes, mapping_radices(config), out)
    if bad >= 0:
        raise ColsimError(
            f"address {int(addr[bad]):#x} is beyond the DRAM capacity of "
            f"{config.organization.capacity_bytes:#x} bytes"
        )
    return out


def decode(config: DramConfig, addr: int) -> tuple[int, int, int, int, int]:
    """Return ``(channel, bankgroup, bank, row, column)`` of byte address ``addr``.

    ``column`` counts transactions within the row; ``bank`` is the bank within its group.
    """
    if addr < 0:
        raise ColsimError(f"address must be non-negative, not {addr}")
    if addr >= 1 << 64:
        raise ColsimError(f"address {addr:#x} is beyond the DRAM capacity")
    row = decode_array(config, np.array([addr], dtype=np.uint64))[0]
    return tuple(int(v) for v in row)  # type: ignore[return-value]


def encode_array(config: DramConfig, coords: np.ndarray) -> np.ndarray:
    """Return the byte addresses (offset 0 in the transaction) of ``(n, 5)`` coordinates.

    The inverse of :func:`decode_array`; coordinates out of range are an error.
    """
    coords = np.asarray(coords, dtype=np.int64).reshape(-1, len(LEVELS))
    radices = mapping_radices(config)
    tx = np.zeros(coords.shape[0], dtype=np.uint64)
    for level, radix in radices[::-1]:
        values = coords[:, level]
        if values.size and (values.min() < 0 or values.max() >= radix):
            raise ColsimError(f"`{LEVELS[level]}` coordinates must be in [0, {radix})")
        tx = tx * np.uint64(radix) + values.astype(np.uint64)
    return tx * np.uint64(config.organization.transaction_bytes)
