"""Run a layer's FFN-Reuse iterations on data and check every result (the functional checks).

:func:`verify_iterations` places the quantised weights once, then per iteration writes that
iteration's X, builds its schedule (the first iteration dense, the others sparse with the
dense iteration's mask, as in FFN-Reuse), executes it on the bytes
(:func:`~colsim.sim.functional.executor.execute_functional`) and checks:

* ``bit_exact``: H, Y (and Y_cold) read back from DRAM equal
  :func:`~colsim.sim.functional.fixed_point.ffn_reference` bit for bit;
* ``mask``: the mask the dense iteration derives equals the profiler's rule (column max of
  ``|H|`` above τ) applied to the dequantised reference H — the same quantised data;
* ``float``: the dequantised Y is within ``float_tolerance`` of the torch float64 FFN of the
  unquantised operands (dense iterations; a sparse iteration deliberately differs by the
  reused cold contribution, so it is compared with the reference only).

The tolerance is derived, not tuned: ``float_tolerance`` adds up the worst-case effect of
every rounding step (module docstring of :mod:`~colsim.sim.functional.fixed_point`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.sim.functional.executor import execute_functional
from colsim.sim.functional.fixed_point import (
    FfnOperands,
    activation,
    dequantise,
    ffn_reference,
    float_ffn,
    quantise,
    tau_register,
)
from colsim.sim.functional.image import new_store, place_operands, read_h, read_y, read_y_cold
from colsim.sim.layout import Layout
from colsim.sim.schedule import build_schedule, plan_placement

GELU_SLOPE_MAX = 1.1289  # max |d GELU(x)/dx| (at x ≈ 1.4); GEGLU bounds use it too


@dataclass(frozen=True)
class FloatLayer:
    """A layer's float operands: X per iteration (M×d each), W1 (d×N or d×2N), W2 (N×d)."""

    x: tuple[np.ndarray, ...]
    w1: np.ndarray
    w2: np.ndarray
    gated: bool

    def quantised(self, iteration: int, frac_bits: int) -> tuple[FfnOperands, int]:
        """Return iteration's int16 operands and how many values saturated."""
        out, saturated = [], 0
        for values in (self.x[iteration], self.w1, self.w2):
            q, s = quantise(values, frac_bits)
            out.append(q)
            saturated += s
        return FfnOperands(*out, gated=self.gated), saturated


def float_tolerance(layer: FloatLayer, iteration: int, hw: HardwareConfig) -> np.ndarray:
    """Return the worst-case bound of |Y_fixed - Y_float| per output element (no saturation).

    Every rounding step is charged its full error, with the operands' actual magnitudes;
    ``q = 2**-(f+1)`` is half an LSB. X and W1 carry ``q`` each, so a pre-activation is off
    by ``q·Σ_k(|X_mk| + |W1_kn|) + d·q²``, plus ``q`` from requantising it. GELU scales that
    by at most :data:`GELU_SLOPE_MAX` and adds its table's worst case plus ``q``; a GEGLU
    product ``v·GELU(u)`` is off by ``|v|·ε_GELU + (|GELU(u)| + ε_GELU)·ε_v + q``. The down
    projection adds ``Σ_n(ε_H·(|W2| + q) + |H|·q)`` and a final ``q``.
    """
    f = hw.simd.frac_bits
    q = 2.0 ** -(f + 1)
    x, w1, w2 = (np.abs(np.asarray(v, dtype=np.float64)) for v in (layer.x[iteration],
                                                                     layer.w1, layer.w2))
    d, n = w2.shape[1], w2.shape[0]
    pre_error = q * (x.sum(axis=1)[:, None] + w1.sum(axis=0)[None, :]) + d * q * q + q
    pre_max = x @ w1 + pre_error
    gelu_error = gelu_table_error(f, hw.simd.gelu_segment_bits) + q
    if layer.gated:
        v_err, u_err = pre_error[:, :n], pre_error[:, n:]
        v_max, u_max = pre_max[:, :n], pre_max[:, n:]
        g_err = GELU_SLOPE_MAX * u_err + gelu_error
        h_error = v_max * g_err + (u_max + g_err) * v_err + q
        h_max = v_max * u_max
    else:
        h_error = GELU_SLOPE_MAX * pre_error + gelu_error
        h_max = pre_max
    return h_error @ (w2 + q) + h_max @ np.full_like(w2, q) + q


