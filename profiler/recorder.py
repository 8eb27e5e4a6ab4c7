"""Reduce FFN activations on the fly into a :class:`~colsim.profiler.profile.Profile`.

Per layer and denoising iteration the recorder keeps only the per-column max of ``|h|``
and the element-magnitude histogram, so a 50-step full-size run never holds activations.

**Batches and classifier-free guidance.** Every row of ``h`` (all samples of the batch, and
with CFG both the conditional and the unconditional half of the one batched forward) is
reduced together: the accelerator computes both halves, so a column is cold only when it is
cold for every token of every half. ``LayerInfo.tokens`` stays M = tokens of one sample; the
recorder checks that each capture holds a whole number of samples and records that number
as ``batch`` in the metadata. Several forward calls in one iteration merge (max / sum).

**Deferred reduction.** Reducing a small activation costs far more in per-call overhead than
in arithmetic, so a capture under ``defer_elements`` elements is only copied (as float32, into
a reused staging buffer on the CPU) and reduced later together with the other pending ones,
in one compiled call that merges straight into the statistics: when the staged activations
reach ``flush_elements`` (16 MiB by default: the bound on the deferred memory) and when the
profile is finished (leaving the context manager, :meth:`~ProfileRecorder.profile`). Larger
captures are reduced at once, without a copy when they are contiguous float32 CPU tensors.
Both paths give identical statistics (integer counts and maxima do not depend on the order
of reduction). A non-finite activation is reported when its capture is reduced: at once for
a large capture, at the next flush for a deferred one.
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


DEFER_ELEMENTS = 1 << 16
"""Captures with fewer elements are reduced in batches (see the module docstring)."""

FLUSH_ELEMENTS = 1 << 22
"""Deferred captures are reduced once this many elements are staged."""


class ProfileRecorder:
    """Context manager that profiles ``model``'s FFN ``layers`` over ``iterations`` steps.

    Call :meth:`start_iteration` before each denoiser forward (the driver's
    ``on_iteration``). ``capture_inputs`` lists ``(layer name, iteration)`` pairs whose FFN
    input X (and the layer's weights) are kept for RTL runs. ``defer_elements`` is the
    capture size below which reductions are deferred and batched (0: reduce every capture
    at once), ``flush_elements`` the number of staged elements that triggers the reduction.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[LayerInfo],
        *,
        iterations: int,
        capture_inputs: Iterable[tuple[str, int]] = (),
        bins: HistogramBins | None = None,
        defer_elements: int = DEFER_ELEMENTS,
        flush_elements: int = FLUSH_ELEMENTS,
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
                raise ColsimError(f"`capture_inputs` names unknown layer {name!r}")
            if not 0 <= t < iterations:
                raise ColsimError(f"`capture_inputs` iteration {t} is outside [0, {iterations})")
        self.iteration: int | None = None
        # Statistics of all layers in two arrays (one compiled call merges into any layer);
        # colmax[name] and histogram[name] are views of them.
        self._index = {name: i for i, name in enumerate(self.layers)}
        self._hidden = np.array([x.hidden for x in self.layers.values()], np.int64)
        self._colmax_offset = np.concatenate([[0], np.cumsum(self._hidden[:-1])]) * iterations
        self._colmax = np.zeros(int(self._hidden.sum()) * iterations, np.float32)
        self._histogram = np.zeros((len(self.layers) * iterations, len(self.bins.edges) + 1),
                                   np.int64)
        spans = zip(self.layers, self._colmax_offset, self._hidden, strict=True)
        self.colmax = {
            name: self._colmax[offset:offset + iterations * hidden].reshape(iterations, hidden)
            for name, offset, hidden in spans
        }
        self.histogram = {
            name: self._histogram[i * iterations:(i + 1) * iterations]
            for name, i in self._index.items()
        }
        self.seen = {n: np.zeros(iterations, bool) for n in self.layers}
        # Per layer what the hook needs, in one lookup: (index, hidden, tokens, seen).
        self._slots = {
            name: (self._index[name], layer.hidden, layer.tokens, self.seen[name])
            for name, layer in self.layers.items()
        }
        self.batch: int | None = None
        self.reduce_seconds = 0.0  # wall time spent reducing activations (benchmarks)
        self.defer_elements = defer_elements
        self.flush_elements = flush_elements
        self._pending: list[tuple[int, int, int, int]] = []  # (layer, iteration, offset, rows)
        self._staging = np.empty(0, np.float32)  # pending activations, flat
        self._staged = 0  # elements in use
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
            self._hooks.__exit__(None, None, None)
            self._remove_input_hooks()
            raise
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        self._hooks.__exit__(exc_type, *exc_info)
        self._remove_input_hooks()
        if exc_type is None:
            self._flush()
        else:
            self._pending.clear()

    def start_iteration(self, iteration: int) -> None:
        """Attribute the following activations to denoising ``iteration`` (0-based)."""
        if not 0 <= iteration < self.iterations:
            raise ColsimError(f"iteration {iteration} is outside [0, {self.iterations})")
        self.iteration = iteration

    def profile(self, meta: dict[str, Any]) -> Profile:
        """Return the finished profile; every layer must have seen every iteration."""
        self._flush()
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
        t = self.iteration
        if t is None:
            raise ColsimError("an FFN ran before the first denoising iteration was announced")
        index, hidden, tokens, seen = self._slots[name]
        if h.shape[-1] != hidden:
            raise ColsimError(
                f"FFN layer {name!r} produced {h.shape[-1]} columns, the spec says {hidden}"
            )
        elements = h.numel()
        rows = elements // hidden
        if rows % tokens:
            raise ColsimError(
                f"FFN layer {name!r} produced {rows} rows, not a multiple of its "
                f"{tokens} tokens"
            )
        if self.batch is None:
            self.batch = rows // tokens
        seen[t] = True
        if elements < self.defer_elements:
            # A copy: the model may reuse or modify its activation after the hook returns.
            offset = self._staged
            end = offset + elements
            if end > self._staging.size:
                self._grow(end)
            if h.dtype is torch.float32 and h.is_cpu and not h.requires_grad:
                self._staging[offset:end] = h.numpy().reshape(-1)
            else:
                torch.from_numpy(self._staging[offset:end]).copy_(h.detach().reshape(-1))
            self._staged = end
            self._pending.append((index, t, offset, rows))
            if end >= self.flush_elements:
                self._flush()
        else:
            values = h.detach().reshape(-1)
            if values.dtype != torch.float32 or not values.is_cpu:
                values = values.to("cpu", torch.float32)
            self._merge(values.numpy(), [(index, t, 0, rows)])
        self.reduce_seconds += time.perf_counter() - start

    def _grow(self, elements: int) -> None:
        # Doubling, but never past what one flush can hold (flush_elements + a capture).
        limit = self.flush_elements + self.defer_elements
        size = max(elements, min(max(2 * self._staging.size, 1 << 16), limit))
        staging = np.empty(size, np.float32)
        staging[:self._staged] = self._staging[:self._staged]
        self._staging = staging

    def _flush(self) -> None:
        """Reduce the pending captures (one compiled call) and empty the staging buffer."""
        if not self._pending:
            return
        start = time.perf_counter()
        pending = self._pending
        self._pending, self._staged = [], 0
        self._merge(self._staging, pending)
        self.reduce_seconds += time.perf_counter() - start

    def _merge(self, values: np.ndarray, entries: list[tuple[int, int, int, int]]) -> None:
        """Merge ``(layer index, iteration, offset, rows)`` entries of flat ``values``."""
        bad = self.bins.merge(values, np.array(entries, np.int64), self._hidden,
                              self._colmax_offset, self.iterations, self._colmax,
                              self._histogram)
        if bad >= 0:
            layer, t = entries[bad][:2]
            name = list(self.layers)[layer]
            raise ColsimError(f"FFN layer {name!r} produced a non-finite activation at step {t}")

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
