"""Column layouts (DESIGN.md contract 4): where each hidden column of a layer lives in DRAM.

A layout is a permutation ``slot_of`` of the layer's N logical hidden columns to N physical
slots: column ``n`` of W1 (its value and gate halves for GEGLU) and row ``n`` of W2 are stored
at physical slot ``slot_of[n]`` (see ``sim/README.md`` for the byte placement). The schedule
fetches the computed columns in increasing physical-slot order, so a layout only changes
*where* the bytes are, never *which* columns are computed.

Layouts:

* ``rowmajor``: the identity.
* ``hotcold`` (uniform τ) and ``perlayer`` (per-layer ρ): a static permutation, computed
  offline from the calibration mask of iteration 0, that puts the hot columns first (in index
  order) and the cold ones after them. The two differ only in which mask set they come from.
* ``dynamic``: re-permuted before every iteration so that the iteration's hot columns occupy
  the slot prefix ``[0, n_hot)``. The update swaps each newly hot column lying outside the
  prefix with a newly cold column inside it, so only swapped columns move; their weights are
  read and written again (:attr:`Layout.swaps`), traffic that the schedule counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from colsim.errors import ColsimError

LAYOUT_KINDS = ("rowmajor", "hotcold", "perlayer", "dynamic")


@dataclass(frozen=True, eq=False)
class Layout:
    """One layer's column placement for one iteration.

    ``slot_of[n]`` is the physical slot of logical column ``n`` (a permutation of
    ``range(N)``). ``swaps`` (shape (S, 2), physical slots) lists the slot pairs whose contents
    were exchanged to reach this layout from the previous iteration's (dynamic layouts only).
    """

    kind: str
    slot_of: np.ndarray
    swaps: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    def __post_init__(self) -> None:
        if self.kind not in LAYOUT_KINDS:
            known = ", ".join(LAYOUT_KINDS)
            raise ColsimError(f"unknown layout {self.kind!r} (known layouts: {known})")
        slot_of = np.asarray(self.slot_of)
        if slot_of.ndim != 1 or not np.array_equal(np.sort(slot_of), np.arange(slot_of.size)):
            raise ColsimError(f"`slot_of` of a {self.kind!r} layout must be a permutation")
        object.__setattr__(self, "slot_of", slot_of.astype(np.int64))
        swaps = np.asarray(self.swaps, dtype=np.int64).reshape(-1, 2)
        object.__setattr__(self, "swaps", swaps)

    @property
    def columns(self) -> int:
        """Return N, the number of hidden columns placed."""
        return int(self.slot_of.size)

    def physical_order(self, columns: np.ndarray) -> np.ndarray:
        """Return the physical slots of the logical ``columns`` (bool mask or indices), sorted."""
        columns = np.asarray(columns)
        if columns.dtype == bool:
            if columns.shape != (self.columns,):
                raise ColsimError(
                    f"hot mask must have shape ({self.columns},), not {columns.shape}"
                )
            columns = np.flatnonzero(columns)
        return np.sort(self.slot_of[columns])


def rowmajor_layout(columns: int) -> Layout:
    """Return the identity layout of ``columns`` hidden columns."""
    return Layout("rowmajor", np.arange(columns, dtype=np.int64))


def hotcold_layout(hot: np.ndarray, *, kind: str = "hotcold") -> Layout:
    """Return the static layout placing the ``hot`` columns first, each group in index order."""
    hot = _check_mask(hot)
    order = np.concatenate([np.flatnonzero(hot), np.flatnonzero(~hot)])
    slot_of = np.empty(hot.size, dtype=np.int64)
    slot_of[order] = np.arange(hot.size)
    return Layout(kind, slot_of)


def dynamic_layout(previous: Layout | None, hot: np.ndarray) -> Layout:
    """Return the layout for an iteration whose hot columns are ``hot``, moving few columns.

    With no ``previous`` layout (the first iteration) this is :func:`hotcold_layout` with no
    swaps. Otherwise the hot columns must occupy slots ``[0, n_hot)``: every hot column at a
    slot ``>= n_hot`` swaps places with a cold column at a slot ``< n_hot`` (paired in
    increasing slot order), and all other columns stay where they are.
    """
    hot = _check_mask(hot)
    if previous is None:
        return hotcold_layout(hot, kind="dynamic")
    if previous.columns != hot.size:
        raise ColsimError(
            f"hot mask has {hot.size} columns but the previous layout has {previous.columns}"
        )
    n_hot = int(hot.sum())
    column_at = np.empty(hot.size, dtype=np.int64)
    column_at[previous.slot_of] = np.arange(hot.size)
    hot_at_slot = hot[column_at]
    slots = np.arange(hot.size)
    incoming = slots[(slots >= n_hot) & hot_at_slot]  # hot columns outside the prefix
    outgoing = slots[(slots < n_hot) & ~hot_at_slot]  # cold columns inside it (same count)
    slot_of = previous.slot_of.copy()
    slot_of[column_at[incoming]] = outgoing
    slot_of[column_at[outgoing]] = incoming
    return Layout("dynamic", slot_of, np.stack([outgoing, incoming], axis=1))


def _check_mask(hot: np.ndarray) -> np.ndarray:
    hot = np.asarray(hot)
    if hot.dtype != bool or hot.ndim != 1:
        raise ColsimError(
            f"hot mask must be a 1-D bool array, not {hot.dtype} with shape {hot.shape}"
        )
    return hot
