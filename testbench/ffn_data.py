"""The data side of an FFN co-simulation: operands in DRAM, beats in and out, result checks.

:class:`CosimData` holds the DRAM backing store of one co-simulation. Per layer-iteration it
writes that iteration's quantised X (the weights once, at their layout's slots), answers the
engine's read beats from the store and applies its write beats with their byte strobes, and
afterwards checks what the engine left in DRAM and in its mask store:

* ``bit_exact`` — H, Y (and Y_cold) equal :func:`~colsim.sim.functional.fixed_point.
  ffn_reference` bit for bit (DESIGN.md contract 8);
* ``float`` — dense iterations: Y within the derived worst-case bound of torch's float FFN;
* ``mask`` — dense FFN-Reuse iterations: the engine's derived mask equals the profiler's rule
  (column max of |H| above τ) on the same quantised data.

Operands come from a profile's captured FFN inputs and weights (:func:`operands_from_profile`)
or are drawn from a seeded generator (:func:`random_operands`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.hw.skip_model import mask_from_words
from colsim.models.spec import FfnLayer
from colsim.sim.functional.checks import (
    FloatLayer,
    check_iteration,
    derives_mask,
    h_logical_columns,
    iteration_reference,
)
from colsim.sim.functional.fixed_point import tau_register
from colsim.sim.functional.image import new_store, place_operands
from colsim.sim.layout import Layout
from colsim.sim.schedule import Schedule


def random_operands(layer: FfnLayer, iterations: int, seed: int) -> FloatLayer:
    """Return seeded operands with trained-model-like scales (X ~ N(0, 1), W ~ N(0, 1/√d))."""
    rng = np.random.default_rng(seed)
    g = 2 if layer.gated else 1
    return FloatLayer(
        tuple(rng.normal(0.0, 1.0, (layer.tokens, layer.d_model)) for _ in range(iterations)),
        rng.normal(0.0, layer.d_model ** -0.5, (layer.d_model, g * layer.hidden)),
        rng.normal(0.0, layer.hidden ** -0.5, (layer.hidden, layer.d_model)), layer.gated)


def operands_from_profile(path: str | Path, layer: str, iterations: list[int]) -> FloatLayer:
    """Return a profile's captured X (first sample's M tokens) and weights of ``layer``.

    The profile must have been recorded with ``--capture-inputs`` for every listed
    iteration of ``layer`` (which also stores the layer's weights).
    """
    from colsim.profiler.profile import Profile

    profile = Profile.load(path)
    info = profile.layer(layer)
    if layer not in profile.weights:
        raise ColsimError(f"profile {path} has no captured weights of layer {layer!r}; "
                          f"record it with `capture_inputs` {layer}:T,... when profiling")
    weights = profile.weights[layer]
    x = tuple(profile.captured_input(layer, t)[:info.tokens].astype(np.float64)
              for t in iterations)
    return FloatLayer(x, np.asarray(weights["w1"], np.float64),
                      np.asarray(weights["w2"], np.float64), info.gated)


class CosimData:
    """DRAM contents and result checks of one co-simulation (see the module docstring)."""

    def __init__(self, layer: FfnLayer, hw: HardwareConfig, operands: FloatLayer,
                 layout: Layout, hot: np.ndarray | None, tau: float,
                 placement) -> None:
        self.layer, self.hw, self.operands, self.layout, self.hot = (
            layer, hw, operands, layout, hot)
        self.tau, self.tau_q = tau, tau_register(tau, hw.simd.frac_bits)
        self.placement = placement
        self.size = placement.transaction_bytes
        self.store = new_store(placement)
        self._y_cold: np.ndarray | None = None
        self._quantised: Any = None

    def begin(self, iteration: int) -> None:
        """Write iteration ``iteration``'s operands into DRAM."""
        self._quantised, self.saturated = self.operands.quantised(iteration,
                                                                  self.hw.simd.frac_bits)
        place_operands(self.store, self.placement, self.layout, self._quantised)

    def read_beat(self, addr: int) -> int:
        """Return the transaction at ``addr`` as an integer (byte 0 least significant)."""
        return int.from_bytes(self.store.backdoor_read(addr, self.size), "little")

    def write_beat(self, addr: int, data: int, strobe: int) -> None:
        """Apply a write beat: the bytes whose strobe bit is set."""
        raw = data.to_bytes(self.size, "little")
        for start, end in _runs_of_ones(strobe, self.size):
            self.store.backdoor_write(addr + start, raw[start:end])

    def check(self, iteration: int, schedule: Schedule,
              mask_row: Callable[[int], int] | None) -> dict[str, Any]:
        """Return the checks of ``iteration`` after the engine ran ``schedule``.

        ``mask_row(t)`` reads row t of the engine's mask store (C bits, column c in bit c);
        ``None`` leaves the mask unchecked. The record is
        :func:`~colsim.sim.functional.checks.check_iteration`'s.
        """
        reference = iteration_reference(self._quantised, self.hw, schedule, self.hot,
                                        tau_q=self.tau_q, y_cold=self._y_cold)
        derived = None
        if mask_row is not None and derives_mask(schedule):
            derived = self._derived_mask(schedule, mask_row)
        record = check_iteration(self.store, self.layout, schedule, reference,
                                 derived_mask=derived, operands=self.operands,
                                 iteration=iteration, hw=self.hw, tau=self.tau,
                                 saturated=self.saturated)
        if reference.y_cold is not None:
            self._y_cold = reference.y_cold
        return record

    def _derived_mask(self, schedule: Schedule, mask_row: Callable[[int], int]) -> np.ndarray:
        """Return the mask the engine derived, over logical columns, read via ``mask_row``.

        Mask store row t holds H positions ``t·C .. t·C + C - 1`` (position ``t·C + c`` in
        bit c); columns the schedule did not compute stay False.
        """
        cols = self.hw.systolic.cols
        logical = h_logical_columns(self.layout, schedule)
        rows = [mask_row(t) for t in range(-(-logical.size // cols))]
        derived = np.zeros(self.layer.hidden, dtype=bool)
        derived[logical] = mask_from_words(rows, cols, logical.size)
        return derived


def _runs_of_ones(mask: int, length: int) -> list[tuple[int, int]]:
    """Return the [start, end) runs of set bits among the low ``length`` bits of ``mask``."""
    runs, start = [], None
    for i in range(length + 1):
        bit = i < length and (mask >> i) & 1
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            runs.append((start, i))
            start = None
    return runs
