"""Sparsity metrics of a :class:`~colsim.profiler.profile.Profile` (DESIGN.md §1).

Definitions (a column is *hot* at threshold θ by the one hot rule, :func:`colsim.masks.is_hot`:
its max ``|h|`` over every token of the batch exceeds θ, compared in float32):

* **element sparsity**: share of elements with ``|h| <= θ``, from the histogram (exact when
  θ is a bin edge, else bounded by the neighbouring edges, see
  :mod:`colsim.profiler.histogram`);
* **column sparsity**: share of columns that are not hot (exact, from the column maxima);
* **iteration-1+ weighted average**: mean over iterations ``t >= 1`` (iteration 0 runs dense
  under FFN-Reuse; a one-iteration profile uses iteration 0), then over layers weighted by
  each layer's work ``M·d·N·(3 if gated else 2)·repeat`` (:attr:`LayerInfo.work`);
* **Jaccard** of consecutive hot sets ``|H_t ∩ H_t+1| / |H_t ∪ H_t+1|`` (1 when both empty).

The thresholds themselves (uniform τ, ρ calibration, threshold inflation) live in
:mod:`colsim.masks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from colsim.masks import first_counted_iteration, hot_masks
from colsim.profiler.histogram import share_at_most
from colsim.profiler.profile import Profile

Thresholds = Mapping[str, float]
"""A threshold per layer name."""


def column_sparsity(profile: Profile, thresholds: Thresholds) -> np.ndarray:
    """Return (L, T) column sparsity per layer and iteration."""
    masks = hot_masks(profile, thresholds)
    return np.stack([(~masks[name]).mean(axis=1) for name in profile.layer_names])


@dataclass(frozen=True)
class ElementSparsity:
    """(L, T) element sparsity: ``estimate`` lies in ``[lower, upper]`` (equal when exact)."""

    lower: np.ndarray
    estimate: np.ndarray
    upper: np.ndarray


def element_sparsity(profile: Profile, thresholds: Thresholds) -> ElementSparsity:
    """Return (L, T) element sparsity per layer and iteration from the histograms."""
    parts = [
        share_at_most(profile.histogram[name], profile.bin_edges, thresholds[name])
        for name in profile.layer_names
    ]
    return ElementSparsity(*(np.stack([p[i] for p in parts]) for i in range(3)))


def jaccard(profile: Profile, thresholds: Thresholds) -> np.ndarray:
    """Return (L, T-1) Jaccard index of consecutive hot sets per layer."""
    masks = hot_masks(profile, thresholds)
    rows = []
    for name in profile.layer_names:
        mask = masks[name]
        both = (mask[:-1] & mask[1:]).sum(axis=1)
        either = (mask[:-1] | mask[1:]).sum(axis=1)
        rows.append(np.where(either == 0, 1.0, both / np.maximum(either, 1)))
    return np.stack(rows) if rows else np.zeros((0, 0))


def layer_weights(profile: Profile) -> np.ndarray:
    """Return (L,) weights of the layers in averages: their share of the FFN work."""
    work = np.array([layer.work for layer in profile.layers], dtype=np.float64)
    return work / work.sum()


def weighted_average(profile: Profile, per_layer_iteration: np.ndarray) -> float:
    """Return the iteration-1+ average of (L, T) values, layers weighted by their work."""
    per_layer = per_layer_iteration[:, first_counted_iteration(profile) :].mean(axis=1)
    return float(np.dot(layer_weights(profile), per_layer))
