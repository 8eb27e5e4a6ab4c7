"""FID- and LPIPS-style metrics computed with networks the user supplies as TorchScript files.

No weights are bundled or downloaded: the user exports their own network (e.g. an InceptionV3
for FID, a VGG/AlexNet trunk for LPIPS) with ``torch.jit.save`` and passes the file. colsim
calls it on CPU with the denoiser's final samples stacked into one float32 batch of shape
``(N, *sample_shape)`` (``N×C×H×W`` for image models) in the denoiser's own output range
(roughly [-1, 1] for the bundled models); any resizing, range mapping or normalisation the
network expects must be baked into the exported module.

* Fréchet distance: the feature network maps the batch to ``N×F`` features (trailing axes
  after the first are flattened). With the Gaussian fits (mean, unbiased covariance) of the
  dense and the masked feature sets it is ``||μ1 - μ2||² + Tr(S1 + S2 - 2·sqrtm(S1·S2))``,
  with ``scipy.linalg.sqrtm``. Rounding can leave sqrtm a complex result: imaginary parts
  up to 1e-3 × max(1, largest real magnitude) are discarded, larger ones raise. A non-finite
  sqrtm is retried with 1e-6·I added to both covariances (as pytorch-fid does). Tiny
  negative totals from rounding are clamped to 0. With few samples (N ≤ F) the covariances
  are singular and the value is a noisy, biased estimate; it is FID only with an InceptionV3.
* LPIPS-style distance: the LPIPS network maps a batch to a list/tuple of feature maps
  ``N×C_l×H_l×W_l``. Per layer the features are unit-normalised along channels (eps 1e-10),
  squared differences are averaged over channels and space; the layers are averaged; the
  result is the mean over sample pairs. This is LPIPS without the learned linear channel
  weights (uniform weights) unless the exported module applies them itself.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.linalg import sqrtm

from colsim.errors import ColsimError

IMAGINARY_TOLERANCE = 1e-3
SQRTM_OFFSET = 1e-6
LPIPS_EPS = 1e-10


def load_network(path: str | os.PathLike) -> torch.nn.Module:
    """Load a TorchScript module from ``path`` onto the CPU in eval mode.

    Raises a one-line ColsimError naming ``path`` when the file is missing or unloadable.
    """
    path = Path(path)
    if not path.is_file():
        raise ColsimError(f"network file {path} does not exist")
    try:
        with warnings.catch_warnings():
            # torch 2.13 deprecates TorchScript in favour of torch.export; loading the user's
            # TorchScript file is the documented contract here, so the notice is not shown.
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated",
                                    category=DeprecationWarning)
            network = torch.jit.load(str(path), map_location="cpu")
    except Exception as error:  # torch raises RuntimeError, ValueError, zipfile errors, ...
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise ColsimError(
            f"cannot load TorchScript network {path}: {type(error).__name__}: {first_line}"
        ) from error
    return network.eval()


def _as_batch(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(samples, np.float32))


def network_features(network: torch.nn.Module, samples: np.ndarray | torch.Tensor) -> np.ndarray:
    """Return ``network(samples)`` as an ``N×F`` float64 array (axes after the first flattened).

    Raises a ColsimError unless the output is one tensor with ``N`` rows.
    """
    batch = _as_batch(samples)
    with torch.no_grad():
        output = network(batch)
    if not isinstance(output, torch.Tensor) or output.ndim < 1 or output.shape[0] != len(batch):
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ColsimError(f"the feature network must return N×F features for N={len(batch)} "
                          f"samples, not {got}")
    return output.detach().double().reshape(len(batch), -1).numpy()


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Return the Fréchet distance between the Gaussian fits of two ``N×F`` feature sets.

    Needs at least 2 rows per set and the same ``F``; see the module doc for the details.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ColsimError(f"feature sets must be N×F with equal F, not {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ColsimError(f"the Fréchet distance needs at least 2 samples per set, "
                          f"got {len(a)} and {len(b)}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root = sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(root)):
        offset = SQRTM_OFFSET * np.eye(len(cov_a))
        root = sqrtm((cov_a + offset) @ (cov_b + offset))
        if not np.all(np.isfinite(root)):
            raise ColsimError("sqrtm of the covariance product is not finite")
    if np.iscomplexobj(root):
        scale = max(1.0, float(np.max(np.abs(root.real))))
        largest = float(np.max(np.abs(root.imag)))
        if largest > IMAGINARY_TOLERANCE * scale:
            raise ColsimError(f"sqrtm of the covariance product has an imaginary part of "
                              f"{largest:.3g}; the Fréchet distance is undefined")
        root = root.real
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))
    return max(value, 0.0)


def network_frechet_distance(
    network: torch.nn.Module, reference: np.ndarray, test: np.ndarray
) -> float:
    """Return the Fréchet distance between ``network``'s features of two sample batches."""
    return frechet_distance(network_features(network, reference),
                            network_features(network, test))


def _feature_maps(network: torch.nn.Module, batch: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        output = network(batch)
    if isinstance(output, torch.Tensor):
        output = [output]
    if not isinstance(output, list | tuple) or not output or not all(
        isinstance(f, torch.Tensor) and f.ndim >= 2 and f.shape[0] == len(batch) for f in output
    ):
        raise ColsimError(f"the LPIPS network must return a list/tuple of N×C×H×W feature maps "
                          f"for N={len(batch)} samples")
    return [f.detach().double() for f in output]


def lpips_style(network: torch.nn.Module, reference: np.ndarray, test: np.ndarray) -> float:
    """Return the LPIPS-style distance between paired batches (see the module doc)."""
    reference_batch, test_batch = _as_batch(reference), _as_batch(test)
    if reference_batch.shape != test_batch.shape:
        raise ColsimError(f"samples differ in shape: {tuple(reference_batch.shape)} vs "
                          f"{tuple(test_batch.shape)}")
    maps_a = _feature_maps(network, reference_batch)
    maps_b = _feature_maps(network, test_batch)
    if len(maps_a) != len(maps_b):
        raise ColsimError("the LPIPS network returned different layer counts for the two batches")
    per_layer = []
    for fa, fb in zip(maps_a, maps_b, strict=True):
        na = fa / (fa.norm(dim=1, keepdim=True) + LPIPS_EPS)
        nb = fb / (fb.norm(dim=1, keepdim=True) + LPIPS_EPS)
        per_layer.append(((na - nb) ** 2).reshape(len(fa), -1).mean(dim=1))
    return float(torch.stack(per_layer).mean(dim=0).mean())
