"""The SIMD unit's spec: seeded beat generators and one case table for every implementation.

A :class:`SimdCase` names the unit (lanes and number format), an explicit seed and its
:class:`SimdPart` s, run one after another: each a beat kind and count, the ``shift`` and
``tau`` registers, the group length and the stall probabilities. The same table runs on the
reference model, the Amaranth simulator and Verilator (``tests/hw/test_simd.py``) and makes
the unit's part of ``colsim regress``; the cocotb bench draws the same beats
(:meth:`SimdCase.beats`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, reference_hardware
from colsim.fixed_arith import INT32_MAX, INT32_MIN, SimdOp
from colsim.hw.simd_model import SimdBeat

BEAT_KINDS = ("random", "extreme", "small", "near", "ramp")


def make_simd_beats(rng: np.random.Generator, lanes: int, count: int, kind: str,
                    *, shift: int = 8, group: int = 4) -> list[SimdBeat]:
    """Return ``count`` beats of random ops; ``last`` ends every ``group``-th beat and the last.

    ``random``: uniform int32 (saturates almost always); ``extreme``: only int32 min/max and
    0; ``small``: uniform in ±2**(shift+9), the range that maps onto int16 without
    saturating; ``near``: values around the rounding and saturation boundaries of ``shift``;
    ``ramp``: GELU of every integer in [-count·lanes/2, count·lanes/2) in order (``b`` = 0).
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
    elif kind == "ramp":
        a = np.zeros((count, 2, lanes), dtype=np.int64)
        a[:, 0] = np.arange(count * lanes).reshape(count, lanes) - count * lanes // 2
    else:
        raise ValueError(f"`kind` must be one of {', '.join(BEAT_KINDS)}, not {kind!r}")
    ops = (np.full(count, int(SimdOp.GELU)) if kind == "ramp"
           else rng.integers(0, len(SimdOp), count))
    return [
        SimdBeat(SimdOp(int(ops[n])), tuple(int(v) for v in a[n, 0]),
                 tuple(int(v) for v in a[n, 1]), last=(n % group == group - 1) or n == count - 1)
        for n in range(count)
    ]


@dataclass(frozen=True)
class SimdPart:
    """``count`` beats of ``kind`` under the ``shift`` and ``tau`` registers."""

    kind: str
    shift: int
    tau: int
    count: int = 120
    group: int = 4
    source_stall: float = 0.3
    sink_stall: float = 0.3

    @property
    def stalls(self) -> bool:
        """Return whether the source or the sink pauses (no cycle-exact timing then)."""
        return self.source_stall > 0 or self.sink_stall > 0


@dataclass(frozen=True)
class SimdCase:
    """The parts of one run of a ``lanes``-wide unit in Q(15-``frac_bits``).``frac_bits``."""

    lanes: int
    seed: int
    parts: tuple[SimdPart, ...]
    frac_bits: int = 8
    segment_bits: int = 3

    @property
    def name(self) -> str:
        """Return the case's id: lanes, number format and seed."""
        return f"{self.lanes}-q{self.frac_bits}.{self.segment_bits}-s{self.seed}"

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with this case's SIMD unit."""
        return reference_hardware().with_overrides({"simd": {
            "lanes": self.lanes, "frac_bits": self.frac_bits,
            "gelu_segment_bits": self.segment_bits}})

    def beats(self, index: int) -> list[SimdBeat]:
        """Return the beats of part ``index``, drawn from the seed ``seed + 3·index``."""
        part = self.parts[index]
        return make_simd_beats(np.random.default_rng(self.seed + 3 * index), self.lanes,
                               part.count, part.kind, shift=part.shift, group=part.group)

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> SimdCase:
        """Return the case from its JSON."""
        return cls(case["lanes"], case["seed"], tuple(SimdPart(**p) for p in case["parts"]),
                   case["frac_bits"], case["segment_bits"])


MORE_PARTS = tuple(SimdPart(kind, shift, tau, count=300, group=group)
                   for kind, shift, tau, group in [("near", 12, 255, 7), ("small", 4, 3, 1),
                                                   ("random", 16, 1000, 32),
                                                   ("extreme", 8, 0, 3)])

SIMD_CASES: tuple[SimdCase, ...] = (
    # First: the sample Verilator runs by default.
    SimdCase(4, 1, (
        SimdPart("small", 8, 100),                                # working range, back-pressure
        SimdPart("near", 8, 0, sink_stall=0.6),                   # rounding/saturation, τ = 0
        SimdPart("extreme", 0, 32767, source_stall=0.0),          # int32 extremes, no shift
        SimdPart("random", 31, -1),                               # maximal shift, τ < 0: all hot
        SimdPart("small", 8, 10, count=50, source_stall=0.0, sink_stall=0.0),  # full throughput
    )),
    SimdCase(4, 2, tuple(SimdPart(kind, shift, tau, count=60, group=5, source_stall=stall,
                                  sink_stall=stall)
                         for kind, shift, tau, stall in [
                             ("small", 8, 100, 0.3),      # the working range
                             ("near", 8, 0, 0.3),         # rounding and saturation edges
                             ("extreme", 0, 32767, 0.0),  # saturation everywhere
                             ("random", 31, -1, 0.5),     # maximal shift; τ < 0: all hot
                             ("near", 12, 255, 0.2)])),
    SimdCase(4, 7, MORE_PARTS),
    SimdCase(1, 8, MORE_PARTS),
    SimdCase(2, 9, MORE_PARTS),
    SimdCase(8, 9, tuple(SimdPart(kind, shift, tau) for kind, shift, tau in [
        ("small", 8, 100), ("near", 8, 0), ("extreme", 0, 32767), ("random", 31, -1)])),
    # At Q11.4 forty beats hold every int16 input of the GELU's interpolated range and more.
    SimdCase(8, 10, (SimdPart("ramp", 0, 3, count=40, group=1, source_stall=0.0,
                              sink_stall=0.0),), frac_bits=4, segment_bits=2),
)
"""Every case of the unit, in a stable order (names are unique)."""
