"""The result checks of one FFN layer-iteration, shared by every engine model that runs on data.

Both the functional executor runs (:func:`~colsim.sim.functional.verify.verify_iterations`)
and the RTL co-simulation (:class:`~colsim.testbench.ffn_data.CosimData`) leave H, Y (and
Y_cold) in a DRAM backing store and derive a hot mask; :func:`check_iteration` checks them and
returns one record:

* ``bit_exact`` / ``first_mismatch``: H, Y (and Y_cold) read back from DRAM equal
  :func:`~colsim.sim.functional.fixed_point.ffn_reference` bit for bit (DESIGN.md contract
  8); ``first_mismatch`` names the first differing element, ``None`` when all are equal;
* ``float_max_error`` / ``float_max_tolerance`` / ``float_within`` (dense iterations): the
  dequantised Y is within :func:`float_tolerance` of the torch float64 FFN of the unquantised
  operands. A sparse iteration deliberately differs from it by the reused cold contribution,
  so it is compared with the reference only;
* ``mask_equal`` / ``hot_columns`` (dense FFN-Reuse iterations whose derived mask the caller
  could read): the derived mask equals the profiler's rule (column max of the dequantised
  reference ``|H|`` above τ) on the same quantised data, and how many columns that rule
  marks hot.

The float tolerance is derived, not tuned: it adds up the worst-case effect of every rounding
step (module docstring of :mod:`~colsim.sim.functional.fixed_point`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig
from colsim.sim.dram.store import BackingStore
from colsim.sim.functional.fixed_point import (
    FfnOperands,
    FfnResult,
    activation,
    dequantise,
    ffn_reference,
    float_ffn,
    quantise,
)
from colsim.sim.functional.image import read_h, read_y, read_y_cold
from colsim.sim.layout import Layout
from colsim.sim.schedule import Schedule

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


def iteration_reference(operands: FfnOperands, hw: HardwareConfig, schedule: Schedule,
                        hot: np.ndarray | None, *, tau_q: int,
                        y_cold: np.ndarray | None) -> FfnResult:
    """Return what the engine must compute when it runs ``schedule`` on ``operands``.

    The reference runs in the schedule's mode, with ``hot`` exactly when the schedule is an
    FFN-Reuse one (``schedule.reuse``); ``y_cold`` is the cached cold contribution of the last
    dense FFN-Reuse iteration (needed by a sparse one, ignored otherwise).
    """
    return ffn_reference(operands, frac_bits=hw.simd.frac_bits,
                         segment_bits=hw.simd.gelu_segment_bits, mode=schedule.mode,
                         hot=hot if schedule.reuse else None, tau_q=tau_q, y_cold=y_cold)


def derives_mask(schedule: Schedule) -> bool:
    """Return whether the engine derives a hot mask running ``schedule`` (dense FFN-Reuse)."""
    return schedule.mode == "dense" and schedule.reuse


def h_logical_columns(layout: Layout, schedule: Schedule) -> np.ndarray:
    """Return the logical column that each H position of ``schedule`` holds.

    H position p holds physical slot ``schedule.up_columns[p]``; ``layout`` maps slots back
    to logical columns.
    """
    return np.argsort(layout.slot_of)[schedule.up_columns]


def read_computed_h(store: BackingStore, layout: Layout, schedule: Schedule) -> np.ndarray:
    """Return the H that ``schedule`` computed, as ``tokens × computed`` in logical order.

    H is read where ``schedule.placement`` puts it. Columns come in increasing logical column
    order (all N for a dense schedule, the hot ones for a sparse one): the order of
    :attr:`FfnResult.h`.
    """
    logical = h_logical_columns(layout, schedule)
    h = read_h(store, schedule.placement, schedule.layer.tokens, logical.size)
    return h[:, np.argsort(logical, kind="stable")]


def first_difference(pairs: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> str | None:
    """Return where the first ``(name, got, expected)`` pair differs, or ``None``.

    A shape difference is reported as such; otherwise the first differing element (row-major
    order) with both values.
    """
    for name, got, expected in pairs:
        if got.shape != expected.shape:
            return f"{name}: got shape {got.shape}, expected {expected.shape}"
        if not np.array_equal(got, expected):
            where = tuple(int(v) for v in np.argwhere(got != expected)[0])
            return f"{name}{where}: got {int(got[where])}, expected {int(expected[where])}"
    return None


def check_outputs(store: BackingStore, layout: Layout, schedule: Schedule,
                  reference: FfnResult, y: np.ndarray) -> dict[str, Any]:
    """Return ``bit_exact`` and ``first_mismatch`` of H, Y (and Y_cold) against ``reference``.

    ``y`` is the Y read back from ``store``; H and Y_cold are read where
    ``schedule.placement`` puts them, and Y_cold is read and compared when the reference
    caches one (dense FFN-Reuse iterations).
    """
    layer = schedule.layer
    pairs = [("H", read_computed_h(store, layout, schedule), reference.h),
             ("Y", y, reference.y)]
    if reference.y_cold is not None:
        pairs.append(("Y_cold", read_y_cold(store, schedule.placement, layer.tokens,
                                            layer.d_model), reference.y_cold))
    mismatch = first_difference(pairs)
    return {"bit_exact": mismatch is None, "first_mismatch": mismatch}


def check_float(y: np.ndarray, operands: FloatLayer, iteration: int,
                hw: HardwareConfig) -> dict[str, Any]:
    """Return how far the dequantised ``y`` is from the float FFN of iteration's operands.

    Keys: ``float_max_error`` (max absolute error), ``float_max_tolerance`` (max of the
    per-element :func:`float_tolerance`) and ``float_within`` (every element within its own
    bound). Meaningful for dense iterations only.
    """
    error = np.abs(dequantise(y, hw.simd.frac_bits)
                   - float_ffn(operands.x[iteration], operands.w1, operands.w2, operands.gated))
    tolerance = float_tolerance(operands, iteration, hw)
    return {"float_max_error": float(error.max(initial=0)),
            "float_max_tolerance": float(tolerance.max(initial=0)),
            "float_within": bool((error <= tolerance).all())}


def check_mask(derived: np.ndarray, reference_h: np.ndarray, frac_bits: int,
               tau: float) -> dict[str, Any]:
    """Return whether the ``derived`` mask equals the profiler's rule on ``reference_h``.

    ``derived`` is a bool vector over logical columns; the profiler's rule marks column n hot
    when ``max_m |dequantise(H[m, n])| > tau``. Keys: ``mask_equal`` and ``hot_columns`` (how
    many columns the rule marks hot).
    """
    profiler = np.abs(dequantise(reference_h, frac_bits)).max(axis=0) > tau
    return {"mask_equal": bool(np.array_equal(derived, profiler)),
            "hot_columns": int(profiler.sum())}


def check_iteration(store: BackingStore, layout: Layout, schedule: Schedule,
                    reference: FfnResult, *,
                    derived_mask: np.ndarray | None, operands: FloatLayer, iteration: int,
                    hw: HardwareConfig, tau: float, saturated: int) -> dict[str, Any]:
    """Return the check record of one iteration after the engine ran ``schedule``.

    ``store`` holds what the engine wrote (where ``schedule.placement`` puts it, columns at
    ``layout``'s slots);
    ``reference`` is :func:`iteration_reference` of the same quantised operands;
    ``derived_mask`` is the mask the engine derived, over logical columns (``None``: not
    read, so not checked); ``operands`` and ``iteration`` give the float operands, and
    ``saturated`` how many of them saturated when quantised.

    The record always has ``iteration``, ``mode``, ``saturated``, ``bit_exact`` and
    ``first_mismatch``; dense iterations add the ``float_*`` keys, dense FFN-Reuse iterations
    with a ``derived_mask`` ``mask_equal`` and ``hot_columns`` (module docstring).
    """
    layer = schedule.layer
    y = read_y(store, schedule.placement, layer.tokens, layer.d_model)
    record: dict[str, Any] = {"iteration": iteration, "mode": schedule.mode,
                              "saturated": saturated}
    record.update(check_outputs(store, layout, schedule, reference, y))
    if schedule.mode == "dense":
        record.update(check_float(y, operands, iteration, hw))
    if derives_mask(schedule) and derived_mask is not None:
        record.update(check_mask(derived_mask, reference.h, hw.simd.frac_bits, tau))
    return record
