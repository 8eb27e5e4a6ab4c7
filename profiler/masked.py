"""Masked execution for the accuracy sweep: rerun a denoiser with cold columns skipped.

Two semantics, both keeping iteration 0 dense (it fixes the masks under FFN-Reuse):

* ``reuse`` (FFN-Reuse, EXION HPCA 2025): in iteration ``t >= 1`` a cold column ``n`` of
  ``h`` takes its iteration-0 value, so ``h_t·W2`` equals the hot columns' fresh
  contribution plus the cold columns' contribution reused from the dense iteration;
* ``zero``: cold columns of ``h`` are zeroed in iterations ``t >= 1`` (plain skipping).

The mask of layer ``L`` at iteration ``t`` is ``masks.hot[L][t]``, applied to every row of the
batch (both CFG halves). The run uses the same seed as the dense one, so the only difference
between the two samples is the masking.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from colsim.errors import ColsimError
from colsim.masks import MaskSet
from colsim.models.driver import Denoiser, run_denoising
from colsim.profiler import feature_metrics, quality
from colsim.profiler.capture import ActivationHooks

MASK_MODES = ("reuse", "zero")
IMAGE_LIKE = ("image", "video", "audio")
MOTION_LIKE = ("motion", "dance")
NetworkArgument = torch.nn.Module | str | os.PathLike | None


class ColumnMasking:
    """Activation callback applying ``masks`` with ``mode`` semantics (see module doc)."""

    def __init__(self, masks: MaskSet, mode: str) -> None:
        if mode not in MASK_MODES:
            raise ColsimError(f"`mode` must be one of 'reuse', 'zero', not {mode!r}")
        self.mode = mode
        self.hot = {name: torch.from_numpy(masks.hot[name]) for name in masks.layers}
        self.iteration = 0
        self.dense: dict[str, torch.Tensor] = {}

    def start_iteration(self, iteration: int) -> None:
        """Apply the masks of ``iteration`` to the following activations."""
        self.iteration = iteration

    def __call__(self, name: str, h: torch.Tensor) -> torch.Tensor | None:
        if self.iteration == 0:
            if self.mode == "reuse":
                self.dense[name] = h.detach().clone()
            return None
        hot = self.hot[name][self.iteration].to(h.device)
        if self.mode == "zero":
            return h * hot.to(h.dtype)
        return torch.where(hot, h, self.dense[name])


def check_masks(denoiser: Denoiser, masks: MaskSet, steps: int) -> None:
    """Raise a ColsimError unless ``masks`` cover every FFN layer of ``denoiser`` for ``steps``."""
    for layer in denoiser.spec.layers:
        if layer.name not in masks.hot:
            raise ColsimError(f"the mask set has no mask for FFN layer {layer.name!r}")
        shape = masks.hot[layer.name].shape
        if shape[1] != layer.hidden:
            raise ColsimError(
                f"mask of layer {layer.name!r} has {shape[1]} columns, the layer {layer.hidden}"
            )
    if masks.iterations != steps:
        raise ColsimError(f"the mask set has {masks.iterations} iterations, the run {steps} steps")


def run_masked(
    denoiser: Denoiser, masks: MaskSet, *, mode: str = "reuse", steps: int = 50, seed: int = 0,
    guidance_scale: float | None = None, scheduler: str = "ddim",
) -> torch.Tensor:
    """Denoise with cold columns reused (or zeroed) and return the final sample."""
    check_masks(denoiser, masks, steps)
    masking = ColumnMasking(masks, mode)
    with ActivationHooks(denoiser.module, masking, denoiser.ffn_layer_names):
        return run_denoising(
            denoiser, steps=steps, seed=seed, guidance_scale=guidance_scale,
            on_iteration=masking.start_iteration, scheduler=scheduler,
        )


def compare_samples(
    reference: np.ndarray, test: np.ndarray, modality: str, joint_dims: int | None = None
) -> dict[str, float]:
    """Return the offline quality metrics of ``modality`` for ``test`` against ``reference``.

    Images, video and audio spectrograms get MSE, PSNR and SSIM; motion and dance get MSE
    and, when ``joint_dims`` is given (the features are joint coordinates, e.g. 2 for
    tiny-motion's 2-D points), MPJPE. MDM/MLD/EDGE samples are feature vectors or latents,
    not joint positions, so they get MPJPE only after the user recovers joints.
    """
    result = {"mse": quality.mse(reference, test)}
    if modality in IMAGE_LIKE:
        result |= {"psnr": quality.psnr(reference, test), "ssim": quality.ssim(reference, test)}
    elif modality in MOTION_LIKE:
        if joint_dims is not None:
            result["mpjpe"] = quality.mpjpe(reference, test, joint_dims)
    else:
        raise ColsimError(f"no quality metrics for modality {modality!r}")
    return result


def masked_accuracy(
    denoiser: Denoiser, masks: MaskSet, *, mode: str = "reuse", steps: int = 50, seed: int = 0,
    guidance_scale: float | None = None, scheduler: str = "ddim", joint_dims: int | None = None,
    samples: int = 1, fid_network: NetworkArgument = None, lpips_network: NetworkArgument = None,
) -> dict[str, Any]:
    """Run dense and masked with the same seeds; return the gap and the mask hot share.

    ``samples`` pairs are denoised with seeds ``seed, seed + 1, ...`` (one sample per run);
    the per-pair metrics of :func:`compare_samples` are averaged over them, and the result
    gains ``"samples"`` when ``samples > 1``. ``fid_network`` / ``lpips_network`` (TorchScript
    modules or file paths, see :mod:`colsim.profiler.feature_metrics`) add
    ``"frechet_distance"`` (needs ``samples >= 2``) and ``"lpips_style"`` computed on the
    stacked ``(samples, *sample_shape)`` batches. Without them the result is as before.
    """
    if samples < 1:
        raise ColsimError(f"`samples` must be at least 1, not {samples}")
    if fid_network is not None and samples < 2:
        raise ColsimError(f"the Fréchet distance needs at least 2 samples (`samples`), "
                          f"got {samples}")
    fid_net = _network(fid_network)
    lpips_net = _network(lpips_network)
    options = {"steps": steps, "seed": seed, "guidance_scale": guidance_scale,
               "scheduler": scheduler}
    check_masks(denoiser, masks, steps)
    dense, masked = [], []
    for index in range(samples):
        run = options | {"seed": seed + index}
        dense.append(run_denoising(denoiser, **run).float().cpu().numpy()[0])
        masked.append(run_masked(denoiser, masks, mode=mode, **run).float().cpu().numpy()[0])
    pairs = [compare_samples(d, m, denoiser.spec.modality, joint_dims)
             for d, m in zip(dense, masked, strict=True)]
    metrics = {key: float(np.mean([pair[key] for pair in pairs])) for key in pairs[0]}
    start = 1 if steps > 1 else 0
    hot_share = float(np.mean([masks.hot[n][start:].mean() for n in denoiser.ffn_layer_names]))
    result = {
        "model": denoiser.name, "mode": mode, **options, "hot_share_iterations_1plus": hot_share,
        **metrics,
    }
    if samples > 1:
        result["samples"] = samples
    if fid_net is not None:
        result["frechet_distance"] = feature_metrics.network_frechet_distance(
            fid_net, np.stack(dense), np.stack(masked))
    if lpips_net is not None:
        result["lpips_style"] = feature_metrics.lpips_style(
            lpips_net, np.stack(dense), np.stack(masked))
    return result


def _network(network: NetworkArgument) -> torch.nn.Module | None:
    if network is None or isinstance(network, torch.nn.Module):
        return network
    return feature_metrics.load_network(network)
