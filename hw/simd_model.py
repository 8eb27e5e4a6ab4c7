"""Reference model of the SIMD unit, bit-exact with ``hw/simd.py``: beats in, results out.

The arithmetic (number formats, requantisation, the GELU approximation, the operations) is
:mod:`colsim.fixed_arith`'s. The unit adds the grouping: hot bits are OR-reduced lane-wise over
the beats of a group that ends with ``last``; with one beat per token row of a tile, the
group's result is the tile's column hot mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.errors import ConfigError
from colsim.fixed_arith import SimdOp, gelu_table, hot_bits, simd_apply


@dataclass(frozen=True)
class SimdBeat:
    """One input beat: ``op`` on ``lanes`` int32 values ``a`` and ``b``; ``last`` ends a group."""

    op: SimdOp
    a: tuple[int, ...]
    b: tuple[int, ...]
    last: bool


@dataclass(frozen=True)
class SimdResult:
    """One output beat: int16 ``data``, the group's running lane-wise OR of hot bits, ``last``."""

    data: tuple[int, ...]
    hot: tuple[bool, ...]
    last: bool


class SimdUnitModel:
    """Transaction-level model of the SIMD unit: beats in, results out, in order."""

    def __init__(self, lanes: int, frac_bits: int, segment_bits: int) -> None:
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes <= 0:
            raise ConfigError(f"`lanes` must be a positive integer, not {lanes!r}")
        self.lanes = lanes
        self.table = gelu_table(frac_bits, segment_bits)
        self._hot = np.zeros(lanes, dtype=bool)

    def process(self, beats: list[SimdBeat], *, shift: int, tau: int) -> list[SimdResult]:
        """Return the results of ``beats`` under the ``shift`` and ``tau`` registers."""
        out = []
        for beat in beats:
            if len(beat.a) != self.lanes or len(beat.b) != self.lanes:
                raise ConfigError(
                    f"a beat must carry {self.lanes} `a` and `b` values, "
                    f"not {len(beat.a)} and {len(beat.b)}"
                )
            y = simd_apply(beat.op, np.array(beat.a), np.array(beat.b), shift=shift,
                           table=self.table)
            self._hot |= hot_bits(y, tau)
            out.append(SimdResult(tuple(int(v) for v in y),
                                  tuple(bool(v) for v in self._hot), beat.last))
            if beat.last:
                self._hot[:] = False
        return out
