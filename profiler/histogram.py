"""Element-magnitude histogram bins and the one-pass activation reduction kernel.

Bins are right-closed on float32 edges ``e[0] = 0 < e[1] < ... < e[K-1]``: bin 0 counts
``|h| <= 0`` (exact zeros), bin ``i`` counts ``e[i-1] < |h| <= e[i]`` and bin ``K`` counts
``|h| > e[K-1]`` (``torch.bucketize(|h|, e, right=False)`` semantics). Comparisons are in
float32, the capture dtype.

The edges are a log-like grid of float32 bit patterns ``lo + i·2^s``: ``2^(23-s)`` equal bins
per octave, which the kernel finds with a shift, refined by *exact edges* (the
threshold sweep of DESIGN.md §1) that split the log bins containing them.
The share of elements with ``|h| <= τ`` is therefore exact for every τ that is an edge and,
for any other τ, lies between the shares at the two edges around it (at most one grid bin
apart: a relative gap of at most ``1 / bins_per_octave``, 3.1 % by default).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numba
import numpy as np

SWEEP_THRESHOLDS: tuple[float, ...] = (0.10, 0.15, 0.164, 0.17, 0.20)
"""Threshold sweep values of DESIGN.md §1 (τ and ρ axes); 0.164 is the reference point."""

REFERENCE_THRESHOLD = 0.164


@dataclass(frozen=True)
class HistogramBins:
    """The bin layout: float32 ``edges`` plus the lookup tables of the reduction kernel."""

    edges: np.ndarray  # (K,) float32, edges[0] == 0
    low_bits: int  # float32 bit pattern of the lowest log edge
    shift: int  # log bins are 2**shift bit patterns wide
    log_bins: int  # number of log bins between the lowest and the highest log edge
    below: np.ndarray  # per coarse bin: number of edges <= its lower bound
    splits: np.ndarray  # per coarse bin: number of exact edges strictly inside it

    @classmethod
    def build(
        cls,
        *,
        low_octave: int = -20,
        high_octave: int = 12,
        bins_per_octave: int = 32,
        exact_edges: tuple[float, ...] = SWEEP_THRESHOLDS,
    ) -> HistogramBins:
        """Log grid over ``[2**low_octave, 2**high_octave]``, refined by ``exact_edges``.

        Keep ``exact_edges`` few: each log bin they split costs a comparison per element.
        """
        shift = 23 - int(np.log2(bins_per_octave))
        low_bits = (127 + low_octave) << 23
        log_bins = (high_octave - low_octave) * bins_per_octave
        log_edges = (low_bits + (np.arange(log_bins + 1) << shift)).astype(np.int32)
        coarse = np.concatenate([[0.0], log_edges.view(np.float32)]).astype(np.float32)
        edges = np.unique(np.concatenate([coarse, np.asarray(exact_edges, np.float32)]))
        # Coarse bin c covers (coarse[c-1], coarse[c]]; bin 0 is the zeros, the last overflow.
        lower = np.concatenate([[-np.inf], coarse]).astype(np.float64)
        upper = np.concatenate([coarse, [np.inf]]).astype(np.float64)
        below = np.searchsorted(edges, lower, side="right")
        inside_upper = np.searchsorted(edges, upper, side="left")
        splits = np.maximum(inside_upper - below, 0)
        return cls(edges, low_bits, shift, log_bins, below.astype(np.int64),
                   splits.astype(np.int64))

    @classmethod
    @functools.cache
    def default(cls) -> HistogramBins:
        """Return the default layout (built once per process)."""
        return cls.build()

    @property
    def relative_gap(self) -> float:
        """Largest ratio - 1 between consecutive nonzero edges inside the grid's range."""
        return 2.0 ** (self.shift - 23)

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Return the histogram counts of ``|values|`` (finite, any shape), length K+1."""
        flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        return _count(flat, self.edges, self.low_bits, self.shift, self.log_bins,
                      self.below, self.splits)


@numba.njit(cache=True, nogil=True)
def _count(flat, edges, low_bits, shift, log_bins, below, splits):  # pragma: no cover - jit
    counts = np.zeros(edges.size + 1, np.int64)
    bits_view = flat.view(np.int32)
    edge_bits = edges.view(np.int32)
    top = log_bins << shift
    for i in range(flat.size):
        bits = bits_view[i] & 0x7FFFFFFF
        offset = min(max(bits - low_bits - 1, -1), top)
        coarse = ((offset >> shift) + 2) * (bits != 0)  # 0: zero, 1: underflow, last: overflow
        index = below[coarse]
        last = index + splits[coarse]
        while index < last and edge_bits[index] < bits:
            index += 1
        counts[index] += 1
    return counts


def share_at_most(counts: np.ndarray, edges: np.ndarray, tau: float) -> tuple[np.ndarray, ...]:
    """Return ``(lower, estimate, upper)`` shares of elements with ``|h| <= tau``.

    ``counts`` has the bins on its last axis. When ``tau`` is an edge all three are equal
    (exact); otherwise the estimate interpolates linearly inside the bin containing ``tau``.
    """
    tau32 = np.float32(tau)
    total = np.maximum(counts.sum(axis=-1), 1)
    cumulative = np.cumsum(counts, axis=-1)
    position = int(np.searchsorted(edges, tau32, side="left"))  # first edge >= tau
    if position < len(edges) and edges[position] == tau32:
        exact = cumulative[..., position] / total
        return exact, exact, exact
    lower = cumulative[..., position - 1] / total
    if position == len(edges):
        return lower, lower, np.ones_like(lower)
    upper = cumulative[..., position] / total
    low_edge, high_edge = float(edges[position - 1]), float(edges[position])
    fraction = (float(tau32) - low_edge) / (high_edge - low_edge)
    return lower, lower + fraction * (upper - lower), upper


def quantile_upper_bound(counts: np.ndarray, edges: np.ndarray, q: float) -> float:
    """Return the upper edge of the bin holding the ``q`` quantile of ``|h|`` (1-D counts).

    The true quantile is at most this value; ``inf`` when it lies in the overflow bin.
    """
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(edges[index]) if index < len(edges) else float("inf")
