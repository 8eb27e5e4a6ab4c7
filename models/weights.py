"""Read and write denoiser weights as safetensors (never pickle)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from colsim.errors import ColsimError
from colsim.fileio import atomic_output

DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
DIFFUSERS_SUBFOLDERS = (".", "transformer", "unet")


def resolve_weights_file(path: str | Path) -> Path:
    """Return the safetensors file that ``path`` names: the file itself or a diffusers folder's."""
    path = Path(path)
    if not path.exists():
        raise ColsimError(f"`weights` path {str(path)!r} does not exist")
    if path.is_dir():
        for sub in DIFFUSERS_SUBFOLDERS:
            candidate = path / sub / DIFFUSERS_WEIGHTS
            if candidate.is_file():
                return candidate
        raise ColsimError(
            f"`weights` folder {str(path)!r} has no {DIFFUSERS_WEIGHTS} "
            f"(looked in ./, transformer/, unet/)"
        )
    if path.suffix != ".safetensors":
        raise ColsimError(
            f"`weights` must be a .safetensors file or a diffusers folder, not {str(path)!r}"
        )
    return path


def load_weights(module: torch.nn.Module, path: str | Path, *, model: str) -> None:
    """Load the checkpoint at ``path`` into ``module``; it must match every tensor exactly."""
    file = resolve_weights_file(path)
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ColsimError(f"weights file {str(file)!r} is not readable: {reason}") from None
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        key, what = (missing[0], "lacks") if missing else (unexpected[0], "has unknown tensor")
        extra = len(missing) + len(unexpected) - 1
        raise ColsimError(
            f"weights file {str(file)!r} does not fit {model}: it {what} {key!r}"
            + (f" (and {extra} more mismatched keys)" if extra else "")
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ColsimError(
                f"weights file {str(file)!r} does not fit {model}: {key!r} has shape "
                f"{tuple(state[key].shape)}, the model needs {tuple(tensor.shape)}"
            )
    module.load_state_dict(state, strict=True)


def save_weights(module: torch.nn.Module, path: str | Path, metadata: dict[str, str]) -> Path:
    """Write ``module``'s weights to ``path`` atomically (:func:`colsim.fileio.atomic_output`)."""
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    with atomic_output(path) as temporary:
        save_file(state, temporary, metadata=metadata)
    return path
