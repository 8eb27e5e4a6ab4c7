"""The profile file (DESIGN.md contract 2): per layer × iteration column maxima and histograms.

Layout of the HDF5 file (format ``colsim-profile``, version :data:`FORMAT_VERSION`):

* root attributes ``format``, ``version`` and ``metadata`` (JSON: model, seed, steps,
  scheduler, dtype, package versions, CFG handling, ...);
* ``bin_edges`` (K,) float32: histogram edges (see :mod:`colsim.profiler.histogram`);
* ``layers/<i>`` for the i-th FFN layer in forward order, attributes ``name``, ``tokens``
  (M, tokens of one sample), ``d_model``, ``hidden`` (N), ``gated``, ``repeat``, with
  datasets ``colmax`` (T, N) float32, the per-column max of ``|h|`` over every token of the
  batch, and ``histogram`` (T, K+1) int64, element-magnitude counts;
* ``inputs/<i>/<t>`` (rows, d) float32: captured FFN inputs X of layer i at iteration t;
* ``weights/<i>/{w1,b1,w2,b2}``: that layer's FFN weights with ``w1`` (d, N) — (d, 2N) for
  GEGLU, value half first, gate half second — and ``w2`` (N, d_out), so ``Y = h·w2 + b2``.

Files are written to a temporary name and renamed when complete; :meth:`Profile.load` turns a
missing, truncated, corrupt, foreign or wrong-version file into a one-line ColsimError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from colsim.errors import ColsimError
from colsim.fileio import atomic_output

FORMAT_NAME = "colsim-profile"
FORMAT_VERSION = 1
WEIGHT_NAMES = ("w1", "b1", "w2", "b2")


@dataclass(frozen=True)
class LayerInfo:
    """One FFN layer of the profiled model: M tokens per sample, d inputs, N hidden columns."""

    name: str
    tokens: int
    d_model: int
    hidden: int
    gated: bool
    repeat: int = 1

    @classmethod
    def from_spec_layer(cls, layer: Any) -> LayerInfo:
        """Copy a ``colsim.models.spec.FfnLayer`` (or anything with the same fields)."""
        return cls(
            str(layer.name),
            int(layer.tokens),
            int(layer.d_model),
            int(layer.hidden),
            bool(layer.gated),
            int(getattr(layer, "repeat", 1)),
        )

    @property
    def work(self) -> int:
        """Multiply-accumulates of one layer-iteration per sample: M·d·N·(3 if gated else 2)."""
        return self.tokens * self.d_model * self.hidden * (3 if self.gated else 2) * self.repeat


@dataclass(frozen=True)
class CapturedInput:
    """FFN input X of one layer at one iteration (all batch rows, CFG halves included)."""

    layer: str
    iteration: int
    x: np.ndarray


def _check_finite(what: str, values: np.ndarray) -> None:
    """Raise a ColsimError naming ``what`` and the first NaN or infinity in ``values``."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        index = np.unravel_index(bad[0], values.shape)
        raise ColsimError(f"{what} holds {float(values[index])} at index {tuple(map(int, index))} "
                          f"({bad.size} values are not finite)")


