"""Seeded synthetic request streams (benchmarks, property tests, examples).

Patterns: ``sequential`` (consecutive transactions), ``strided`` (every ``stride``-th
transaction), ``random`` (uniform over the capacity), ``hot-rows`` (two rows per bank, so
mostly row hits with some conflicts) and ``conflicts`` (a few banks, many rows: mostly row
conflicts). Arrivals come in bursts of ``burst`` requests separated by ``idle_gap`` cycles;
``burst=0`` offers everything at cycle 0 (a saturating stream).
"""

from __future__ import annotations

import numpy as np

from colsim.errors import ColsimError
from colsim.limits import check_memory
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.mapping import encode_array

PATTERNS = ("sequential", "strided", "random", "hot-rows", "conflicts")
# Peak bytes per request while a stream is built and simulated: index, address, coordinates,
# write flag, arrival, the request table (11 int64) and its completion column.
STREAM_BYTES_PER_REQUEST = 8 + 8 + 5 * 8 + 1 + 8 + 11 * 8 + 8


def check_stream_size(n: int) -> None:
    """Raise a ColsimError unless ``n`` is a positive request count whose stream fits."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ColsimError(f"`requests` must be a positive integer, not {n!r}")
    check_memory(f"a stream of {n:,} requests", n * STREAM_BYTES_PER_REQUEST)


def request_stream(
    config: DramConfig,
    pattern: str,
    n: int,
    *,
    seed: int = 0,
    write_share: float = 0.0,
    stride: int = 5,
    burst: int = 0,
    idle_gap: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(addr, is_write, arrival)`` arrays of ``n`` requests following ``pattern``."""
    if pattern not in PATTERNS:
        raise ColsimError(f"unknown stream pattern {pattern!r} (known: {', '.join(PATTERNS)})")
    check_stream_size(n)
    if not 0.0 <= write_share <= 1.0:
        raise ColsimError(f"`write_share` must be in [0, 1], not {write_share}")
    org = config.organization
    tx_bytes = np.uint64(org.transaction_bytes)
    transactions = org.capacity_bytes // org.transaction_bytes
    rng = np.random.default_rng(seed)
    index = np.arange(n, dtype=np.uint64)
    if pattern == "sequential":
        addr = (index % np.uint64(transactions)) * tx_bytes
    elif pattern == "strided":
        addr = (index * np.uint64(stride)) % np.uint64(transactions) * tx_bytes
    elif pattern == "random":
        addr = rng.integers(0, transactions, n, dtype=np.uint64) * tx_bytes
    else:
        rows = 2 if pattern == "hot-rows" else min(org.rows, 64)
        banks = org.banks_per_group if pattern == "hot-rows" else min(2, org.banks_per_group)
        coords = np.stack(
            [
                rng.integers(0, org.channels, n),
                rng.integers(0, org.bankgroups if pattern == "hot-rows" else 1, n),
                rng.integers(0, banks, n),
                rng.integers(0, rows, n),
                rng.integers(0, org.transactions_per_row, n),
            ],
            axis=1,
        )
        addr = encode_array(config, coords)
    is_write = rng.random(n) < write_share
    if burst > 0:
        arrival = (np.arange(n, dtype=np.int64) // burst) * idle_gap
    else:
        arrival = np.zeros(n, dtype=np.int64)
    return addr, is_write, arrival
