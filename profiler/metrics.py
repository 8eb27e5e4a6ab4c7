"""Sparsity metrics of a :class:`~colsim.profiler.profile.Profile` (DESIGN.md §1).

Definitions (all comparisons in float32, the capture dtype; a column is *hot* at threshold
θ when its max ``|h|`` over every token of the batch exceeds θ):

* **element sparsity**: share of elements with ``|h| <= θ``, from the histogram (exact when
  θ is a bin edge, else bounded by the neighbouring edges, see
  :mod:`colsim.profiler.histogram`);
* **column sparsity**: share of columns that are not hot (exact, from the column maxima);
* **iteration-1+ weighted average**: mean over iterations ``t >= 1`` (iteration 0 runs dense
  under FFN-Reuse; a one-iteration profile uses iteration 0), then over layers weighted by
  each layer's work ``M·d·N·(3 if gated else 2)·repeat`` (:attr:`LayerInfo.work`);
* **Jaccard** of consecutive hot sets ``|H_t ∩ H_t+1| / |H_t ∪ H_t+1|`` (1 when both empty);
* **ρ calibration**: per layer the smallest column-max value θ with iteration-1+ hot share
  ``<= ρ``, found by binary search over the layer's sorted column maxima;
* **natural range** of a layer: the upper edge of the histogram bin holding the 99th
  percentile of ``|h|`` over all iterations; a calibrated θ above it is **threshold
  inflation** and is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from colsim.errors import ColsimError
from colsim.profiler.histogram import quantile_upper_bound, share_at_most
from colsim.profiler.masks import MaskSet
from colsim.profiler.profile import Profile

NATURAL_RANGE_QUANTILE = 0.99

Thresholds = Mapping[str, float]
"""A threshold per layer name."""


def check_tau(tau: float) -> float:
    """Return ``tau`` if it is a finite non-negative number, else raise a ColsimError."""
    if not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau < 0:
        raise ColsimError(f"`tau` must be a non-negative number, not {tau!r}")
    return float(tau)


def check_rho(rho: float) -> float:
    """Return ``rho`` if it lies in [0, 1], else raise a ColsimError."""
    if not isinstance(rho, (int, float)) or not 0 <= rho <= 1:
        raise ColsimError(f"`rho` must be a hot ratio in [0, 1], not {rho!r}")
    return float(rho)


def uniform_thresholds(profile: Profile, tau: float) -> dict[str, float]:
    """Return the same threshold ``tau`` for every layer."""
    tau = check_tau(tau)
    return {name: tau for name in profile.layer_names}


def first_counted_iteration(profile: Profile) -> int:
    """Return 1, or 0 for a one-iteration profile (the start of iteration-1+ averages)."""
    return 1 if profile.iterations > 1 else 0


def hot_masks(profile: Profile, thresholds: Thresholds) -> dict[str, np.ndarray]:
    """Return per layer the bool (T, N) hot mask ``colmax > threshold``."""
    return {
        name: profile.colmax[name] > np.float32(thresholds[name]) for name in profile.layer_names
    }


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


def natural_range(profile: Profile, name: str) -> float:
    """Return the layer's natural activation range (99th-percentile bin edge of ``|h|``)."""
    counts = profile.histogram[name].sum(axis=0)
    return quantile_upper_bound(counts, profile.bin_edges, NATURAL_RANGE_QUANTILE)


@dataclass(frozen=True)
class Calibration:
    """The per-layer threshold meeting a target hot ratio, and whether it is inflated."""

    layer: str
    threshold: float
    hot_share: float  # achieved iteration-1+ hot share, <= the target
    natural_range: float
    inflated: bool


def calibrate_rho(profile: Profile, rho: float) -> dict[str, Calibration]:
    """Return per layer the smallest threshold whose iteration-1+ hot share is ``<= rho``."""
    rho = check_rho(rho)
    start = first_counted_iteration(profile)
    result = {}
    for name in profile.layer_names:
        colmax = profile.colmax[name][start:]
        candidates = np.unique(np.concatenate([[np.float32(0.0)], colmax.ravel()]))
        low, high = 0, len(candidates) - 1  # hot share at candidates[-1] is 0 <= rho
        while low < high:
            middle = (low + high) // 2
            if _hot_share(colmax, candidates[middle]) <= rho:
                high = middle
            else:
                low = middle + 1
        threshold = float(candidates[low])
        limit = natural_range(profile, name)
        result[name] = Calibration(
            name, threshold, _hot_share(colmax, candidates[low]), limit, threshold > limit
        )
    return result


def _hot_share(colmax: np.ndarray, threshold: np.float32) -> float:
    return float((colmax > threshold).mean())


def export_masks(profile: Profile, thresholds: Thresholds, meta: dict | None = None) -> MaskSet:
    """Return the hot masks at ``thresholds`` as a :class:`MaskSet` (contract 3)."""
    model = str(profile.meta.get("model", "unknown"))
    record = {"source": "profile", "thresholds": dict(thresholds), **(meta or {})}
    return MaskSet(model, profile.layer_names, hot_masks(profile, thresholds), record)
