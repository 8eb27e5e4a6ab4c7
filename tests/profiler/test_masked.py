"""Masked execution (FFN-Reuse and zeroing) and the offline quality metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention import FeedForward

from colsim.errors import ColsimError
from colsim.masks import MaskSet
from colsim.models.driver import build_denoiser, run_denoising
from colsim.profiler import quality
from colsim.profiler.capture import ActivationHooks
from colsim.profiler.masked import ColumnMasking, masked_accuracy, run_masked


@pytest.mark.parametrize("mode", ["reuse", "zero"])
def test_column_masking_matches_manual_ffn(mode):
    torch.manual_seed(0)
    ff = FeedForward(6, mult=2, activation_fn="geglu").eval()
    rng = np.random.default_rng(1)
    hot = rng.random((4, 12)) > 0.5
    masking = ColumnMasking(MaskSet("toy", ("net.0",), {"net.0": hot}), mode)
    inputs = [torch.randn(2, 3, 6) for _ in range(4)]
    with torch.no_grad():
        dense_h = []
        for x in inputs:
            value, gate = ff.net[0].proj(x).chunk(2, dim=-1)
            dense_h.append(value * F.gelu(gate))
        with ActivationHooks(ff, masking, ["net.0"]):
            for t, x in enumerate(inputs):
                masking.start_iteration(t)
                got = ff(x)
                keep = torch.from_numpy(hot[t])
                if t == 0:
                    h = dense_h[0]
                elif mode == "zero":
                    h = torch.where(keep, dense_h[t], torch.zeros_like(dense_h[t]))
                else:
                    h = torch.where(keep, dense_h[t], dense_h[0])
                torch.testing.assert_close(got, ff.net[2](h))


@pytest.fixture(scope="module")
def motion():
    return build_denoiser("mdm", size="tiny", seed=0)


def uniform_masks(denoiser, steps, value):
    hot = {layer.name: np.full((steps, layer.hidden), value) for layer in denoiser.spec.layers}
    return MaskSet(denoiser.name, denoiser.spec.layer_names, hot)


def test_all_hot_masks_reproduce_the_dense_run(motion):
    dense = run_denoising(motion, steps=4, seed=3, guidance_scale=2.0)
    for mode in ("reuse", "zero"):
        masked = run_masked(motion, uniform_masks(motion, 4, True), mode=mode, steps=4, seed=3,
                            guidance_scale=2.0)
        torch.testing.assert_close(masked, dense, rtol=0, atol=0)
    cold = run_masked(motion, uniform_masks(motion, 4, False), mode="zero", steps=4, seed=3,
                      guidance_scale=2.0)
    assert not torch.equal(cold, dense)


def test_masked_accuracy_reports_the_gap(motion):
    result = masked_accuracy(motion, uniform_masks(motion, 3, False), mode="zero", steps=3,
                             joint_dims=1)
    assert result["mse"] > 0 and result["mpjpe"] > 0 and result["hot_share_iterations_1plus"] == 0
    same = masked_accuracy(motion, uniform_masks(motion, 3, True), steps=3)
    assert same["mse"] == 0 and "mpjpe" not in same


def test_mask_set_must_fit_the_denoiser(motion):
    masks = uniform_masks(motion, 4, True)
    with pytest.raises(ColsimError, match="the mask set has 4 iterations, the run 5 steps"):
        run_masked(motion, masks, steps=5)
    name = motion.spec.layer_names[0]
    narrow = MaskSet("x", (name,), {name: np.ones((4, 3), bool)})
    with pytest.raises(ColsimError, match="has 3 columns, the layer 64"):
        run_masked(motion, narrow, steps=4)
    other = MaskSet("x", ("elsewhere",), {"elsewhere": np.ones((4, 64), bool)})
    with pytest.raises(ColsimError, match="the mask set has no mask for FFN layer"):
        run_masked(motion, other, steps=4)
    with pytest.raises(ColsimError, match="`mode` must be one of 'reuse', 'zero', not 'skip'"):
        ColumnMasking(masks, "skip")


def brute_ssim(x: np.ndarray, y: np.ndarray, r: float) -> float:
    """SSIM with an explicit window sum at every pixel (symmetric padding), data range r."""
    radius = int(quality.SSIM_TRUNCATE * quality.SSIM_SIGMA + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel_1d = np.exp(-0.5 * (offsets / quality.SSIM_SIGMA) ** 2)
    kernel = np.outer(kernel_1d, kernel_1d) / kernel_1d.sum() ** 2
    c1, c2 = (0.01 * r) ** 2, (0.03 * r) ** 2
    px, py = np.pad(x, radius, mode="symmetric"), np.pad(y, radius, mode="symmetric")
    scores = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            wx = px[i : i + 2 * radius + 1, j : j + 2 * radius + 1]
            wy = py[i : i + 2 * radius + 1, j : j + 2 * radius + 1]
            mx, my = (kernel * wx).sum(), (kernel * wy).sum()
            vx = (kernel * wx * wx).sum() - mx * mx
            vy = (kernel * wy * wy).sum() - my * my
            cxy = (kernel * wx * wy).sum() - mx * my
            scores.append((2 * mx * my + c1) * (2 * cxy + c2)
                          / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return float(np.mean(scores))


@pytest.mark.parametrize("seed", range(3))
def test_quality_metrics_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 9, 13))
    y = x + 0.3 * rng.standard_normal(x.shape)
    r = x.max() - x.min()
    expected_ssim = np.mean([brute_ssim(a, b, r) for a, b in zip(x, y, strict=True)])
    assert quality.ssim(x, y) == pytest.approx(expected_ssim, rel=1e-9)
    assert quality.ssim(x, x) == pytest.approx(1.0)
    mse = np.mean((x - y) ** 2)
    assert quality.mse(x, y) == pytest.approx(mse)
    assert quality.psnr(x, y) == pytest.approx(10 * math.log10((x.max() - x.min()) ** 2 / mse))
    assert quality.psnr(x, x) == math.inf
    motion_a, motion_b = rng.standard_normal((5, 12)), rng.standard_normal((5, 12))
    distances = [math.dist(motion_a[f, 3 * j : 3 * j + 3], motion_b[f, 3 * j : 3 * j + 3])
                 for f in range(5) for j in range(4)]
    assert quality.mpjpe(motion_a, motion_b, 3) == pytest.approx(np.mean(distances))


def test_quality_errors():
    with pytest.raises(ColsimError, match="samples differ in shape"):
        quality.mse(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ColsimError, match="`joint_dims` 4 does not divide the 6 features"):
        quality.mpjpe(np.zeros((2, 6)), np.zeros((2, 6)), 4)
