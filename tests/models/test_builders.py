"""Builders: every spec layer is an activation module whose measured shapes match the spec.

Full-size models are built on the meta device (no memory) and run forward on meta tensors, so
the token counts M are measured from the real module graph, not recomputed from the config.
"""

from __future__ import annotations

import math

import pytest
import torch
from diffusers.models.activations import GEGLU, GELU

from colsim.errors import ColsimError
from colsim.models.driver import Denoiser, build_denoiser
from colsim.models.registry import workload_names

ACTIVATIONS = (GELU, GEGLU, torch.nn.GELU)


def first_projection(module: torch.nn.Module, name: str) -> torch.nn.Linear:
    """Return the Linear computing X·W1 + b1 for the activation module ``name``."""
    activation = module.get_submodule(name)
    if isinstance(activation, (GELU, GEGLU)):
        return activation.proj
    return module.get_submodule(name.rsplit(".", 1)[0]).w1


def forward_trace(denoiser: Denoiser, device: str) -> list[tuple[str, tuple[int, ...]]]:
    """Run one conditional forward of batch 2; return (activation module, output shape)."""
    trace: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        mod.register_forward_hook(lambda _m, _i, out, n=name: trace.append((n, tuple(out.shape))))
        for name, mod in denoiser.module.named_modules()
        if isinstance(mod, ACTIVATIONS)
    ]
    condition, _ = denoiser.conditions(torch.Generator().manual_seed(0))
    condition = torch.cat([condition, condition]).to(device)
    sample = torch.zeros((2, *denoiser.sample_shape), device=device)
    timestep = torch.full((2,), 10, dtype=torch.long, device=device)
    with torch.no_grad():
        out = denoiser.predict_noise(sample, timestep, condition)
    for handle in handles:
        handle.remove()
    assert tuple(out.shape) == (2, *denoiser.sample_shape)
    return trace


def check_against_spec(denoiser: Denoiser, device: str) -> None:
    spec = denoiser.spec
    assert denoiser.ffn_layer_names == spec.layer_names
    for layer in spec.layers:
        assert isinstance(denoiser.module.get_submodule(layer.name), ACTIVATIONS)
        proj = first_projection(denoiser.module, layer.name)
        assert (proj.in_features, proj.out_features) == (layer.d_model, layer.w1_columns)
    trace = forward_trace(denoiser, device)
    assert [name for name, _ in trace] == list(spec.layer_names)
    for (_name, shape), layer in zip(trace, spec.layers, strict=True):
        assert shape[-1] == layer.hidden
        assert math.prod(shape[:-1]) == 2 * layer.tokens  # batch of 2 samples


@pytest.mark.parametrize("name", workload_names())
def test_full_size_module_matches_spec_on_meta(name: str) -> None:
    denoiser = build_denoiser(name, size="full", device="meta")
    assert next(denoiser.module.parameters()).is_meta
    check_against_spec(denoiser, "meta")


@pytest.mark.parametrize("name", workload_names())
def test_tiny_module_matches_spec(name: str) -> None:
    check_against_spec(build_denoiser(name, size="tiny"), "cpu")


def test_random_weights_follow_the_seed() -> None:
    first = build_denoiser("mdm", seed=3).module.state_dict()
    again = build_denoiser("mdm", seed=3).module.state_dict()
    other = build_denoiser("mdm", seed=4).module.state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_building_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_denoiser("mld", seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_bad_seed_and_meta_weights_are_rejected(tmp_path) -> None:
    with pytest.raises(ColsimError, match="`seed` must be an integer, not '1'"):
        build_denoiser("mdm", seed="1")
    with pytest.raises(ColsimError, match="`weights` cannot be loaded on the meta device"):
        build_denoiser("mdm", weights=str(tmp_path), device="meta")
