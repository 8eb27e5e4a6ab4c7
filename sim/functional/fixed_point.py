"""The numpy fixed-point reference of one FFN layer-iteration (DESIGN.md contract 8).

What the engine computes, bit for bit, with ``f = hw.simd.frac_bits``:

* operands X, W1, W2 are int16 Q(15-f).f (:func:`quantise`: round to nearest, ties to even,
  saturate); biases are not part of the engine (the host adds ``b1``/``b2``; see
  :func:`float_ffn`);
* the systolic array sums int16 products into int32 accumulators that wrap modulo 2**32
  (:func:`wrap32`), in Q.2f;
* the SIMD unit (:mod:`colsim.fixed_arith`) turns accumulators into int16 activations:
  ``H = GELU(requantise(X·W1, f))``, or for GEGLU layers
  ``H = requantise(requantise(X·W1_value, f) · GELU(requantise(X·W1_gate, f)), f)``;
* the dense FFN-Reuse iteration splits the down projection at the hot mask:
  ``Y_cold = H[:, cold]·W2[cold]`` (int32, cached in DRAM) and
  ``Y = requantise(H[:, hot]·W2[hot] + Y_cold, f)``; a sparse iteration computes only the
  hot columns and reuses the cached ``Y_cold``; a plain dense FFN is
  ``Y = requantise(H·W2, f)``;
* the dense iteration's mask: column n is hot when some token has ``|H[m, n]| > τ_q`` with
  the int16 threshold register ``τ_q = floor(τ·2**f)`` (:func:`tau_register`), which for
  integer H is exactly ``|H|/2**f > τ``, the profiler's rule on the dequantised values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.errors import ColsimError
from colsim.fixed_arith import INT16_MAX, INT16_MIN, SimdOp, gelu_table, simd_apply


def quantise(values: np.ndarray, frac_bits: int) -> tuple[np.ndarray, int]:
    """Return ``values`` as int16 Q.f (nearest, ties to even, saturated) and the saturations."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * (1 << frac_bits))
    saturated = int(np.count_nonzero((scaled < INT16_MIN) | (scaled > INT16_MAX)))
    return np.clip(scaled, INT16_MIN, INT16_MAX).astype(np.int16), saturated


def dequantise(values: np.ndarray, frac_bits: int) -> np.ndarray:
    """Return int Q.f ``values`` as float64."""
    return np.asarray(values, dtype=np.float64) / (1 << frac_bits)


def tau_register(tau: float, frac_bits: int) -> int:
    """Return the int16 threshold register for magnitude threshold ``tau`` (``floor(τ·2**f)``)."""
    if not np.isfinite(tau) or tau < 0:
        raise ColsimError(f"`tau` must be a finite non-negative number, not {tau!r}")
    return int(min(np.floor(tau * (1 << frac_bits)), INT16_MAX))


