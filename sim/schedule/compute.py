"""Cycle model of the compute units: the one place the schedule takes compute times from.

The systolic engine is output-stationary: an R×C array computes an R×C output tile by
streaming K operand steps (one R-vector and one C-vector per core cycle). Consecutive tiles
pipeline, so the array is busy K cycles per tile, but a tile occupies it for at least R+C
cycles (fill and drain of the wavefront); the difference ``max(0, R+C-K)`` is counted as
overhead. A tile's results reach the SIMD unit ``R + C + drain_extra`` cycles after its last
step. The SIMD unit processes ``lanes`` 16-bit elements per cycle; every element-wise
operation is a number of *passes* over the tile (figures in :class:`ComputeModel`). The RTL's
measured cycles are checked against these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from colsim.config import HardwareConfig
from colsim.config.loader import non_negative


@dataclass(frozen=True)
class SimdPasses:
    """SIMD passes per element of a tile for each element-wise operation."""

    gelu: int = field(default=1, metadata=non_negative())  # GELU approximation + requantise
    geglu: int = field(default=1, metadata=non_negative())  # value ⊙ GELU(gate) multiply
    threshold: int = field(default=1, metadata=non_negative())  # |h| > τ and column-max update
    requantise: int = field(default=1, metadata=non_negative())  # int32 accumulators → int16
    add_cold: int = field(default=1, metadata=non_negative())  # + cached cold contribution
    move: int = field(default=1, metadata=non_negative())  # copy (dynamic re-layout swaps)


@dataclass(frozen=True)
class ComputeModel:
    """Compute-time figures beyond the array shape (defaults: the reference hardware)."""

    drain_extra: int = field(default=0, metadata=non_negative())  # beyond R + C result latency
    simd: SimdPasses = field(default_factory=SimdPasses)


def array_overhead(k_tile: int, hw: HardwareConfig) -> int:
    """Return the cycles a tile of ``k_tile`` steps occupies the array beyond its K steps."""
    return max(0, hw.systolic.rows + hw.systolic.cols - k_tile)


def result_latency(hw: HardwareConfig, compute: ComputeModel) -> int:
    """Return the cycles from a tile's last operand step until the SIMD unit may read it."""
    return hw.systolic.rows + hw.systolic.cols + compute.drain_extra


def simd_cycles(elements: int, passes: int, hw: HardwareConfig) -> int:
    """Return the cycles of ``passes`` element-wise passes over ``elements`` values."""
    return passes * -(-elements // hw.simd.lanes)
