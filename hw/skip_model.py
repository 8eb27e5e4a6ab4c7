"""Reference model of the column-mask skip logic (no Amaranth import).

Given a layer's hot-column mask of N bits (in the order the columns are stored, i.e. by
physical slot), the skip logic issues only the hot columns, in increasing order, and numbers
them into tiles of ``tile`` columns (the systolic array's width C): issued column ``k`` goes
to slot ``k mod C`` of tile ``k div C``, so every tile but the last is full and the last one
holds the remainder (a ragged tile). This is the order in which the FFN-Reuse schedule
computes a sparse iteration (``colsim.sim.schedule``: ``layout.physical_order(hot)`` cut into
tiles of C). Cold columns are skipped; both are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.errors import ColsimError


@dataclass(frozen=True)
class IssuedColumn:
    """One issued column: its index, its slot in the array tile, and the end markers."""

    column: int
    slot: int
    tile_last: bool  # the last column of its tile (C-th, or the last issued)
    last: bool  # the last issued column of the layer


@dataclass(frozen=True)
class SkipResult:
    """The issued columns of one layer and the counters."""

    columns: tuple[IssuedColumn, ...]
    issued: int
    skipped: int


def skip_columns(hot: np.ndarray, tile: int) -> SkipResult:
    """Return the issued columns of the bool mask ``hot`` for tiles of ``tile`` columns."""
    hot = np.asarray(hot)
    if hot.dtype != bool or hot.ndim != 1:
        raise ColsimError(f"hot mask must be a 1-D bool array, not {hot.dtype} {hot.shape}")
    if not isinstance(tile, int) or tile <= 0:
        raise ColsimError(f"`tile` must be a positive integer, not {tile!r}")
    indices = np.flatnonzero(hot)
    count = indices.size
    issued = tuple(
        IssuedColumn(int(column), k % tile, k % tile == tile - 1 or k == count - 1,
                     k == count - 1)
        for k, column in enumerate(indices)
    )
    return SkipResult(issued, count, int(hot.size - count))


def mask_words(hot: np.ndarray, width: int) -> list[int]:
    """Return ``hot`` packed into ``width``-bit words (column ``w·width + j`` in bit j of word w).

    Bits beyond N in the last word are set, so that a correct consumer must ignore them.
    """
    hot = np.asarray(hot, dtype=bool)
    padded = np.ones(-(-hot.size // width) * width, dtype=bool)
    padded[: hot.size] = hot
    return [sum(1 << j for j in range(width) if padded[w * width + j])
            for w in range(padded.size // width)]


def mask_from_words(words, width: int, count: int) -> np.ndarray:
    """Return the first ``count`` bits of ``width``-bit ``words`` as a bool mask (inverse of
    :func:`mask_words`: column ``w·width + j`` from bit j of word w)."""
    words = list(words)
    if len(words) * width < count:
        raise ColsimError(f"{len(words)} mask words of {width} bits do not cover {count} columns")
    bits = [(int(word) >> j) & 1 for word in words for j in range(width)]
    return np.array(bits[:count], dtype=bool)