def gelu_table_error(frac_bits: int, segment_bits: int) -> float:
    """Return the GELU table's max error over every int16 input (vs exact erf GELU)."""
    import torch
    import torch.nn.functional as F

    x = np.arange(-(1 << 15), 1 << 15, dtype=np.int64)
    fixed = activation([x << frac_bits], False, frac_bits, segment_bits) / (1 << frac_bits)
    exact = F.gelu(torch.as_tensor(x / (1 << frac_bits), dtype=torch.float64)).numpy()
    return float(np.abs(fixed - exact).max())


def verify_iterations(layer: FfnLayer, hw: HardwareConfig, data: FloatLayer, *, tau: float,
                      layout: Layout, hot: np.ndarray | None, transaction_bytes: int
                      ) -> list[dict[str, Any]]:
    """Run every iteration of ``data`` functionally; return one check record per iteration.

    ``hot`` is the mask the schedules use (the profiler's, over logical columns; ``None``
    runs plain dense iterations); ``layout`` places the columns.
    """
    if data.w2.shape != (layer.hidden, layer.d_model):
        raise ColsimError(f"weights of shape {data.w2.shape} do not fit layer {layer.name!r}")
    f = hw.simd.frac_bits
    tau_q = tau_register(tau, f)
    placement = plan_placement(layer, hw, transaction_bytes=transaction_bytes)
    store = new_store(placement)
    records, y_cold = [], None
    for t in range(len(data.x)):
        operands, saturated = data.quantised(t, f)
        place_operands(store, placement, layout, operands)
        mode = "sparse" if t > 0 and hot is not None else "dense"
        schedule = build_schedule(layer, hw, hot, layout, placement, mode=mode)
        run = execute_functional(schedule, hw, store, tau_q=tau_q)
        reference = ffn_reference(operands, frac_bits=f, segment_bits=hw.simd.gelu_segment_bits,
                                  mode=mode, hot=hot, tau_q=tau_q, y_cold=y_cold)
        m = layer.tokens
        n_h = reference.h.shape[1]
        h = read_h(store, placement, m, n_h)
        if mode == "sparse":  # H positions follow the physical order of the hot slots
            order = np.argsort(layout.slot_of[np.flatnonzero(hot)], kind="stable")
            h_expected = reference.h[:, order]
        else:
            h_expected = reference.h[:, np.argsort(layout.slot_of)]
        y = read_y(store, placement, m, layer.d_model)
        exact = np.array_equal(h, h_expected) and np.array_equal(y, reference.y)
        record: dict[str, Any] = {"iteration": t, "mode": mode, "saturated": saturated}
        if reference.y_cold is not None:
            exact = exact and np.array_equal(read_y_cold(store, placement, m, layer.d_model),
                                             reference.y_cold)
            y_cold = reference.y_cold
        record["bit_exact"] = bool(exact)
        if mode == "dense" and hot is not None:
            profiler_mask = np.abs(dequantise(reference.h, f)).max(axis=0) > tau
            record["mask_equal"] = bool(np.array_equal(run.logical_mask(layout), profiler_mask))
            record["hot_columns"] = int(profiler_mask.sum())
        if mode == "dense":
            error_matrix = np.abs(dequantise(y, f) - float_ffn(data.x[t], data.w1, data.w2,
                                                                data.gated))
            tolerance = float_tolerance(data, t, hw)
            error = float(error_matrix.max(initial=0))
            record["float_max_tolerance"] = float(tolerance.max(initial=0))
            record["float_max_error"] = error
            record["float_within"] = bool((error_matrix <= tolerance).all())
        records.append(record)
    return records
