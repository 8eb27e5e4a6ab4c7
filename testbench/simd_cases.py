"""Seeded SIMD beat generators shared by the Amaranth and cocotb benches of the SIMD unit."""

from __future__ import annotations

import numpy as np

from colsim.fixed_arith import INT32_MAX, INT32_MIN, SimdOp
from colsim.hw.simd_model import SimdBeat

BEAT_KINDS = ("random", "extreme", "small", "near")


def make_simd_beats(rng: np.random.Generator, lanes: int, count: int, kind: str,
                    *, shift: int = 8, group: int = 4) -> list[SimdBeat]:
    """Return ``count`` beats of random ops; ``last`` ends every ``group``-th beat and the last.

    ``random``: uniform int32 (saturates almost always); ``extreme``: only int32 min/max and
    0; ``small``: uniform in ±2**(shift+9), the range that maps onto int16 without
    saturating; ``near``: values around the rounding and saturation boundaries of ``shift``.
    """
    if kind == "random":
        a = rng.integers(INT32_MIN, INT32_MAX + 1, (count, 2, lanes))
    elif kind == "extreme":
        a = rng.choice(np.array([INT32_MIN, INT32_MAX, 0, -1, 1]), (count, 2, lanes))
    elif kind == "small":
        bound = 1 << min(shift + 9, 31)
        a = rng.integers(-bound, bound, (count, 2, lanes))
    elif kind == "near":
        unit = 1 << shift
        anchors = np.array([0, unit // 2, -(unit // 2), 32767 * unit, -32768 * unit,
                            32767 * unit + unit // 2, -32768 * unit - unit // 2 - 1])
        a = rng.choice(anchors, (count, 2, lanes)) + rng.integers(-2, 3, (count, 2, lanes))
        a = np.clip(a, INT32_MIN, INT32_MAX)
    else:
        raise ValueError(f"`kind` must be one of {', '.join(BEAT_KINDS)}, not {kind!r}")
    ops = rng.integers(0, len(SimdOp), count)
    return [
        SimdBeat(SimdOp(int(ops[n])), tuple(int(v) for v in a[n, 0]),
                 tuple(int(v) for v in a[n, 1]), last=(n % group == group - 1) or n == count - 1)
        for n in range(count)
    ]
