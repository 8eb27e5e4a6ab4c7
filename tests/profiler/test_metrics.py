"""Every profile metric against brute-force numpy on fully captured activation tensors."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.errors import ColsimError
from colsim.masks import calibrate_rho, masks_from_profile, natural_range, uniform_thresholds
from colsim.profiler import metrics
from colsim.profiler.histogram import SWEEP_THRESHOLDS, HistogramBins, share_at_most
from colsim.profiler.report import sparsity_report
from colsim.testing.toy_denoiser import TOY_LAYERS

ITERATIONS, TOKENS, BATCH = 5, 3, 2  # those of the `captured` fixture (conftest.py)


def brute_colmax(raw):
    return {name: np.abs(h).max(axis=1) for name, h in raw.items()}


def test_column_maxima_and_histograms_are_exact(captured):
    profile, raw, _ = captured
    assert profile.meta["batch"] == BATCH and profile.iterations == ITERATIONS
    for name, h in raw.items():
        np.testing.assert_array_equal(profile.colmax[name], np.abs(h).max(axis=1))
        for t in range(ITERATIONS):
            index = np.searchsorted(profile.bin_edges, np.abs(h[t]).ravel(), side="left")
            expected = np.bincount(index, minlength=len(profile.bin_edges) + 1)
            np.testing.assert_array_equal(profile.histogram[name][t], expected)


@pytest.mark.parametrize("tau", [*SWEEP_THRESHOLDS, 0.0, 0.0123, 0.5, 3.3])
def test_element_and_column_sparsity_match_brute_force(captured, tau):
    profile, raw, _ = captured
    thresholds = uniform_thresholds(profile, tau)
    element = metrics.element_sparsity(profile, thresholds)
    column = metrics.column_sparsity(profile, thresholds)
    tau32 = np.float32(tau)
    for i, name in enumerate(TOY_LAYERS):
        small = np.abs(raw[name]) <= tau32
        expected_element = small.mean(axis=(1, 2))
        np.testing.assert_array_equal(column[i], small.all(axis=1).mean(axis=1))
        assert np.all(element.lower[i] <= expected_element + 1e-12)
        assert np.all(expected_element <= element.upper[i] + 1e-12)
        if tau32 in profile.bin_edges:
            np.testing.assert_allclose(element.estimate[i], expected_element, rtol=0, atol=1e-12)


def test_sweep_thresholds_are_exact_bin_edges(captured):
    profile, _, _ = captured
    for tau in SWEEP_THRESHOLDS:
        assert np.float32(tau) in profile.bin_edges


def test_element_sparsity_bounds_are_tight_off_edge():
    bins = HistogramBins.build()
    values = np.random.default_rng(0).lognormal(-1.5, 1.0, 100_000).astype(np.float32)
    counts = bins.counts(values)
    for tau in (0.0123, 0.3, 1.7):
        lower, estimate, upper = share_at_most(counts, bins.edges, tau)
        truth = np.mean(values <= np.float32(tau))
        assert lower <= truth <= upper and abs(estimate - truth) <= upper - lower
        assert upper - lower < 0.02  # one bin (<= 3.1 % wide) holds under 2 % of the mass
        position = int(np.searchsorted(bins.edges, np.float32(tau)))
        assert bins.edges[position] / bins.edges[position - 1] <= 1 + bins.relative_gap + 1e-6


def test_jaccard_matches_set_arithmetic(captured):
    profile, raw, _ = captured
    colmax = brute_colmax(raw)
    for tau in (0.05, 0.164, 0.4):
        values = metrics.jaccard(profile, uniform_thresholds(profile, tau))
        for i, name in enumerate(TOY_LAYERS):
            sets = [set(np.flatnonzero(c > np.float32(tau))) for c in colmax[name]]
            for t in range(ITERATIONS - 1):
                union = sets[t] | sets[t + 1]
                expected = len(sets[t] & sets[t + 1]) / len(union) if union else 1.0
                assert values[i, t] == pytest.approx(expected, abs=1e-12)


def test_weighted_average_uses_iterations_one_plus_and_layer_work(captured):
    profile = captured[0]
    thresholds = uniform_thresholds(profile, 0.164)
    column = metrics.column_sparsity(profile, thresholds)
    work = np.array([3 * 3 * 8 * 32, 2 * 3 * 8 * 16, 2 * 3 * 8 * 24, 2 * 3 * 8 * 40], float)
    expected = sum(w * column[i, 1:].mean() for i, w in enumerate(work)) / work.sum()
    assert metrics.weighted_average(profile, column) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("rho", [0.0, *SWEEP_THRESHOLDS, 0.5, 1.0])
def test_rho_calibration_equals_linear_scan(captured, rho):
    profile, raw, _ = captured
    calibration = calibrate_rho(profile, rho)
    for name in TOY_LAYERS:
        colmax = np.abs(raw[name]).max(axis=1)[1:]
        candidates = sorted({0.0, *colmax.ravel().tolist()})
        expected = next(c for c in candidates if (colmax > np.float32(c)).mean() <= rho)
        result = calibration[name]
        assert result.threshold == pytest.approx(expected, abs=0)
        assert result.hot_share == pytest.approx((colmax > np.float32(expected)).mean())
        assert result.inflated == (result.threshold > result.natural_range)


def test_natural_range_bounds_the_99th_percentile(captured):
    profile, raw, _ = captured
    edges = profile.bin_edges
    for name in TOY_LAYERS:
        magnitudes = np.sort(np.abs(raw[name]).ravel())
        q99 = magnitudes[int(np.ceil(0.99 * magnitudes.size)) - 1]
        bound = natural_range(profile, name)
        position = int(np.searchsorted(edges, bound))
        assert edges[position - 1] < q99 <= bound


def test_masks_from_profile_and_report_summary(captured):
    profile, raw, _ = captured
    masks = masks_from_profile(profile, tau=0.164)
    for name, colmax in brute_colmax(raw).items():
        np.testing.assert_array_equal(masks.hot[name], colmax > np.float32(0.164))
    report = sparsity_report(profile, tau=0.164)
    assert report.element_sparsity_exact
    column = np.stack([1 - masks.hot[n].mean(axis=1) for n in TOY_LAYERS])
    assert report.summary["column_sparsity_weighted"] == pytest.approx(
        metrics.weighted_average(profile, column)
    )
    assert [row.layer for row in report.rows] == list(TOY_LAYERS)
    rho_report = sparsity_report(profile, rho=0.164)
    assert rho_report.axis == "rho"
    for row in rho_report.rows:
        assert 1 - row.column_sparsity <= 0.164 + 1e-12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": -0.1}, "`tau` must be a non-negative number, not -0.1"),
        ({"tau": float("nan")}, "`tau` must be a non-negative number, not nan"),
        ({"rho": 1.5}, r"`rho` must be a hot ratio in \[0, 1\], not 1.5"),
        ({"tau": 0.1, "rho": 0.1}, "give either `tau` or `rho`, not both"),
    ],
)
def test_bad_thresholds_are_clear_errors(captured, kwargs, message):
    with pytest.raises(ColsimError, match=message):
        sparsity_report(captured[0], **kwargs)
