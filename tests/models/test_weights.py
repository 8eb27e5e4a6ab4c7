"""Loading local checkpoints: safetensors files and diffusers folders; clear errors otherwise."""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file

from colsim.errors import ColsimError
from colsim.models.driver import build_denoiser
from colsim.models.weights import DIFFUSERS_WEIGHTS, save_weights


def _state(name: str, seed: int) -> dict[str, torch.Tensor]:
    return build_denoiser(name, size="tiny", seed=seed).module.state_dict()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_safetensors_file_round_trip(tmp_path) -> None:
    source = build_denoiser("mld", seed=7)
    path = save_weights(source.module, tmp_path / "mld.safetensors", {"model": "mld"})
    loaded = build_denoiser("mld", seed=0, weights=str(path))
    assert _same(loaded.module.state_dict(), source.module.state_dict())
    assert not _same(loaded.module.state_dict(), _state("mld", 0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mld.safetensors"]  # no temp left


@pytest.mark.parametrize("subfolder", [".", "transformer"])
def test_diffusers_folder_layouts(tmp_path, subfolder: str) -> None:
    source = build_denoiser("dit-xl-2", seed=5)
    folder = tmp_path / subfolder
    folder.mkdir(exist_ok=True)
    save_file(source.module.state_dict(), str(folder / DIFFUSERS_WEIGHTS))
    loaded = build_denoiser("dit-xl-2", seed=0, weights=str(tmp_path))
    assert _same(loaded.module.state_dict(), source.module.state_dict())


def test_missing_path(tmp_path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(ColsimError, match=re.escape(f"`weights` path '{missing}' does not exist")):
        build_denoiser("mdm", weights=str(missing))


def test_folder_without_weights(tmp_path) -> None:
    with pytest.raises(ColsimError, match=r"has no diffusion_pytorch_model\.safetensors"):
        build_denoiser("mdm", weights=str(tmp_path))


def test_pickle_checkpoints_are_refused(tmp_path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"not loaded")
    with pytest.raises(ColsimError, match=r"must be a \.safetensors file or a diffusers folder"):
        build_denoiser("mdm", weights=str(path))


@pytest.mark.parametrize("content", [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json"])
def test_corrupt_file(tmp_path, content: bytes) -> None:
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(content)
    with pytest.raises(ColsimError, match=r"weights file .*corrupt\.safetensors' is not readable"):
        build_denoiser("mdm", weights=str(path))


def test_truncated_file(tmp_path) -> None:
    path = save_weights(build_denoiser("mdm").module, tmp_path / "w.safetensors", {})
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ColsimError, match="is not readable"):
        build_denoiser("mdm", weights=str(path))


def test_weights_of_another_model_do_not_fit(tmp_path) -> None:
    path = save_weights(build_denoiser("dit-xl-2").module, tmp_path / "dit.safetensors", {})
    with pytest.raises(ColsimError, match=r"does not fit mdm \(tiny\): it lacks '"):
        build_denoiser("mdm", weights=str(path))


def test_weights_of_another_size_do_not_fit(tmp_path) -> None:
    state = _state("mdm", 0)
    state["input.weight"] = torch.zeros(3, 3)
    path = tmp_path / "shape.safetensors"
    save_file(state, str(path))
    with pytest.raises(ColsimError, match=r"'input.weight' has shape \(3, 3\), the model needs"):
        build_denoiser("mdm", weights=str(path))
