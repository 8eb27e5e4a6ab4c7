"""Seeded stimulus shared by the tests and the benches (no simulator import).

:func:`make_mask` draws the hot-column masks that the skip logic, the DMA front end and
their benches are checked on: the edge cases of a mask and random densities.
"""

from __future__ import annotations

import numpy as np

MASK_KINDS = ("all_hot", "all_cold", "single", "last_only", "sparse", "half", "dense")


def make_mask(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Return an N-column hot mask of the given kind (edge cases and random densities)."""
    if kind not in MASK_KINDS:
        raise ValueError(f"`kind` must be one of {', '.join(MASK_KINDS)}, not {kind!r}")
    if kind == "all_hot":
        return np.ones(n, bool)
    if kind == "all_cold":
        return np.zeros(n, bool)
    if kind == "single":
        mask = np.zeros(n, bool)
        mask[rng.integers(n)] = True
        return mask
    if kind == "last_only":
        mask = np.zeros(n, bool)
        mask[-1] = True
        return mask
    return rng.random(n) < {"sparse": 0.1, "half": 0.5, "dense": 0.9}[kind]
