"""The reduction kernel and the recorder's deferred (batched) path against direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from colsim.compat import forward_hooks, forward_pre_hooks
from colsim.profiler.histogram import HistogramBins
from colsim.profiler.profile import LayerInfo
from colsim.profiler.recorder import ProfileRecorder
from colsim.testing.toy_denoiser import TOY_LAYERS, GeluModuleMlp, ToyDenoiser, toy_layer_infos

LAYOUTS = {
    "default": HistogramBins.default(),
    # Several exact edges inside one grid bin, and a grid finer than the lookup table.
    "coarse": HistogramBins.build(bins_per_octave=4, exact_edges=(0.1, 0.1001, 0.10015, 3.0)),
    "fine": HistogramBins.build(low_octave=-3, high_octave=3, bins_per_octave=1024),
}


def brute_counts(bins: HistogramBins, values: np.ndarray) -> np.ndarray:
    index = np.searchsorted(bins.edges, np.abs(values).ravel(), side="left")
    return np.bincount(index, minlength=len(bins.edges) + 1)


def boundary_values(bins: HistogramBins) -> np.ndarray:
    """Every edge, its float32 neighbours, zeros, denormals, the extremes, both signs."""
    edges = bins.edges
    values = np.concatenate([
        edges, np.nextafter(edges, np.float32(np.inf)), np.nextafter(edges, np.float32(0)),
        np.array([0.0, 1e-45, 1e-38, 3e38, np.finfo(np.float32).max], np.float32),
    ]).astype(np.float32)
    return np.concatenate([values, -values])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_counts_and_reduce_equal_searchsorted(layout):
    bins = LAYOUTS[layout]
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**32, 50_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    random = np.concatenate([bits[np.isfinite(bits)], rng.normal(0, 0.3, 20_000)])
    for values in (boundary_values(bins), random.astype(np.float32)):
        np.testing.assert_array_equal(bins.counts(values), brute_counts(bins, values))
        usable = values[: values.size - values.size % 7].reshape(1, -1, 7)
        colmax, counts = bins.reduce(np.concatenate([usable, -usable[:, ::-1]]))
        for g in range(2):
            np.testing.assert_array_equal(counts[g], brute_counts(bins, usable))
        np.testing.assert_array_equal(colmax[0], np.abs(usable[0]).max(axis=0))
        np.testing.assert_array_equal(colmax[1], np.abs(usable[0, ::-1]).max(axis=0))


def test_non_finite_values_reach_the_maxima_and_the_overflow_bin():
    bins = HistogramBins.default()
    values = np.array([[[0.5, np.inf, np.nan], [-0.25, 1.0, 2.0]]], np.float32)
    colmax, counts = bins.reduce(values)
    assert colmax[0, 0] == 0.5 and colmax[0, 1] == np.inf and np.isnan(colmax[0, 2])
    assert counts[0, -1] == 2 and counts.sum() == 6


def record(model: nn.Module, inputs: list[torch.Tensor], layers, **options):
    recorder = ProfileRecorder(model, layers, iterations=len(inputs), **options)
    with torch.no_grad(), recorder:
        for t, x in enumerate(inputs):
            recorder.start_iteration(t)
            model(x)
            model(x * 0.5)  # two forward calls in one iteration merge
            assert recorder._staged < recorder.flush_elements  # the deferred memory bound
    return recorder.profile({})


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_deferred_reduction_equals_immediate_reduction(dtype):
    model = ToyDenoiser(seed=5).eval().to(dtype)
    generator = torch.Generator().manual_seed(2)
    inputs = [torch.randn(2, 3, 8, generator=generator, dtype=dtype) for _ in range(4)]
    layers = toy_layer_infos(3)
    immediate = record(model, inputs, layers, defer_elements=0)
    deferred = record(model, inputs, layers)  # every toy capture is small: all deferred
    mixed = record(model, inputs, layers, defer_elements=6 * 40)  # 'functional' immediate
    flushed = record(model, inputs, layers, flush_elements=300)  # several flushes per run
    for name in TOY_LAYERS:
        for profile in (deferred, mixed, flushed):
            np.testing.assert_array_equal(profile.colmax[name], immediate.colmax[name])
            np.testing.assert_array_equal(profile.histogram[name], immediate.histogram[name])
    assert immediate.meta["batch"] == deferred.meta["batch"] == 2


class InPlaceAfterActivation(GeluModuleMlp):
    """Modifies its activation in place after the activation module returned it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x))
        h.mul_(100.0)
        return self.fc2(h)


@pytest.mark.parametrize("defer_elements", [0, 1 << 16])
def test_statistics_describe_h_as_the_activation_returned_it(defer_elements):
    model = InPlaceAfterActivation(8, 24).eval()
    x = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(0))
    profile = record(model, [x], [LayerInfo("act", 5, 8, 24, False)],
                     defer_elements=defer_elements)
    with torch.no_grad():
        h = np.concatenate([model.hidden(x).numpy(), model.hidden(x * 0.5).numpy()], axis=1)
    np.testing.assert_array_equal(profile.colmax["act"][0], np.abs(h[0]).max(axis=0))
    np.testing.assert_array_equal(profile.histogram["act"][0],
                                  brute_counts(HistogramBins.default(), h))


def test_pending_captures_are_dropped_when_the_run_fails():
    model = ToyDenoiser().eval()
    recorder = ProfileRecorder(model, toy_layer_infos(5), iterations=1)
    with pytest.raises(RuntimeError, match="stop"), torch.no_grad(), recorder:
        recorder.start_iteration(0)
        model.functional.fc2.register_forward_hook(lambda *_: (_ for _ in ()).throw(
            RuntimeError("stop")))
        model(torch.randn(1, 5, 8))
    assert not recorder._pending


def test_activation_modules_get_a_single_hook_when_gelu_is_not_patched():
    from colsim.profiler.capture import ActivationHooks

    model = ToyDenoiser()
    modules = [model.get_submodule(name) for name in TOY_LAYERS[:3]]
    with ActivationHooks(model, lambda name, h: None, TOY_LAYERS[:3]):
        assert [len(forward_pre_hooks(m)) for m in modules] == [0, 0, 0]
        assert [len(forward_hooks(m)) for m in modules] == [1, 1, 1]
    with ActivationHooks(model, lambda name, h: None, TOY_LAYERS):  # with a scope
        assert [len(forward_pre_hooks(m)) for m in modules] == [1, 1, 1]
    assert [len(forward_hooks(m)) + len(forward_pre_hooks(m)) for m in modules] == [0, 0, 0]
