"""Expand a schedule's byte segments into its DRAM transactions (compiled).

A transfer's transactions are the aligned ``size``-byte units its segments touch, in address
order, each once. Segments arrive in creation order, a transfer's scattered among the others;
the expansion buckets them by transfer (a counting sort, linear) and sorts and deduplicates
each transfer's few transactions on its own, so no sort runs over the whole stream.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def transactions(
    transfer: np.ndarray, start: np.ndarray, nbytes: np.ndarray, n_transfers: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(addr, transfer, first, count)`` of the segments ``[start, start + nbytes)``.

    ``transfer`` gives each segment's transfer (``0 .. n_transfers - 1``); empty segments
    touch nothing. ``addr`` (uint64) and ``transfer`` list the transactions grouped by
    transfer in ascending order, addresses ascending and unique within a transfer; transfer
    ``f`` owns ``first[f] .. first[f] + count[f] - 1``.
    """
    transfer = np.ascontiguousarray(transfer, dtype=np.int64)
    start = np.ascontiguousarray(start, dtype=np.int64)
    nbytes = np.ascontiguousarray(nbytes, dtype=np.int64)
    return _expand(transfer, start, nbytes, n_transfers, size)


def touched_units(start: np.ndarray, nbytes: np.ndarray, size: int) -> int:
    """Return how many aligned ``size``-byte units the segments touch, a unit once per
    segment: the transactions :func:`transactions` expands before it merges repeats."""
    touched = nbytes > 0
    first, last = start[touched] // size, (start[touched] + nbytes[touched] - 1) // size
    return int((last - first + 1).sum())


@njit(cache=True)
def _expand(transfer, start, nbytes, n_transfers, size):
    """Return (address, transfer, first, count), grouped and deduplicated."""
    n_seg = transfer.shape[0]
    touched = np.zeros(n_transfers + 1, dtype=np.int64)
    for s in range(n_seg):
        if nbytes[s] > 0:
            touched[transfer[s] + 1] += (start[s] + nbytes[s] - 1) // size - start[s] // size + 1
    for f in range(n_transfers):
        touched[f + 1] += touched[f]
    # Bucket every touched unit by transfer, in segment order.
    index = np.empty(touched[n_transfers], dtype=np.int64)
    fill = touched[:n_transfers].copy()
    for s in range(n_seg):
        if nbytes[s] > 0:
            f = transfer[s]
            for unit in range(start[s] // size, (start[s] + nbytes[s] - 1) // size + 1):
                index[fill[f]] = unit
                fill[f] += 1
    # Per transfer: sort (unless already ascending) and drop repeats, compacting in place.
    first = np.empty(n_transfers, dtype=np.int64)
    count = np.empty(n_transfers, dtype=np.int64)
    out = 0
    for f in range(n_transfers):
        lo, hi = touched[f], touched[f + 1]
        ascending = True
        for j in range(lo + 1, hi):
            if index[j] <= index[j - 1]:
                ascending = False
                break
        if not ascending:
            index[lo:hi] = np.sort(index[lo:hi])
        first[f] = out
        for j in range(lo, hi):
            if j == lo or index[j] != index[j - 1]:
                index[out] = index[j]
                out += 1
        count[f] = out - first[f]
    addr = np.empty(out, dtype=np.uint64)
    owner = np.empty(out, dtype=np.int64)
    for f in range(n_transfers):
        for j in range(first[f], first[f] + count[f]):
            addr[j] = index[j] * size
            owner[j] = f
    return addr, owner, first, count
