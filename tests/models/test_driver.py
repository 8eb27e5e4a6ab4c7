"""Denoising driver: seeds, iteration callbacks, CFG batch order, and the DDIM update itself."""

from __future__ import annotations

import pytest
import torch

from colsim.errors import ColsimError
from colsim.models.driver import CFG_BATCH_ORDER, build_denoiser, make_scheduler, run_denoising


@pytest.fixture(scope="module")
def mdm():
    return build_denoiser("mdm", size="tiny", seed=1)


def test_same_seed_same_sample_and_different_seed_differs(mdm) -> None:
    first = run_denoising(mdm, steps=4, seed=5)
    assert torch.equal(first, run_denoising(mdm, steps=4, seed=5))
    assert not torch.allclose(first, run_denoising(mdm, steps=4, seed=6))
    assert first.shape == (1, *mdm.sample_shape)
    assert torch.isfinite(first).all()


@pytest.mark.parametrize("guidance_scale", [None, 3.0])
def test_on_iteration_runs_right_before_each_single_forward(mdm, guidance_scale) -> None:
    events: list[tuple[str, int]] = []
    hook = mdm.module.register_forward_pre_hook(
        lambda _m, args: events.append(("forward", args[0].shape[0]))
    )
    try:
        run_denoising(mdm, steps=5, guidance_scale=guidance_scale,
                      on_iteration=lambda i: events.append(("iteration", i)))
    finally:
        hook.remove()
    batch = 1 if guidance_scale is None else 2
    expected = [e for i in range(5) for e in (("iteration", i), ("forward", batch))]
    assert events == expected


def test_cfg_batch_order_is_unconditional_then_conditional(mdm) -> None:
    """Guidance 1 keeps only the conditional half; 0 only the unconditional half."""
    assert CFG_BATCH_ORDER == ("unconditional", "conditional")
    plain = run_denoising(mdm, steps=4, seed=2)
    assert torch.allclose(run_denoising(mdm, steps=4, seed=2, guidance_scale=1.0), plain,
                          atol=1e-5)
    conditions = []
    hook = mdm.module.register_forward_pre_hook(lambda _m, args: conditions.append(args[2]))
    try:
        run_denoising(mdm, steps=1, seed=2, guidance_scale=2.0)
    finally:
        hook.remove()
    (condition,) = conditions
    assert torch.count_nonzero(condition[0]) == 0  # unconditional embedding is zeros
    assert torch.count_nonzero(condition[1]) > 0


def test_ddim_update_matches_a_hand_written_loop(mdm) -> None:
    """Recompute deterministic DDIM (η = 0) from the alphas, independent of diffusers' step."""
    steps, seed = 6, 11
    result = run_denoising(mdm, steps=steps, seed=seed)
    scheduler = make_scheduler("ddim", mdm.schedule)
    scheduler.set_timesteps(steps)
    alphas = scheduler.alphas_cumprod.double()
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn((1, *mdm.sample_shape), generator=generator)
    condition, _ = mdm.conditions(generator)
    stride = mdm.schedule.num_train_timesteps // steps
    x = sample.double()
    with torch.no_grad():
        for t in scheduler.timesteps.tolist():
            eps = mdm.predict_noise(x.float(), torch.tensor([t]), condition).double()
            a_t = alphas[t]
            a_prev = alphas[t - stride] if t - stride >= 0 else torch.tensor(1.0).double()
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    assert torch.allclose(result.double(), x, atol=1e-4, rtol=1e-4)


def test_ddpm_scheduler_is_seeded(mdm) -> None:
    first = run_denoising(mdm, steps=3, seed=1, scheduler="ddpm")
    assert torch.equal(first, run_denoising(mdm, steps=3, seed=1, scheduler="ddpm"))
    assert not torch.allclose(first, run_denoising(mdm, steps=3, seed=1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, r"`steps` must be an integer in \[1, 1000\], not 0"),
        ({"steps": 2.5}, r"`steps` must be an integer in \[1, 1000\], not 2.5"),
        ({"guidance_scale": -1.0}, "`guidance_scale` must be a finite non-negative number"),
        ({"guidance_scale": float("nan")}, "`guidance_scale` must be a finite non-negative"),
        ({"scheduler": "euler"}, "`scheduler` must be one of 'ddim', 'ddpm', not 'euler'"),
    ],
)
def test_bad_arguments_are_rejected(mdm, kwargs, message) -> None:
    with pytest.raises(ColsimError, match=message):
        run_denoising(mdm, **kwargs)


@pytest.mark.parametrize("name", ["dit-xl-2", "sd-v1.4", "edge"])
def test_every_family_denoises_with_guidance(name: str) -> None:
    denoiser = build_denoiser(name, size="tiny")
    calls: list[int] = []
    out = run_denoising(denoiser, steps=2, guidance_scale=4.0, on_iteration=calls.append)
    assert calls == [0, 1]
    assert out.shape == (1, *denoiser.sample_shape)
    assert torch.isfinite(out).all()
