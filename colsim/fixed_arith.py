"""Fixed-point arithmetic of the engine (DESIGN.md contract 8): requantise, GELU, SIMD ops.

The SIMD unit (``hw/simd.py``), its reference model (``hw/simd_model.py``) and the FFN
reference (``sim/functional/``) all compute with the functions below, so they agree bit for bit.

Number formats (``f`` = ``simd.frac_bits`` of the hardware config, 8 by default):

* activations and weights are **int16 Q(15-f).f** (value = integer / 2**f; Q7.8 by default);
* the systolic array's accumulators are int32 sums of int16 products, i.e. Q.2f, and are
  brought back to int16 by :func:`requantise` with a run-time ``shift`` (``f`` for a plain
  product): ``sat16(floor((a + 2**(shift-1)) / 2**shift))`` — **round half up** (towards
  +∞), then **saturation** to [-32768, 32767]; ``shift = 0`` only saturates.

GELU approximation (:class:`GeluTable`): ``GELU(x) = relu(x) - h(|x|)`` with
``h(t) = t·Φ(-t)``, which is exact for both signs. ``h`` is tabulated at the knots
``t = k·2**-s`` (``s`` = ``simd.gelu_segment_bits``) as ``round(h·2**f)`` and interpolated
linearly between knots (rounding half up); beyond the last knot, the first where
``h < 2**-(f+1)``, ``h`` is taken as 0. The interpolation error of ``h`` is at most
``max|h''|·2**(-2s)/8 = 0.798·2**(-2s)/8`` (0.0016 for s = 3), plus up to one LSB from the
table's and the interpolation's rounding. Measured over **all 65536 int16 inputs** against
``torch.nn.functional.gelu`` (exact erf form, float64): max abs error **0.00410 = 1.05 LSB**
at the reference Q7.8 with s = 3 (26 segments), 0.00161 at Q3.12 with s = 3
(``tests/hw/test_simd.py`` measures these and bounds them).

Operations per lane (one beat = ``lanes`` elements, the same op for all lanes):

* ``REQUANT``: ``y = requantise(a, shift)``
* ``GELU``:    ``y = gelu(requantise(a, shift))``
* ``GEGLU``:   ``y = requantise(requantise(b, shift) · gelu(requantise(a, shift)), f)``
  (``a``: gate accumulators, ``b``: value accumulators)
* ``ADD``:     ``y = requantise(a + b, shift)`` (``b``: the cached cold contribution, int32)

Every output also yields a hot bit ``|y| > tau`` (:func:`hot_bits`; ``tau`` an int16
register; ``tau < 0`` makes every element hot).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from colsim.errors import ConfigError

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
MAX_SHIFT = 31


class SimdOp(enum.IntEnum):
    """Operation code of a SIMD beat (the RTL's 2-bit ``op`` field)."""

    REQUANT = 0
    GELU = 1
    GEGLU = 2
    ADD = 3


def gelu_tail(t: float) -> float:
    """Return ``h(t) = t·Φ(-t)``, so that ``GELU(x) = relu(x) - h(|x|)``."""
    return t * 0.5 * math.erfc(t / math.sqrt(2.0))


@dataclass(frozen=True)
class GeluTable:
    """The knots of the piecewise-linear ``h``: ``knots[k] = round(h(k·2**-s)·2**f)``.

    ``knots`` ends with the first knot that rounds to 0 past h's maximum; inputs with
    ``|x| >= (len(knots) - 1)·2**(f-s)`` get ``h = 0``.
    """

    frac_bits: int
    segment_bits: int
    knots: tuple[int, ...]

    @property
    def sub_bits(self) -> int:
        """Return the bits of |x| below one segment (the interpolation fraction)."""
        return self.frac_bits - self.segment_bits

    @property
    def segments(self) -> int:
        """Return the number of interpolated segments."""
        return len(self.knots) - 1

    @property
    def deltas(self) -> tuple[int, ...]:
        """Return ``knots[k+1] - knots[k]`` for every segment."""
        return tuple(b - a for a, b in zip(self.knots, self.knots[1:], strict=False))


@cache
def gelu_table(frac_bits: int, segment_bits: int) -> GeluTable:
    """Return the GELU table of Q.``frac_bits`` inputs with segments of ``2**-segment_bits``."""
    if not 0 <= frac_bits <= 14:
        raise ConfigError(f"`simd.frac_bits` must be in [0, 14], not {frac_bits!r}")
    if not 0 <= segment_bits <= frac_bits:
        raise ConfigError(
            f"`simd.gelu_segment_bits` must be in [0, simd.frac_bits={frac_bits}], "
            f"not {segment_bits!r}"
        )
    scale, step = 1 << frac_bits, 2.0 ** -segment_bits
    peak = 0.75  # h rises to its maximum near t = 0.75 and decreases monotonically after it
    knots = []
    k = 0
    while True:
        t = k * step
        knots.append(math.floor(gelu_tail(t) * scale + 0.5))
        if t > peak and knots[-1] == 0:
            return GeluTable(frac_bits, segment_bits, tuple(knots))
        k += 1


def requantise(a: np.ndarray, shift: int) -> np.ndarray:
    """Return ``sat16(floor((a + 2**(shift-1)) / 2**shift))`` (round half up) as int64."""
    if not 0 <= shift <= MAX_SHIFT:
        raise ConfigError(f"`shift` must be in [0, {MAX_SHIFT}], not {shift!r}")
    a = np.asarray(a, dtype=np.int64)
    rounding = (1 << shift) >> 1
    return np.clip((a + rounding) >> shift, INT16_MIN, INT16_MAX)


def gelu_fixed(x: np.ndarray, table: GeluTable) -> np.ndarray:
    """Return the fixed-point GELU of int16 ``x`` (Q.f in, Q.f out) as int64."""
    x = np.asarray(x, dtype=np.int64)
    magnitude = np.abs(x)
    sub = table.sub_bits
    segment = magnitude >> sub
    fraction = magnitude & ((1 << sub) - 1)
    inside = segment < table.segments
    index = np.where(inside, segment, 0)
    knots = np.asarray(table.knots, dtype=np.int64)
    deltas = np.asarray(table.deltas, dtype=np.int64)
    rounding = (1 << sub) >> 1
    tail = knots[index] + ((deltas[index] * fraction + rounding) >> sub)
    return np.maximum(x, 0) - np.where(inside, tail, 0)


def hot_bits(y: np.ndarray, tau: int) -> np.ndarray:
    """Return ``|y| > tau`` (bool) for int16 ``y`` and an int16 threshold register ``tau``."""
    _check_int16("tau", tau)
    return np.abs(np.asarray(y, dtype=np.int64)) > tau


def simd_apply(op: SimdOp, a: np.ndarray, b: np.ndarray, *, shift: int,
               table: GeluTable) -> np.ndarray:
    """Return the int16 results (as int64) of ``op`` on int32 operand arrays ``a`` and ``b``."""
    a, b = _int32("a", a), _int32("b", b)
    op = SimdOp(op)
    if op is SimdOp.REQUANT:
        return requantise(a, shift)
    if op is SimdOp.GELU:
        return gelu_fixed(requantise(a, shift), table)
    if op is SimdOp.GEGLU:
        gate = gelu_fixed(requantise(a, shift), table)
        return requantise(requantise(b, shift) * gate, table.frac_bits)
    return requantise(a + b, shift)


def _int32(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    if values.size and (values.min() < INT32_MIN or values.max() > INT32_MAX):
        raise ConfigError(f"`{name}` holds values outside int32")
    return values


def _check_int16(name: str, value: int) -> None:
    if not INT16_MIN <= value <= INT16_MAX:
        raise ConfigError(f"`{name}` must be an int16 value, not {value!r}")