def wrap32(values: np.ndarray) -> np.ndarray:
    """Return integer ``values`` wrapped to int32 (two's complement), as int64."""
    return (np.asarray(values, dtype=np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)


def matmul32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``a·b`` of int16 matrices with int32 wrap-around accumulation (as int64)."""
    return wrap32(np.asarray(a, dtype=np.int64) @ np.asarray(b, dtype=np.int64))


@dataclass(frozen=True)
class FfnOperands:
    """One layer's quantised operands: X (M×d), W1 (d×N, or d×2N value|gate), W2 (N×d)."""

    x: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    gated: bool

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.w2.ndim != 2:
            raise ColsimError(f"X and W2 must be matrices, not of shapes {self.x.shape}, "
                              f"{self.w2.shape}")
        d, n = self.x.shape[1], self.w2.shape[0]
        if self.w1.shape != (d, 2 * n if self.gated else n) or self.w2.shape != (n, d):
            raise ColsimError(
                f"operand shapes do not form an FFN: X {self.x.shape}, W1 {self.w1.shape}, "
                f"W2 {self.w2.shape} (gated={self.gated})"
            )
        for name in ("x", "w1", "w2"):
            if getattr(self, name).dtype != np.int16:
                raise ColsimError(f"operand {name} must be int16, not {getattr(self, name).dtype}")

    @property
    def hidden(self) -> int:
        """Return N."""
        return int(self.w2.shape[0])

    def w1_part(self, part: int) -> np.ndarray:
        """Return the d×N weights of ``part`` (0: value, 1: gate of a GEGLU layer)."""
        n = self.hidden
        return self.w1[:, part * n:(part + 1) * n]


@dataclass(frozen=True)
class FfnResult:
    """The engine's results of one layer-iteration (int64 arrays of int16/int32 values).

    ``h`` covers the computed columns (all N, or the hot ones in logical order), ``mask`` is
    the dense iteration's derived hot mask (``None`` for sparse and plain dense runs),
    ``y_cold`` the cached cold contribution (``None`` without FFN-Reuse).
    """

    h: np.ndarray
    y: np.ndarray
    y_cold: np.ndarray | None
    mask: np.ndarray | None


def activation(accumulators: list[np.ndarray], gated: bool, frac_bits: int,
               segment_bits: int) -> np.ndarray:
    """Return the SIMD unit's int16 activation of the value (and gate) accumulators."""
    table = gelu_table(frac_bits, segment_bits)
    if gated:
        value, gate = accumulators
        return simd_apply(SimdOp.GEGLU, gate, value, shift=frac_bits, table=table)
    (value,) = accumulators
    return simd_apply(SimdOp.GELU, value, np.zeros_like(value), shift=frac_bits, table=table)


def ffn_reference(operands: FfnOperands, *, frac_bits: int, segment_bits: int, mode: str,
                  hot: np.ndarray | None = None, tau_q: int = 0,
                  y_cold: np.ndarray | None = None) -> FfnResult:
    """Return what the engine computes for one layer-iteration (see the module docstring).

    ``mode`` is ``"dense"`` (with ``hot``: FFN-Reuse's dense iteration, which derives the mask
    at ``tau_q`` and caches ``Y_cold``; without: a plain dense FFN) or ``"sparse"`` (needs
    ``hot`` and the dense iteration's ``y_cold``).
    """
    table = gelu_table(frac_bits, segment_bits)
    n = operands.hidden
    columns = np.arange(n) if mode == "dense" else np.flatnonzero(hot)
    parts = [operands.w1_part(p)[:, columns] for p in range(2 if operands.gated else 1)]
    h = activation([matmul32(operands.x, w) for w in parts], operands.gated, frac_bits,
                   segment_bits)
    w2 = operands.w2.astype(np.int64)
    if mode == "sparse":
        if hot is None or y_cold is None:
            raise ColsimError("a sparse iteration needs the hot mask and the cached Y_cold")
        y = simd_apply(SimdOp.ADD, matmul32(h, w2[columns]), y_cold, shift=frac_bits,
                       table=table)
        return FfnResult(h, y, None, None)
    if hot is None:
        y = simd_apply(SimdOp.REQUANT, matmul32(h, w2), np.zeros((h.shape[0], w2.shape[1])),
                       shift=frac_bits, table=table)
        return FfnResult(h, y, None, None)
    mask = (np.abs(h) > tau_q).any(axis=0)
    cold = ~np.asarray(hot, dtype=bool)
    cached = matmul32(h[:, cold], w2[cold])
    y = simd_apply(SimdOp.ADD, matmul32(h[:, ~cold], w2[~cold]), cached, shift=frac_bits,
                   table=table)
    return FfnResult(h, y, cached, mask)


def float_ffn(x: np.ndarray, w1: np.ndarray, w2: np.ndarray, gated: bool) -> np.ndarray:
    """Return the float64 FFN without biases, ``act(X·W1)·W2``, computed by torch."""
    import torch
    import torch.nn.functional as F

    xt, w1t, w2t = (torch.as_tensor(np.asarray(v, dtype=np.float64)) for v in (x, w1, w2))
    pre = xt @ w1t
    if gated:
        value, gate = pre.chunk(2, dim=-1)
        h = value * F.gelu(gate)
    else:
        h = F.gelu(pre)
    return (h @ w2t).numpy()
