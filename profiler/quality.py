"""Offline output-quality metrics comparing a masked sample with the dense reference.

Definitions: MSE is the mean squared difference; PSNR is ``10·log10(R² / MSE)`` with the
data range R of the reference (max - min); SSIM follows Wang et al. (2004) with an 11-tap
Gaussian window of σ = 1.5, K1 = 0.01, K2 = 0.03 and the same R, computed on every 2-D
plane (the last two axes) and averaged; MPJPE is the mean Euclidean distance per joint
after splitting the last axis into joints of ``joint_dims`` coordinates.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from colsim.errors import ColsimError

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # 11-tap window: radius int(3.5·1.5 + 0.5) = 5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _same_shape(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    if reference.shape != test.shape:
        raise ColsimError(f"samples differ in shape: {reference.shape} vs {test.shape}")
    return reference, test


def data_range(reference: np.ndarray) -> float:
    """Return max - min of the reference (1 for a constant reference)."""
    spread = float(np.max(reference) - np.min(reference))
    return spread if spread > 0 else 1.0


def mse(reference: np.ndarray, test: np.ndarray) -> float:
    """Return the mean squared error."""
    reference, test = _same_shape(reference, test)
    return float(np.mean((reference - test) ** 2))


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Return the PSNR in dB (``inf`` for identical samples)."""
    error = mse(reference, test)
    return math.inf if error == 0 else 10 * math.log10(data_range(reference) ** 2 / error)


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Return the mean SSIM over the 2-D planes formed by the last two axes."""
    reference, test = _same_shape(reference, test)
    if reference.ndim < 2:
        raise ColsimError(f"SSIM needs at least 2-D samples, not shape {reference.shape}")
    c1 = (SSIM_K1 * data_range(reference)) ** 2
    c2 = (SSIM_K2 * data_range(reference)) ** 2
    planes_x = reference.reshape(-1, *reference.shape[-2:])
    planes_y = test.reshape(-1, *test.shape[-2:])
    scores = []
    for x, y in zip(planes_x, planes_y, strict=True):
        def blur(a: np.ndarray) -> np.ndarray:
            return gaussian_filter(a, SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")

        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        numerator = (2 * mx * my + c1) * (2 * cxy + c2)
        denominator = (mx * mx + my * my + c1) * (vx + vy + c2)
        scores.append(np.mean(numerator / denominator))
    return float(np.mean(scores))


def mpjpe(reference: np.ndarray, test: np.ndarray, joint_dims: int = 3) -> float:
    """Return the mean per-joint position error; the last axis holds joints × ``joint_dims``."""
    reference, test = _same_shape(reference, test)
    if joint_dims < 1 or reference.shape[-1] % joint_dims:
        raise ColsimError(
            f"`joint_dims` {joint_dims} does not divide the {reference.shape[-1]} features"
        )
    difference = (reference - test).reshape(*reference.shape[:-1], -1, joint_dims)
    return float(np.mean(np.linalg.norm(difference, axis=-1)))
