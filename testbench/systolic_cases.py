"""The systolic engine's spec: one case table, run on every implementation of the engine.

Each :class:`SystolicCase` names an array size, a product shape, an operand kind, an explicit
seed and the stall probabilities of the operand sources and the result sink. The same table
runs on the reference model, the Amaranth simulator and Verilator (``tests/hw/test_systolic.py``)
and makes the engine's part of ``colsim regress``; the cocotb bench rebuilds a case from its
JSON (:meth:`SystolicCase.from_json`) and draws the same operands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from itertools import product
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, reference_hardware
from colsim.testbench.operands import make_operands


@dataclass(frozen=True)
class SystolicCase:
    """An ``m``×``k`` by ``k``×``n`` product of ``kind`` operands on a ``rows``×``cols`` array."""

    rows: int
    cols: int
    m: int
    k: int
    n: int
    kind: str
    seed: int
    source_stall: float = 0.3
    sink_stall: float = 0.3

    @property
    def name(self) -> str:
        """Return the case's id: array, product shape, operand kind and seed."""
        return f"{self.rows}x{self.cols}-{self.m}x{self.k}x{self.n}-{self.kind}-s{self.seed}"

    @property
    def tiles(self) -> int:
        """Return the number of output tiles of the product."""
        return -(-self.m // self.rows) * -(-self.n // self.cols)

    @property
    def stalls(self) -> bool:
        """Return whether the source or the sink pauses (no cycle-exact timing then)."""
        return self.source_stall > 0 or self.sink_stall > 0

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with this case's array size."""
        return reference_hardware().with_overrides(
            {"systolic": {"rows": self.rows, "cols": self.cols}})

    def operands(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the case's operands A (M×K) and B (K×N), drawn from its seed."""
        return make_operands(np.random.default_rng(self.seed), self.m, self.k, self.n,
                             self.kind)

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> SystolicCase:
        """Return the case from its JSON (extra keys, such as bench self-tests, ignored)."""
        return cls(**{field.name: case[field.name] for field in fields(cls)})


def _shape_sweep() -> list[SystolicCase]:
    """Return small products of every operand kind, unstalled (exact timing checked)."""
    shapes = [(2, 2, 4, 5, 4), (2, 3, 5, 3, 7), (4, 4, 1, 1, 1), (4, 4, 9, 17, 6),
              (8, 4, 12, 8, 3)]
    return [SystolicCase(rows, cols, m, k, n, kind, seed=seed, source_stall=0.0,
                         sink_stall=0.0)
            for seed, ((rows, cols, m, k, n), kind)
            in enumerate(product(shapes, ("random", "extreme", "min")), start=100)]


def _stall_sweep() -> list[SystolicCase]:
    """Return products under equal source stalls and sink back-pressure."""
    shapes = [
        (2, 2, 4, 6, 4, 0.0),      # exact fit, no stalls
        (2, 3, 5, 3, 7, 0.3),      # ragged in both M and N, K shorter than the array
        (4, 4, 8, 16, 8, 0.5),     # heavy source stalls and sink back-pressure
        (4, 4, 3, 1, 2, 0.2),      # K = 1 and a tile larger than the product
        (8, 4, 9, 10, 5, 0.3),     # 8x4 array, ragged
    ]
    return [SystolicCase(rows, cols, m, k, n, kind, seed=seed, source_stall=stall,
                         sink_stall=stall)
            for seed, ((rows, cols, m, k, n, stall), kind)
            in enumerate(product(shapes, ("random", "extreme")), start=200)]


def _timing_sweep() -> list[SystolicCase]:
    """Return back-to-back full tiles, unstalled: the engine's exact cycle count."""
    shapes = [
        (4, 4, 12, 6),   # K >= R + C: one step per cycle
        (4, 4, 2, 6),    # K < R + C: each tile waits for the previous one to drain
        (2, 2, 1, 1),
        (8, 4, 8, 3),
    ]
    return [SystolicCase(rows, cols, rows * tiles, k, cols, "random", seed=seed,
                         source_stall=0.0, sink_stall=0.0)
            for seed, (rows, cols, k, tiles) in enumerate(shapes, start=300)]


SYSTOLIC_CASES: tuple[SystolicCase, ...] = (
    # First: the sample Verilator runs by default (the 4×4 build the bench self-tests reuse).
    SystolicCase(4, 4, 9, 7, 6, "random", seed=1),                         # ragged M and N
    SystolicCase(4, 4, 8, 16, 8, "extreme", seed=1, source_stall=0.5),     # int32 wrap-around
    SystolicCase(8, 4, 5, 3, 11, "min", seed=1, sink_stall=0.6),           # K < R + C
    SystolicCase(2, 2, 7, 9, 5, "random", seed=2),
    SystolicCase(2, 2, 1, 1, 1, "extreme", seed=3),
    SystolicCase(8, 8, 17, 33, 12, "random", seed=4),
    SystolicCase(8, 4, 16, 40, 16, "extreme", seed=5, source_stall=0.0, sink_stall=0.0),
    *_shape_sweep(),
    *_stall_sweep(),
    *_timing_sweep(),
)
"""Every case of the engine, in a stable order (names are unique)."""
