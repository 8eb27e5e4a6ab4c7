"""Seeded int16 operand generators shared by the Amaranth and cocotb benches."""

from __future__ import annotations

import numpy as np

from colsim.hw.systolic_model import INT16_MAX, INT16_MIN

OPERAND_KINDS = ("random", "extreme", "min", "small")


def make_operands(rng: np.random.Generator, m: int, k: int, n: int, kind: str):
    """Return (A, B) of shapes M×K and K×N as int64 arrays holding int16 values.

    ``random``: uniform over int16; ``extreme``: only -32768 and 32767 (maximal products and
    int32 wrap-around); ``min``: every value -32768; ``small``: uniform in [-8, 8].
    """
    if kind == "random":
        return (rng.integers(INT16_MIN, INT16_MAX + 1, (m, k)),
                rng.integers(INT16_MIN, INT16_MAX + 1, (k, n)))
    if kind == "extreme":
        extremes = np.array([INT16_MIN, INT16_MAX])
        return rng.choice(extremes, (m, k)), rng.choice(extremes, (k, n))
    if kind == "min":
        return np.full((m, k), INT16_MIN), np.full((k, n), INT16_MIN)
    if kind == "small":
        return rng.integers(-8, 9, (m, k)), rng.integers(-8, 9, (k, n))
    raise ValueError(f"`kind` must be one of {', '.join(OPERAND_KINDS)}, not {kind!r}")
