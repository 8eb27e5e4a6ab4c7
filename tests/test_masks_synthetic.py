"""Synthetic masks match their target statistics; regimes differ the way they claim."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.errors import ColsimError
from colsim.masks import overlap_for, synthesize_masks
from colsim.models.registry import get_workload
from colsim.models.spec import FfnLayer, WorkloadSpec

SPEC = WorkloadSpec(
    name="toy", group="pure", modality="image", source="test",
    layers=(FfnLayer("a", 16, 64, 1024, False), FfnLayer("b", 16, 64, 4608, True),
            FfnLayer("c", 6, 32, 200, False)),
)


def measured_jaccard(mask: np.ndarray) -> np.ndarray:
    both = (mask[:-1] & mask[1:]).sum(axis=1)
    either = (mask[:-1] | mask[1:]).sum(axis=1)
    return both / either, either


@pytest.mark.parametrize("regime", ["concentration", "dispersion", "churn"])
@pytest.mark.parametrize("jaccard", [0.3, 0.8, 0.95])
def test_statistics_match_targets(regime, jaccard):
    schedule = np.linspace(0.6, 0.9, 12)
    masks = synthesize_masks(SPEC, iterations=12, seed=4, column_sparsity=schedule,
                             jaccard=jaccard, regime=regime)
    assert masks.layers == ("a", "b", "c") and masks.iterations == 12
    for layer in SPEC.layers:
        mask = masks.hot[layer.name]
        sparsity = 1 - mask.mean(axis=1)
        # Tolerance: rounding the hot count to an integer, half a column.
        assert np.all(np.abs(sparsity - schedule) <= 0.5 / layer.hidden + 1e-12)
        values, union = measured_jaccard(mask)
        sizes = mask.sum(axis=1)
        a, b = sizes[:-1], sizes[1:]
        low = np.maximum(0, a + b - layer.hidden) / (a + b - np.maximum(0, a + b - layer.hidden))
        high = np.minimum(a, b) / np.maximum(a, b)  # the feasible range of J for these sizes
        # Tolerance: rounding the overlap to an integer moves J by at most 1 / |union|.
        assert np.all(np.abs(values - np.clip(jaccard, low, high)) <= 1.0 / union + 1e-12)


def test_same_seed_same_masks_other_seed_other_masks():
    def make(seed):
        return synthesize_masks(SPEC, iterations=4, seed=seed, column_sparsity=0.8, jaccard=0.7)

    first, again, other = make(1), make(1), make(2)
    for name in first.layers:
        np.testing.assert_array_equal(first.hot[name], again.hot[name])
    assert any(not np.array_equal(first.hot[n], other.hot[n]) for n in first.layers)


def test_regimes_differ_in_spread_and_union():
    def make(regime):
        return synthesize_masks(SPEC, iterations=20, seed=0, column_sparsity=0.9, jaccard=0.6,
                                regime=regime).hot["b"]

    concentration, dispersion, churn = make("concentration"), make("dispersion"), make("churn")

    def span(mask):  # columns between the first and last hot column, averaged over iterations
        return np.mean([np.ptp(np.flatnonzero(row)) + 1 for row in mask])

    assert span(concentration) < 0.5 * span(dispersion)
    union = {name: m.any(axis=0).sum() for name, m in
             (("dispersion", dispersion), ("churn", churn))}
    assert union["churn"] > union["dispersion"]


def test_overlap_is_the_nearest_feasible():
    for a, b, n in [(10, 14, 30), (5, 5, 8), (0, 3, 10), (7, 9, 100)]:
        for target in (0.0, 0.2, 0.5, 0.9, 1.0):
            lo, hi = max(0, a + b - n), min(a, b)
            best = min(range(lo, hi + 1),
                       key=lambda i: abs((i / (a + b - i) if a + b - i else 1.0) - target))
            got = overlap_for(a, b, target, n)
            value = got / (a + b - got) if a + b - got else 1.0
            best_value = best / (a + b - best) if a + b - best else 1.0
            assert abs(value - target) <= abs(best_value - target) + 1e-12


def test_full_size_workload_spec():
    spec = get_workload("dit-xl-2")
    masks = synthesize_masks(spec, iterations=3, seed=0, column_sparsity=0.5, jaccard=0.9)
    assert len(masks.layers) == len(spec.layers) == 28
    assert masks.hot[spec.layers[0].name].shape == (3, 4608)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"regime": "swirl"}, "`regime` must be one of concentration, dispersion, churn"),
        ({"jaccard": 1.2}, r"`jaccard` must be in \[0, 1\], not 1.2"),
        ({"column_sparsity": -0.1}, r"`column_sparsity` must be in \[0, 1\], not -0.1"),
        ({"column_sparsity": [0.5, 0.5]}, "`column_sparsity` has 2 values for 3 iterations"),
        ({"iterations": 0}, "`iterations` must be a positive integer, not 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"iterations": 3, "seed": 0, "column_sparsity": 0.5, "jaccard": 0.5, **kwargs}
    with pytest.raises(ColsimError, match=message):
        synthesize_masks(SPEC, **arguments)
