"""Fixtures shared by the profiler's tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colsim.profiler.capture import ActivationHooks
from colsim.profiler.recorder import ProfileRecorder
from colsim.testing.toy_denoiser import TOY_LAYERS, ToyDenoiser, toy_layer_infos

ITERATIONS, TOKENS, BATCH = 5, 3, 2


@pytest.fixture(scope="module")
def captured():
    """Profile a toy model over 5 'iterations' and keep every raw h (rows, N) beside it."""
    model = ToyDenoiser(seed=3).eval()
    raw: dict[str, list[np.ndarray]] = {name: [] for name in TOY_LAYERS}

    def keep(name, h):
        raw[name].append(h.detach().reshape(-1, h.shape[-1]).numpy().copy())

    generator = torch.Generator().manual_seed(7)
    recorder = ProfileRecorder(model, toy_layer_infos(TOKENS), iterations=ITERATIONS,
                               capture_inputs=[("mlp.act", 2)])
    with torch.no_grad(), ActivationHooks(model, keep, TOY_LAYERS), recorder:
        for t in range(ITERATIONS):
            recorder.start_iteration(t)
            x = torch.randn(BATCH, TOKENS, 8, generator=generator) * (1 + 0.1 * t)
            model(x)
    profile = recorder.profile({"model": "toy", "seed": 7})
    return profile, {name: np.stack(v) for name, v in raw.items()}, model
