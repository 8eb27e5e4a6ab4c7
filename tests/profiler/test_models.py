"""The profiler on the project's real denoisers, against the raw activations of the same run."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.models.driver import build_denoiser
from colsim.profiler.capture import ActivationHooks
from colsim.profiler.run import profile_denoiser


@pytest.mark.parametrize(
    ("name", "guidance"), [("tiny-dit", 4.0), ("sd-v1.4", 7.5), ("tiny-motion", None)]
)
def test_profile_of_a_denoising_run_equals_its_raw_activations(name, guidance):
    denoiser = build_denoiser(name, size="tiny", seed=0)
    raw: dict[str, list[np.ndarray]] = {n: [] for n in denoiser.ffn_layer_names}

    def keep(layer, h):
        raw[layer].append(np.abs(h.detach().reshape(-1, h.shape[-1]).numpy()))

    steps = 3
    with ActivationHooks(denoiser.module, keep, denoiser.ffn_layer_names):
        profile = profile_denoiser(denoiser, steps=steps, seed=5, guidance_scale=guidance,
                                   progress=False)
    batch = 2 if guidance is not None else 1
    assert profile.meta["batch"] == batch and profile.layer_names == denoiser.ffn_layer_names
    for layer in denoiser.spec.layers:
        calls = raw[layer.name]
        assert len(calls) == steps  # one batched forward per iteration
        for t, magnitudes in enumerate(calls):
            assert magnitudes.shape == (batch * layer.tokens, layer.hidden)
            np.testing.assert_array_equal(profile.colmax[layer.name][t], magnitudes.max(axis=0))
            index = np.searchsorted(profile.bin_edges, magnitudes.ravel(), side="left")
            expected = np.bincount(index, minlength=len(profile.bin_edges) + 1)
            np.testing.assert_array_equal(profile.histogram[layer.name][t], expected)
