"""Seeded synthetic mask sets matching target statistics, for workloads without weights.

For every layer of a workload spec the generator draws hot sets ``H_0 .. H_{T-1}`` with
``|H_t| = round((1 - s_t)·N)`` (``s_t`` the target column sparsity of iteration t) and
consecutive overlap ``|H_t ∩ H_t+1| = i`` chosen as the integer nearest to
``J·(|H_t| + |H_t+1|) / (1 + J)`` within the feasible range, so each consecutive Jaccard
index is the achievable value nearest the target ``J`` (within ``1 / |H_t ∪ H_t+1|`` when
the range does not clip it). The regime decides *which* columns are hot:

* ``concentration``: hot columns cluster around a random centre; new hot columns are the
  nearest free ones, so hot sets stay within a narrow contiguous band;
* ``dispersion``: hot columns are spread uniformly at random over all N columns;
* ``churn``: hot columns rotate: the longest-hot columns drop out first and the columns hot
  least recently (never-hot first) come in, so the union over iterations grows fastest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from colsim.errors import ColsimError
from colsim.profiler.masks import MaskSet

REGIMES = ("concentration", "dispersion", "churn")


def synthesize_masks(
    spec: Any,
    *,
    iterations: int,
    seed: int,
    column_sparsity: float | Sequence[float],
    jaccard: float,
    regime: str = "concentration",
) -> MaskSet:
    """Return a seeded :class:`MaskSet` for every layer of the workload ``spec``.

    ``column_sparsity`` is one value or one per iteration, each in [0, 1]; ``jaccard`` is
    the target Jaccard index of consecutive hot sets in [0, 1].
    """
    if not isinstance(iterations, int) or iterations < 1:
        raise ColsimError(f"`iterations` must be a positive integer, not {iterations!r}")
    if regime not in REGIMES:
        raise ColsimError(f"`regime` must be one of {', '.join(REGIMES)}, not {regime!r}")
    if not 0 <= jaccard <= 1:
        raise ColsimError(f"`jaccard` must be in [0, 1], not {jaccard!r}")
    if np.ndim(column_sparsity) == 1 and len(column_sparsity) != iterations:
        raise ColsimError(
            f"`column_sparsity` has {len(column_sparsity)} values for {iterations} iterations"
        )
    schedule = np.broadcast_to(np.asarray(column_sparsity, dtype=np.float64), (iterations,))
    bad = schedule[(schedule < 0) | (schedule > 1) | ~np.isfinite(schedule)]
    if bad.size:
        raise ColsimError(f"`column_sparsity` must be in [0, 1], not {float(bad[0])!r}")
    hot = {}
    for index, layer in enumerate(spec.layers):
        rng = np.random.default_rng([seed, index])
        hot[layer.name] = _layer_masks(int(layer.hidden), schedule, jaccard, regime, rng)
    meta = {
        "source": "synthetic",
        "seed": seed,
        "regime": regime,
        "target_column_sparsity": schedule.tolist(),
        "target_jaccard": jaccard,
    }
    return MaskSet(spec.name, tuple(layer.name for layer in spec.layers), hot, meta)


def overlap_for(a: int, b: int, jaccard: float, columns: int) -> int:
    """Return the feasible intersection size of sets of sizes a, b nearest to ``jaccard``."""
    wanted = int(np.floor(jaccard * (a + b) / (1 + jaccard) + 0.5))
    return int(np.clip(wanted, max(0, a + b - columns), min(a, b)))


def _layer_masks(
    columns: int, schedule: np.ndarray, jaccard: float, regime: str, rng: np.random.Generator
) -> np.ndarray:
    sizes = np.rint((1.0 - schedule) * columns).astype(np.int64)
    masks = np.zeros((len(sizes), columns), dtype=bool)
    if regime == "concentration":
        centre = rng.integers(columns)
        # Distance to the centre, random jitter < 1 to break ties: nearest columns first.
        preference = np.abs(np.arange(columns) - centre) + rng.random(columns)
    else:
        preference = rng.random(columns)
    current = np.argsort(preference)[: sizes[0]]
    masks[0, current] = True
    last_hot = np.full(columns, -1)  # last iteration each column was hot (churn)
    hot_since = np.zeros(columns, dtype=np.int64)  # start of the current hot run (churn)
    last_hot[current] = 0
    for t in range(1, len(sizes)):
        keep_count = overlap_for(len(current), int(sizes[t]), jaccard, columns)
        free = np.flatnonzero(~masks[t - 1])
        if regime == "churn":
            kept = current[np.argsort(hot_since[current] - rng.random(len(current)))]
            kept = kept[len(current) - keep_count :]  # the most recently started stay
            added = free[np.argsort(last_hot[free] + rng.random(len(free)))]
        elif regime == "concentration":
            kept = rng.choice(current, size=keep_count, replace=False)
            added = free[np.argsort(preference[free])]
        else:
            kept = rng.choice(current, size=keep_count, replace=False)
            added = rng.permutation(free)
        added = added[: sizes[t] - keep_count]
        hot_since[added] = t
        current = np.concatenate([kept, added])
        masks[t, current] = True
        last_hot[current] = t
    return masks
