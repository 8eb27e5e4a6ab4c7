"""FID- and LPIPS-style metrics with user-supplied TorchScript networks."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from colsim.cli import main
from colsim.errors import ColsimError
from colsim.profiler import feature_metrics as fm


class Features(nn.Module):
    """Tiny conv feature extractor: N×1×H×W -> N×4."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x)).mean(dim=(2, 3))


class Maps(nn.Module):
    """Tiny two-layer trunk returning its feature maps."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3, padding=1)
        self.conv2 = nn.Conv2d(3, 5, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        first = torch.relu(self.conv1(x))
        return [first, self.conv2(first)]


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (x,)


def saved(module: nn.Module, path) -> str:
    """Export ``module`` as the user would (TorchScript is deprecated in torch 2.13)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module.eval()), str(path))
    return str(path)


def brute_force_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Tr sqrt(S1 S2) as Tr sqrt(S1^½ S2 S1^½), both roots by eigen-decomposition."""
    def psd_root(m):
        values, vectors = np.linalg.eigh((m + m.T) / 2)
        return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    r1 = psd_root(s1)
    trace_root = np.trace(psd_root(r1 @ s2 @ r1))
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_root)


def test_frechet_distance_matches_brute_force_and_is_symmetric():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 5))
    b = rng.normal(size=(30, 5)) @ rng.normal(size=(5, 5)) + 0.5
    got = fm.frechet_distance(a, b)
    assert got == pytest.approx(brute_force_frechet(a, b), rel=1e-8)
    assert fm.frechet_distance(b, a) == pytest.approx(got, rel=1e-8)
    assert fm.frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    # singular covariances (fewer samples than features) still give the brute-force value
    small_a, small_b = a[:3], b[:4]
    assert fm.frechet_distance(small_a, small_b) == pytest.approx(
        brute_force_frechet(small_a, small_b), rel=1e-6)


def test_frechet_distance_needs_two_samples():
    with pytest.raises(ColsimError, match="at least 2 samples"):
        fm.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ColsimError, match="equal F"):
        fm.frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


def test_network_frechet_through_saved_module(tmp_path):
    network = fm.load_network(saved(Features(), tmp_path / "fid.pt"))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 1, 8, 8)).astype(np.float32)
    y = x + 0.3 * rng.normal(size=x.shape).astype(np.float32)
    features = fm.network_features(network, x)
    assert features.shape == (6, 4)
    assert fm.network_frechet_distance(network, x, x) == pytest.approx(0, abs=1e-9)
    expected = brute_force_frechet(features, fm.network_features(network, y))
    assert fm.network_frechet_distance(network, x, y) == pytest.approx(expected, rel=1e-6)


def test_lpips_style_zero_for_identical_and_matches_hand_computation(tmp_path):
    network = fm.load_network(saved(Maps(), tmp_path / "lpips.pt"))
    x = np.random.default_rng(2).normal(size=(3, 1, 8, 8))
    assert fm.lpips_style(network, x, x) == 0
    assert fm.lpips_style(network, x, x + 0.1) > 0
    # identity "network", 2 channels, 1×2 pixels, one sample: hand computation
    identity = fm.load_network(saved(Identity(), tmp_path / "identity.pt"))
    a = np.array([[[[3.0, 1.0]], [[4.0, 0.0]]]])  # pixel 0: (3, 4), pixel 1: (1, 0)
    b = np.array([[[[0.0, 0.0]], [[2.0, 1.0]]]])  # pixel 0: (0, 2), pixel 1: (0, 1)
    # unit vectors: a -> (.6, .8), (1, 0); b -> (0, 1), (0, 1)
    per_pixel = [(0.6 - 0) ** 2 + (0.8 - 1) ** 2, (1 - 0) ** 2 + (0 - 1) ** 2]
    expected = sum(per_pixel) / 4  # mean over 2 channels × 2 pixels
    assert fm.lpips_style(identity, a, b) == pytest.approx(expected, rel=1e-6)


def test_load_network_errors_name_the_path(tmp_path):
    with pytest.raises(ColsimError, match=re.escape(str(tmp_path / "none.pt"))):
        fm.load_network(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torchscript file")
    with pytest.raises(ColsimError, match=re.escape(str(junk))) as error:
        fm.load_network(junk)
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def dit_profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("fm") / "dit.h5"
    assert main(["profile", "--model", "tiny-dit", "--steps", "2", "--out", str(path)]) == 0
    return path


def test_accuracy_cli_reports_feature_metrics(dit_profile, tmp_path, capsys):
    fid, lpips = saved(Features(), tmp_path / "fid.pt"), saved(Maps(), tmp_path / "lp.pt")
    base = ["accuracy", "--model", "tiny-dit", "--steps", "2", "--profile", str(dit_profile),
            "--rho", "0.5"]
    assert main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "frechet_distance" not in plain and "lpips_style" not in plain
    assert "samples" not in plain
    assert main([*base, "--samples", "3", "--fid-network", fid, "--lpips-network", lpips]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 3
    assert result["frechet_distance"] >= 0 and result["lpips_style"] > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--samples", "3", "--fid-network", "{missing}"], "network file .*missing.pt"),
        (["--lpips-network", "{missing}"], "network file .*missing.pt does not exist"),
        (["--fid-network", "{missing}"], "needs at least 2 samples"),
    ],
)
def test_accuracy_cli_network_errors(dit_profile, tmp_path, capsys, extra, message):
    argv = ["accuracy", "--model", "tiny-dit", "--steps", "2", "--profile", str(dit_profile),
            *[a.format(missing=tmp_path / "missing.pt") for a in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("colsim: error: ") and re.search(message, err)
