"""Mask sets (DESIGN.md contract 3): per layer × iteration a boolean hot vector of length N."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colsim.errors import ColsimError
from colsim.fileio import atomic_output

FORMAT_NAME = "colsim-masks"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MaskSet:
    """Hot columns of every FFN layer: ``hot[layer]`` is bool (iterations, N).

    ``layers`` gives the forward order; every layer has the same number of iterations.
    ``meta`` records how the masks were made (threshold or generator targets, seed).
    """

    model: str
    layers: tuple[str, ...]
    hot: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.layers) != set(self.hot) or len(set(self.layers)) != len(self.layers):
            raise ColsimError(
                f"mask set layers {list(self.layers)} do not match its masks {sorted(self.hot)}"
            )
        iterations = set()
        for name in self.layers:
            mask = self.hot[name]
            if mask.dtype != np.bool_ or mask.ndim != 2:
                raise ColsimError(
                    f"mask of layer {name!r} must be a 2-D bool array, not "
                    f"{mask.dtype} with shape {mask.shape}"
                )
            iterations.add(mask.shape[0])
        if len(iterations) > 1:
            raise ColsimError(f"mask set layers disagree on the iteration count: {iterations}")

    @property
    def iterations(self) -> int:
        """Number of denoising iterations T."""
        return self.hot[self.layers[0]].shape[0] if self.layers else 0

    def save(self, path: str | Path) -> None:
        """Write an ``.npz`` file (no pickle) atomically."""
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": self.model,
                  "layers": list(self.layers), "meta": self.meta}
        arrays = {f"hot_{i}": self.hot[name] for i, name in enumerate(self.layers)}
        with atomic_output(path, suffix=".npz") as temporary:
            np.savez_compressed(temporary, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> MaskSet:
        """Read a mask file written by :meth:`save`; anything else is a ColsimError."""
        path = Path(path)
        if not path.is_file():
            raise ColsimError(f"mask file {str(path)!r} does not exist")
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if header.get("format") != FORMAT_NAME:
                    raise ColsimError(f"{str(path)!r} is not a colsim mask file")
                if header.get("version") != FORMAT_VERSION:
                    raise ColsimError(
                        f"mask file {str(path)!r} has format version {header.get('version')}, "
                        f"this colsim reads version {FORMAT_VERSION}"
                    )
                layers = tuple(header["layers"])
                hot = {name: data[f"hot_{i}"] for i, name in enumerate(layers)}
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ColsimError(f"mask file {str(path)!r} is corrupt or truncated ({exc})") from None
        return cls(header["model"], layers, hot, header["meta"])
