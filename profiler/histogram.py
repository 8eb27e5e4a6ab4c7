"""Element-magnitude histogram bins and the one-pass activation reduction kernel.

Bins are right-closed on float32 edges ``e[0] = 0 < e[1] < ... < e[K-1]``: bin 0 counts
``|h| <= 0`` (exact zeros), bin ``i`` counts ``e[i-1] < |h| <= e[i]`` and bin ``K`` counts
``|h| > e[K-1]`` (``torch.bucketize(|h|, e, right=False)`` semantics). Comparisons are in
float32, the capture dtype.

The edges are a log-like grid of float32 bit patterns ``lo + i·2^s``: ``2^(23-s)`` equal bins
per octave, refined by *exact edges* (the threshold sweep of DESIGN.md §1) that split the log
bins containing them. The kernel finds an element's bin with one table lookup on the top bits
of its magnitude (``(bits - 1) >> s``: every grid bin is one table slot) and one comparison
per exact edge inside that slot, branch-free.
The share of elements with ``|h| <= τ`` is therefore exact for every τ that is an edge and,
for any other τ, lies between the shares at the two edges around it (at most one grid bin
apart: a relative gap of at most ``1 / bins_per_octave``, 3.1 % by default).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

SWEEP_THRESHOLDS: tuple[float, ...] = (0.10, 0.15, 0.164, 0.17, 0.20)
"""Threshold sweep values of DESIGN.md §1 (τ and ρ axes); 0.164 is the reference point."""

REFERENCE_THRESHOLD = 0.164


@dataclass(frozen=True)
class HistogramBins:
    """The bin layout: float32 ``edges`` (the kernels' lookup tables derive from them)."""

    edges: np.ndarray  # (K,) float32, edges[0] == 0
    low_bits: int  # float32 bit pattern of the lowest log edge
    shift: int  # log bins are 2**shift bit patterns wide
    log_bins: int  # number of log bins between the lowest and the highest log edge

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

        Keep ``exact_edges`` few and apart: the most exact edges inside one log bin is the
        number of comparisons every element costs.
        """
        shift = 23 - int(np.log2(bins_per_octave))
        low_bits = (127 + low_octave) << 23
        log_bins = (high_octave - low_octave) * bins_per_octave
        log_edges = (low_bits + (np.arange(log_bins + 1) << shift)).astype(np.int32)
        coarse = np.concatenate([[0.0], log_edges.view(np.float32)]).astype(np.float32)
        edges = np.unique(np.concatenate([coarse, np.asarray(exact_edges, np.float32)]))
        return cls(edges, low_bits, shift, log_bins)

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
        counts = np.zeros(self.edges.size + 1, np.int64)
        edge_bits, table, table_shift, refinements = self._tables
        _accumulate(flat.view(np.int32), edge_bits, table, table_shift, refinements, counts,
                    np.zeros((4, counts.size), np.int32))
        return counts

    def reduce(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reduce a batch ``values`` (G, rows, N) of activations, one pass per entry.

        Return ``(colmax, counts)``: per entry the column maxima of ``|values|`` (G, N)
        float32 (NaN and inf propagate: a NaN wins over every number) and the histogram
        counts (G, K+1) int64, equal to :meth:`counts` of the entry.
        """
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.ndim != 3:
            raise ValueError(f"`values` must be (G, rows, N), not shape {values.shape}")
        entries_count, rows, width = values.shape
        entries = np.zeros((entries_count, 4), np.int64)
        entries[:, 0] = np.arange(entries_count)  # entry g is layer g, iteration 0
        entries[:, 2] = np.arange(entries_count) * rows * width
        entries[:, 3] = rows
        colmax = np.zeros((entries_count, width), np.float32)
        counts = np.zeros((entries_count, self.edges.size + 1), np.int64)
        self.merge(values.reshape(-1), entries, np.full(entries_count, width, np.int64),
                   np.arange(entries_count, dtype=np.int64) * width, 1, colmax.reshape(-1),
                   counts)
        return colmax, counts

    def merge(
        self, values: np.ndarray, entries: np.ndarray, hidden: np.ndarray,
        colmax_offset: np.ndarray, iterations: int, colmax: np.ndarray, counts: np.ndarray,
    ) -> int:
        """Merge activations into per layer × iteration statistics; one compiled call.

        ``values`` is a flat float32 array. Entry ``e`` of ``entries`` (E, 4) int64 is
        ``(layer, iteration, offset, rows)``: the ``rows × hidden[layer]`` activations at
        ``values[offset:]``. Their column maxima of the magnitude go into ``colmax`` (flat
        float32, max) at ``colmax_offset[layer] + iteration · hidden[layer]``, their
        histogram into row ``layer · iterations + iteration`` of ``counts`` (sum). Every entry
        is merged; return the index of the first entry holding a NaN or inf, or -1.
        """
        edge_bits, table, table_shift, refinements = self._tables
        return _merge(values.view(np.int32), entries, hidden, colmax_offset, iterations,
                      colmax.view(np.int32), counts, edge_bits, table, table_shift,
                      refinements)

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Lookup tables of the kernels: ``(edge_bits, table, table_shift, refinements)``.

        Slot ``k >= 1`` of ``table`` covers the magnitude bit patterns ``b`` with
        ``(b - 1) >> table_shift == k - 1`` (slot 0: ``b == 0``) and holds the number of edges
        below all of them; the bin of ``b`` is that number plus the number of edges inside
        the slot that are ``< b``, found by ``refinements`` branch-free comparisons against
        ``edge_bits`` (the edges' bit patterns and a sentinel above every magnitude).
        """
        edge_bits = self.edges.view(np.int32).astype(np.int64)
        table_shift = max(self.shift, 15)  # at most 2**16 + 1 slots
        slots = np.arange((0x7FFFFFFF >> table_shift) + 2, dtype=np.int64)
        lowest = np.where(slots == 0, 0, ((slots - 1) << table_shift) + 1)
        highest = np.where(slots == 0, 0, slots << table_shift)
        below = np.searchsorted(edge_bits, lowest, side="left")  # edges < lowest
        inside = np.searchsorted(edge_bits, highest, side="left") - below  # in [lowest, highest)
        dtype = np.int16 if self.edges.size < np.iinfo(np.int16).max else np.int32
        padded = np.concatenate([edge_bits, [0x7FFFFFFF]]).astype(np.int32)
        return padded, below.astype(dtype), table_shift, int(inside.max())


CHUNK = 1 << 30
"""Elements per pass of :func:`_accumulate`: its int32 partial counts cannot overflow."""


@numba.njit(cache=True, nogil=True)
def _accumulate(bits, edge_bits, table, table_shift, refinements, counts,
                partial):  # pragma: no cover
    """Add the bin counts of the magnitudes of the float32 bit patterns ``bits`` to ``counts``.

    ``partial`` (4, K+1) int32 is zero scratch space and is left zero.
    """
    # Four interleaved partial histograms: neighbouring elements mostly fall into the same
    # few bins, and a single histogram would serialise on read-modify-writes of one bin.
    for start in range(0, bits.size, CHUNK):
        chunk = bits[start:start + CHUNK]
        if refinements == 1:  # the default layout: a loop-free inner body is ~1/3 faster
            _partial_counts_1(chunk, edge_bits, table, table_shift, partial)
        else:
            _partial_counts(chunk, edge_bits, table, table_shift, refinements, partial)
        _fold(partial, counts)


@numba.njit(cache=True, nogil=True)
def _partial_counts_1(bits, edge_bits, table, table_shift, partial):  # pragma: no cover
    """:func:`_partial_counts` for exactly one refinement."""
    quads = bits.size // 4
    for i in range(quads):
        for lane in range(4):
            value = bits[4 * i + lane] & 0x7FFFFFFF
            index = np.int64(table[((value - 1) >> table_shift) + 1])
            index += edge_bits[index] < value
            partial[lane, index] += 1
    for i in range(4 * quads, bits.size):
        value = bits[i] & 0x7FFFFFFF
        index = np.int64(table[((value - 1) >> table_shift) + 1])
        index += edge_bits[index] < value
        partial[0, index] += 1


@numba.njit(cache=True, nogil=True)
def _partial_counts(bits, edge_bits, table, table_shift, refinements, partial):  # pragma: no cover
    """Count the bins of ``bits`` into the four lanes of ``partial``, element i into i % 4."""
    quads = bits.size // 4
    for i in range(quads):
        for lane in range(4):
            value = bits[4 * i + lane] & 0x7FFFFFFF
            index = np.int64(table[((value - 1) >> table_shift) + 1])
            for _ in range(refinements):
                index += edge_bits[index] < value
            partial[lane, index] += 1
    for i in range(4 * quads, bits.size):
        value = bits[i] & 0x7FFFFFFF
        index = np.int64(table[((value - 1) >> table_shift) + 1])
        for _ in range(refinements):
            index += edge_bits[index] < value
        partial[0, index] += 1


@numba.njit(cache=True, nogil=True)
def _merge(bits, entries, hidden, colmax_offset, iterations, colmax, counts, edge_bits, table,
           table_shift, refinements):  # pragma: no cover - jit
    """See :meth:`HistogramBins.merge`; ``bits`` and ``colmax`` are int32 views."""
    first_bad = -1
    top = np.empty(hidden.max(), np.int32)
    partial = np.zeros((4, counts.shape[1]), np.int32)
    for e in range(entries.shape[0]):
        layer, iteration, offset, rows = entries[e, 0], entries[e, 1], entries[e, 2], entries[e, 3]
        width = hidden[layer]
        values = bits[offset:offset + rows * width]
        # Row by row over a 2-D view: the compiler vectorises this loop (flat index
        # arithmetic would keep it scalar, ~8x slower).
        block = values.reshape(rows, width)
        top[:width] = 0
        for r in range(rows):
            row = block[r]
            for j in range(width):
                top[j] = max(top[j], row[j] & 0x7FFFFFFF)
        target = colmax_offset[layer] + iteration * width
        for j in range(width):
            if top[j] >= 0x7F800000 and first_bad < 0:  # inf or NaN
                first_bad = e
            colmax[target + j] = max(colmax[target + j], top[j])
        _accumulate(values, edge_bits, table, table_shift, refinements,
                    counts[layer * iterations + iteration], partial)
    return first_bad


@numba.njit(cache=True, nogil=True)
def _fold(partial, counts):  # pragma: no cover - jit
    """Add the four lanes of ``partial`` to ``counts`` and zero them."""
    for lane in range(4):
        for b in range(counts.size):
            counts[b] += partial[lane, b]
            partial[lane, b] = 0


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
