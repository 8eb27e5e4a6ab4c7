"""Reduce FFN activations on the fly into a :class:`~colsim.profiler.profile.Profile`.

Per layer and denoising iteration the recorder keeps only the per-column max of ``|h|``
and the element-magnitude histogram, so a 50-step full-size run never holds activations.

**Batches and classifier-free guidance.** Every row of ``h`` (all samples of the batch, and
with CFG both the conditional and the unconditional half of the one batched forward) is
reduced together: the accelerator computes both halves, so a column is cold only when it is
cold for every token of every half. ``LayerInfo.tokens`` stays M = tokens of one sample; the
recorder checks that each capture holds a whole number of samples and records that number
as ``batch`` in the metadata. Several forward calls in one iteration merge (max / sum).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from colsim.errors import ColsimError
from colsim.profiler.capture import ActivationHooks
from colsim.profiler.ffn_linears import locate_ffn_linears
from colsim.profiler.histogram import HistogramBins
from colsim.profiler.profile import CapturedInput, LayerInfo, Profile

CFG_HANDLING = (
    "statistics over every row of the batched forward (both CFG halves, all samples); "
    "tokens = M of one sample; batch = rows / M"
)


class ProfileRecorder:
    """Context manager that profiles ``model``'s FFN ``layers`` over ``iterations`` steps.

    Call :meth:`start_iteration` before each denoiser forward (the driver's
    ``on_iteration``). ``capture_inputs`` lists ``(layer name, iteration)`` pairs whose FFN
    input X (and the layer's weights) are kept for RTL runs.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[LayerInfo],
        *,
        iterations: int,
        capture_inputs: Iterable[tuple[str, int]] = (),
        bins: HistogramBins | None = None,
    ) -> None:
        if iterations < 1:
            raise ColsimError(f"`iterations` must be a positive integer, not {iterations!r}")
        self.model = model
        self.layers = {layer.name: layer for layer in layers}
        self.iterations = iterations
        self.bins = HistogramBins.default() if bins is None else bins
        self.capture_inputs = set(capture_inputs)
        for name, t in sorted(self.capture_inputs):
            if name not in self.layers:
                raise ColsimError(f"`--capture-inputs` names unknown layer {name!r}")
            if not 0 <= t < iterations:
                raise ColsimError(f"`--capture-inputs` iteration {t} is outside [0, {iterations})")
        self.iteration: int | None = None
        bins = len(self.bins.edges) + 1
        self.colmax = {
            n: np.zeros((iterations, x.hidden), np.float32) for n, x in self.layers.items()
        }
        self.histogram = {n: np.zeros((iterations, bins), np.int64) for n in self.layers}
        self.seen = {n: np.zeros(iterations, bool) for n in self.layers}
        self.batch: int | None = None
        self.reduce_seconds = 0.0  # wall time spent reducing activations (benchmarks)
        self._inputs: dict[tuple[str, int], list[np.ndarray]] = {}
        self._weights: dict[str, dict[str, np.ndarray]] = {}
        self._hooks = ActivationHooks(model, self._observe, list(self.layers))
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> ProfileRecorder:
        try:
            for name in sorted({name for name, _ in self.capture_inputs}):
                first, second = locate_ffn_linears(self.model, self.layers[name])
                self._weights[name] = _ffn_weights(first, second)
                self._handles.append(first.register_forward_pre_hook(self._input_hook(name)))
            self._hooks.__enter__()
        except BaseException:
            self._remove_input_hooks()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._hooks.__exit__(*exc_info)
        self._remove_input_hooks()

    def start_iteration(self, iteration: int) -> None:
        """Attribute the following activations to denoising ``iteration`` (0-based)."""
        if not 0 <= iteration < self.iterations:
            raise ColsimError(f"iteration {iteration} is outside [0, {self.iterations})")
        self.iteration = iteration

    def profile(self, meta: dict[str, Any]) -> Profile:
        """Return the finished profile; every layer must have seen every iteration."""
        for name, seen in self.seen.items():
            if not seen.all():
                missing = int(np.flatnonzero(~seen)[0])
                raise ColsimError(
                    f"FFN layer {name!r} produced no activation at iteration {missing}"
                )
        inputs = tuple(
            CapturedInput(name, t, np.concatenate(rows))
            for (name, t), rows in sorted(self._inputs.items())
        )
        histogram = {
            "bins": "right-closed on float32 bin_edges; bin 0 = zeros, last bin = overflow",
            "max_relative_gap": self.bins.relative_gap,
        }
        meta = {**meta, "cfg_handling": CFG_HANDLING, "batch": self.batch, "histogram": histogram}
        return Profile(
            layers=tuple(self.layers.values()),
            bin_edges=self.bins.edges,
            colmax=self.colmax,
            histogram=self.histogram,
            meta=meta,
            inputs=inputs,
            weights=self._weights,
        )

    # -- hooks ---------------------------------------------------------------------------

    def _observe(self, name: str, h: torch.Tensor) -> None:
        start = time.perf_counter()
        t = self._current_iteration()
        layer = self.layers[name]
        if h.shape[-1] != layer.hidden:
            raise ColsimError(
                f"FFN layer {name!r} produced {h.shape[-1]} columns, the spec says {layer.hidden}"
            )
        magnitudes = h.detach().reshape(-1, layer.hidden).abs().float().cpu()
        rows = magnitudes.shape[0]
        if rows % layer.tokens:
            raise ColsimError(
                f"FFN layer {name!r} produced {rows} rows, not a multiple of its "
                f"{layer.tokens} tokens"
            )
        if self.batch is None:
            self.batch = rows // layer.tokens
        column_max = magnitudes.amax(dim=0).numpy()  # NaN and inf propagate into the max
        if not np.isfinite(column_max).all():
            raise ColsimError(f"FFN layer {name!r} produced a non-finite activation at step {t}")
        np.maximum(self.colmax[name][t], column_max, out=self.colmax[name][t])
        self.histogram[name][t] += self.bins.counts(magnitudes.numpy())
        self.seen[name][t] = True
        self.reduce_seconds += time.perf_counter() - start

    def _input_hook(self, name: str):
        def capture(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            key = (name, self._current_iteration())
            if key in self.capture_inputs:
                x = args[0].detach().float().cpu()
                self._inputs.setdefault(key, []).append(x.reshape(-1, x.shape[-1]).numpy().copy())

        return capture

    def _current_iteration(self) -> int:
        if self.iteration is None:
            raise ColsimError("an FFN ran before the first denoising iteration was announced")
        return self.iteration

    def _remove_input_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def _ffn_weights(first: nn.Linear, second: nn.Linear) -> dict[str, np.ndarray]:
    def bias(linear: nn.Linear) -> np.ndarray:
        if linear.bias is None:
            return np.zeros(linear.out_features, np.float32)
        return linear.bias.detach().float().numpy().copy()

    return {
        "w1": first.weight.detach().float().numpy().T.copy(),
        "b1": bias(first),
        "w2": second.weight.detach().float().numpy().T.copy(),
        "b2": bias(second),
    }
