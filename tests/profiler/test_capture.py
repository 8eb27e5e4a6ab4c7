"""Activation capture: hooks on activation modules, the F.gelu patch, clean removal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colsim.compat import forward_hooks, forward_pre_hooks, self_attention_block
from colsim.errors import ColsimError
from colsim.profiler.capture import ActivationHooks, discover_ffn_layers
from colsim.profiler.ffn_linears import locate_ffn_linears
from colsim.profiler.profile import LayerInfo
from colsim.testing.toy_denoiser import (
    TOY_LAYERS,
    ToyDenoiser,
    toy_layer_infos,
)


def collect(model: nn.Module, x: torch.Tensor, layers=None, **kwargs) -> dict[str, list]:
    seen: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad(), ActivationHooks(
        model, lambda name, h: seen.setdefault(name, []).append(h.clone()), layers
    ):
        model(x, **kwargs)
    return seen


def test_every_flavour_is_captured_once_and_equals_recomputed_h():
    model = ToyDenoiser()
    x = torch.randn(2, 5, 8)
    seen = collect(model, x, TOY_LAYERS)
    with torch.no_grad():
        expected = model.hidden_activations(x)
    assert list(seen) == list(TOY_LAYERS)
    for name in TOY_LAYERS:
        assert len(seen[name]) == 1, name  # GEGLU's inner F.gelu is not captured again
        torch.testing.assert_close(seen[name][0], expected[name], rtol=1e-6, atol=1e-6)


def test_discovery_finds_activation_modules_in_order():
    assert discover_ffn_layers(ToyDenoiser()) == list(TOY_LAYERS[:3])


def test_everything_is_restored_after_an_exception():
    model = ToyDenoiser()
    original = F.gelu
    fastpath = torch.backends.mha.get_fastpath_enabled()

    def explode(name, h):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), ActivationHooks(model, explode, TOY_LAYERS):
        model(torch.randn(1, 3, 8))
    assert F.gelu is original
    assert torch.backends.mha.get_fastpath_enabled() == fastpath
    for module in model.modules():
        assert not forward_hooks(module) and not forward_pre_hooks(module)
    seen = collect(model, torch.randn(1, 3, 8), TOY_LAYERS)  # and works again afterwards
    assert all(len(v) == 1 for v in seen.values())


def test_returned_tensor_replaces_h():
    model = ToyDenoiser()
    x = torch.randn(1, 4, 8)

    def zero_geglu(name, h):
        return torch.zeros_like(h) if name in (TOY_LAYERS[0], TOY_LAYERS[3]) else None

    with torch.no_grad():
        with ActivationHooks(model, zero_geglu, TOY_LAYERS):
            out = model(x)
        y = x + model.geglu.net[2](torch.zeros(1, 4, 32))  # h = 0 leaves only b2
        y = y + model.gelu(y)
        y = y + model.mlp(y)
        y = y + model.functional.fc2(torch.zeros(1, 4, 40))
    torch.testing.assert_close(out, y)


def test_transformer_encoder_layer_functional_gelu_is_captured():
    torch.manual_seed(1)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, activation="gelu",
                                       batch_first=True).eval()
    x = torch.randn(2, 3, 8)
    seen = collect(layer, x, [""])
    with torch.no_grad():
        attended = layer.norm1(x + self_attention_block(layer, x))
        expected = F.gelu(layer.linear1(attended))
    assert len(seen[""]) == 1
    torch.testing.assert_close(seen[""][0], expected)
    assert layer.activation is F.gelu


def test_unknown_layer_name_is_a_clear_error():
    with pytest.raises(ColsimError, match="FFN layer 'nope' is not a module of the model"):
        ActivationHooks(ToyDenoiser(), lambda n, h: None, ["nope"])


def test_locate_ffn_linears_for_each_flavour():
    model = ToyDenoiser()
    infos = toy_layer_infos(5)
    expected = [
        (model.geglu.net[0].proj, model.geglu.net[2]),
        (model.gelu.net[0].proj, model.gelu.net[2]),
        (model.mlp.fc1, model.mlp.fc2),
        (model.functional.fc1, model.functional.fc2),
    ]
    for info, (first, second) in zip(infos, expected, strict=True):
        found = locate_ffn_linears(model, info)
        assert found[0] is first and found[1] is second, info.name
    assert np.isfinite(model.geglu.net[0].proj.weight.detach().numpy()).all()


def test_tiny_diffusers_dit_capture_matches_recomputed_ffn():
    from diffusers import DiTTransformer2DModel

    torch.manual_seed(0)
    dit = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4,
                                out_channels=8, num_layers=2, sample_size=8, patch_size=2,
                                num_embeds_ada_norm=10).eval()
    names = discover_ffn_layers(dit)
    assert names == ["transformer_blocks.0.ff.net.0", "transformer_blocks.1.ff.net.0"]
    inputs: dict[str, torch.Tensor] = {}
    handles = [dit.get_submodule(n).register_forward_pre_hook(
        lambda m, args, n=n: inputs.__setitem__(n, args[0])) for n in names]
    x = torch.randn(2, 4, 8, 8)
    condition = {"timestep": torch.tensor([10, 500]), "class_labels": torch.tensor([1, 3])}
    try:
        seen = collect(dit, x, names, **condition)
        seen_again = collect(dit, x, **condition)  # default discovery
    finally:
        for handle in handles:
            handle.remove()
    for name in names:
        act = dit.get_submodule(name)
        with torch.no_grad():
            expected = F.gelu(act.proj(inputs[name]), approximate="tanh")  # last call's input
        assert seen[name][0].shape == (2, 16, 64)  # batch 2, M = 16 patches, N = 4·16
        torch.testing.assert_close(seen[name][0], expected)
        torch.testing.assert_close(seen_again[name][0], expected)


def test_recorder_rejects_runs_that_do_not_match_the_spec():
    from colsim.profiler.recorder import ProfileRecorder

    model = ToyDenoiser()
    x = torch.randn(1, 5, 8)
    wrong_width = toy_layer_infos(5)
    wrong_width[1] = LayerInfo(TOY_LAYERS[1], 5, 8, 17, False)
    with ProfileRecorder(model, wrong_width, iterations=1) as recorder, torch.no_grad():
        recorder.start_iteration(0)
        with pytest.raises(ColsimError, match=r"'gelu\.net\.0' produced 16 columns, the spec"):
            model(x)
    with ProfileRecorder(model, toy_layer_infos(3), iterations=1) as recorder, torch.no_grad():
        recorder.start_iteration(0)
        with pytest.raises(ColsimError, match="produced 5 rows, not a multiple of its 3 tokens"):
            model(x)
    with ProfileRecorder(model, toy_layer_infos(5), iterations=2) as recorder, torch.no_grad():
        with pytest.raises(ColsimError, match="before the first denoising iteration"):
            model(x)
        recorder.start_iteration(0)
        model(x)
    with pytest.raises(ColsimError, match="produced no activation at iteration 1"):
        recorder.profile({})
    with pytest.raises(ColsimError, match=r"iteration 2 is outside \[0, 2\)"):
        recorder.start_iteration(2)
    immediate = ProfileRecorder(model, toy_layer_infos(5), iterations=1, defer_elements=0)
    with immediate as recorder, torch.no_grad():
        recorder.start_iteration(0)
        with pytest.raises(ColsimError, match="non-finite activation"):
            model(torch.full((1, 5, 8), float("nan")))  # reduced inside the hook
    # Deferred (small) captures: reported when they are reduced, at the latest on leaving.
    deferred = ProfileRecorder(model, toy_layer_infos(5), iterations=1)
    non_finite = r"'geglu\.net\.0' produced a non-finite activation at step 0"
    with pytest.raises(ColsimError, match=non_finite), deferred as recorder, torch.no_grad():
        recorder.start_iteration(0)
        model(torch.full((1, 5, 8), float("nan")))