@dataclass(frozen=True)
class Profile:
    """Column statistics of one model run; arrays indexed by layer name.

    ``colmax[name]`` is (T, N) float32, ``histogram[name]`` is (T, K+1) int64 over
    ``bin_edges`` (K,). ``inputs`` and ``weights`` hold optional RTL captures.
    """

    layers: tuple[LayerInfo, ...]
    bin_edges: np.ndarray
    colmax: dict[str, np.ndarray]
    histogram: dict[str, np.ndarray]
    meta: dict[str, Any]
    inputs: tuple[CapturedInput, ...] = ()
    weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = self.layer_names
        if len(set(names)) != len(names):
            raise ColsimError(f"profile layer names repeat: {list(names)}")
        iterations = {self.colmax[n].shape[0] for n in names} if names else {0}
        if len(iterations) != 1:
            raise ColsimError(f"profile layers disagree on the iteration count: {iterations}")
        for layer in self.layers:
            shape = self.colmax[layer.name].shape
            if shape != (self.iterations, layer.hidden):
                raise ColsimError(
                    f"`colmax` of layer {layer.name!r} has shape {shape}, "
                    f"expected {(self.iterations, layer.hidden)}"
                )
            bins = self.histogram[layer.name].shape
            if bins != (self.iterations, len(self.bin_edges) + 1):
                raise ColsimError(f"`histogram` of layer {layer.name!r} has shape {bins}")
            _check_finite(f"`colmax` of layer {layer.name!r}", self.colmax[layer.name])
        _check_finite("`bin_edges`", self.bin_edges)
        for captured in self.inputs:
            _check_finite(f"captured input {captured.layer}:{captured.iteration}", captured.x)
        for name, tensors in self.weights.items():
            for key, values in tensors.items():
                _check_finite(f"captured weight `{key}` of layer {name!r}", values)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Layer names in forward order."""
        return tuple(layer.name for layer in self.layers)

    @property
    def iterations(self) -> int:
        """Number of denoising iterations T."""
        return next(iter(self.colmax.values())).shape[0] if self.colmax else 0

    def layer(self, name: str) -> LayerInfo:
        """Return the layer called ``name``; an unknown name is a ColsimError listing them."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ColsimError(f"unknown layer {name!r}; the profile has {list(self.layer_names)}")

    def captured_input(self, layer: str, iteration: int) -> np.ndarray:
        """Return the captured X of ``layer`` at ``iteration``."""
        for captured in self.inputs:
            if captured.layer == layer and captured.iteration == iteration:
                return captured.x
        have = [f"{c.layer}:{c.iteration}" for c in self.inputs]
        raise ColsimError(f"no captured input for {layer}:{iteration}; the profile has {have}")

    def save(self, path: str | Path) -> None:
        """Write the profile atomically (temporary file renamed into place)."""
        with atomic_output(path) as temporary, h5py.File(temporary, "w") as f:
            self._write(f)

    def _write(self, f: h5py.File) -> None:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["version"] = FORMAT_VERSION
        f.attrs["metadata"] = json.dumps(self.meta, sort_keys=True)
        f.create_dataset("bin_edges", data=self.bin_edges.astype(np.float32))
        index = {name: i for i, name in enumerate(self.layer_names)}
        for i, layer in enumerate(self.layers):
            group = f.create_group(f"layers/{i}")
            for key in ("name", "tokens", "d_model", "hidden", "gated", "repeat"):
                group.attrs[key] = getattr(layer, key)
            for key, data in (("colmax", self.colmax), ("histogram", self.histogram)):
                array = data[layer.name]
                group.create_dataset(
                    key, data=array, chunks=(1, array.shape[1]), compression="gzip"
                )
        for captured in self.inputs:
            f.create_dataset(
                f"inputs/{index[captured.layer]}/{captured.iteration}",
                data=captured.x,
                chunks=True,
                compression="gzip",
            )
        for name, tensors in self.weights.items():
            for key, value in tensors.items():
                f.create_dataset(f"weights/{index[name]}/{key}", data=value)

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a profile file; anything but a complete file of this version is a ColsimError."""
        path = Path(path)
        if not path.is_file():
            raise ColsimError(f"profile file {str(path)!r} does not exist")
        try:
            with h5py.File(path, "r") as f:
                return cls._read(f, path)
        except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ColsimError(
                f"profile file {str(path)!r} is corrupt or truncated ({reason})"
            ) from None

    @classmethod
    def _read(cls, f: h5py.File, path: Path) -> Profile:
        if f.attrs.get("format") != FORMAT_NAME:
            raise ColsimError(f"{str(path)!r} is not a colsim profile file")
        version = int(f.attrs.get("version", -1))
        if version != FORMAT_VERSION:
            raise ColsimError(
                f"profile file {str(path)!r} has format version {version}, "
                f"this colsim reads version {FORMAT_VERSION}"
            )
        layers, colmax, histogram = [], {}, {}
        for i in range(len(f["layers"])):
            group = f[f"layers/{i}"]
            a = group.attrs
            layer = LayerInfo(
                str(a["name"]),
                int(a["tokens"]),
                int(a["d_model"]),
                int(a["hidden"]),
                bool(a["gated"]),
                int(a["repeat"]),
            )
            layers.append(layer)
            colmax[layer.name] = group["colmax"][()]
            histogram[layer.name] = group["histogram"][()]
        inputs = []
        for i, per_layer in f.get("inputs", {}).items():
            for t, dataset in per_layer.items():
                inputs.append(CapturedInput(layers[int(i)].name, int(t), dataset[()]))
        weights = {
            layers[int(i)].name: {key: group[key][()] for key in group}
            for i, group in f.get("weights", {}).items()
        }
        return cls(
            layers=tuple(layers),
            bin_edges=f["bin_edges"][()],
            colmax=colmax,
            histogram=histogram,
            meta=json.loads(f.attrs["metadata"]),
            inputs=tuple(sorted(inputs, key=lambda c: (c.layer, c.iteration))),
            weights=weights,
        )
