"""The compiled segment expansion and the run merging against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.sim.schedule.build import _runs
from colsim.sim.schedule.expand import transactions


def brute_transactions(transfer, start, nbytes, n_transfers, size):
    """Return the per-transfer sorted unique transactions, one Python set at a time."""
    units = [set() for _ in range(n_transfers)]
    for f, s, n in zip(transfer, start, nbytes, strict=True):
        if n > 0:
            units[f].update(range(s // size, (s + n - 1) // size + 1))
    addr = [u * size for f in range(n_transfers) for u in sorted(units[f])]
    owner = [f for f in range(n_transfers) for _ in units[f]]
    count = [len(u) for u in units]
    return addr, owner, np.cumsum([0, *count])[:-1], count


@pytest.mark.parametrize("seed", range(20))
def test_transactions_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_transfers, n_seg, size = int(rng.integers(1, 12)), int(rng.integers(0, 60)), 128
    transfer = rng.integers(0, n_transfers, n_seg)
    start = rng.integers(0, 4000, n_seg)
    nbytes = rng.choice([0, 1, 64, 127, 128, 129, 300], n_seg)
    addr, owner, first, count = transactions(transfer, start, nbytes, n_transfers, size)
    want = brute_transactions(transfer, start, nbytes, n_transfers, size)
    assert addr.dtype == np.uint64
    assert addr.tolist() == want[0]
    assert owner.tolist() == want[1]
    assert first.tolist() == list(want[2])
    assert count.tolist() == want[3]


@pytest.mark.parametrize("seed", range(20))
def test_runs_cut_every_fill_where_positions_do_not_join(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 40))
    joins = rng.random(k) < 0.7
    joins[0] = False
    n_fills = int(rng.integers(0, 8))
    k0 = rng.integers(0, k, n_fills)
    k1 = np.minimum(k0 + rng.integers(0, k, n_fills), k)
    fill, lo, hi = _runs(np.arange(n_fills), k0, k1, joins)
    want = []
    for f in range(n_fills):
        for p in range(k0[f], k1[f]):
            if p == k0[f] or not joins[p]:
                want.append([f, p, p + 1])
            else:
                want[-1][2] = p + 1
    assert np.stack([fill, lo, hi], axis=1).tolist() == want if want else fill.size == 0
