"""The column-skip logic's spec: one case table, run on every implementation of the block.

A :class:`SkipCase` names the array width C (the mask word width and the tile of the skip
logic the hardware builds), an explicit seed and its :class:`SkipLayer` s, run one after
another: each a mask kind (:data:`colsim.testing.MASK_KINDS`), N columns and a stall
probability of the mask source and the column sink. The same table runs on the reference
model, the Amaranth simulator and Verilator (``tests/hw/test_skip.py``) and makes the block's
part of ``colsim regress``; the cocotb bench draws the same masks (:meth:`SkipCase.mask`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, reference_hardware
from colsim.testing import MASK_KINDS, make_mask


@dataclass(frozen=True)
class SkipLayer:
    """One layer's mask: ``kind`` over ``n`` columns, streamed with ``stall``."""

    kind: str
    n: int
    stall: float = 0.3


@dataclass(frozen=True)
class SkipCase:
    """The layers of one run of the skip logic of a ``cols``-wide array."""

    cols: int
    seed: int
    layers: tuple[SkipLayer, ...]

    @property
    def name(self) -> str:
        """Return the case's id: array width, the first layer's N and the seed."""
        return f"{self.cols}-n{self.layers[0].n}-s{self.seed}"

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with a 4×``cols`` array."""
        return reference_hardware().with_overrides({"systolic": {"rows": 4, "cols": self.cols}})

    def mask(self, index: int) -> np.ndarray:
        """Return the hot mask of layer ``index``, drawn from the seed ``seed + 3·index``."""
        layer = self.layers[index]
        return make_mask(np.random.default_rng(self.seed + 3 * index), layer.n, layer.kind)

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> SkipCase:
        """Return the case from its JSON."""
        return cls(case["cols"], case["seed"], tuple(SkipLayer(**x) for x in case["layers"]))


def _every_kind(cols: int, seed: int, n: int, stall: float) -> SkipCase:
    return SkipCase(cols, seed, tuple(SkipLayer(kind, n, stall) for kind in MASK_KINDS))


SKIP_CASES: tuple[SkipCase, ...] = (
    # First: the sample Verilator runs by default. Every edge case twice (with and without
    # stalls); N = 37 leaves a ragged last mask word and (mostly) a ragged last tile.
    SkipCase(4, 1, tuple(SkipLayer(kind, 37, stall)
                         for kind in MASK_KINDS for stall in (0.0, 0.4))),
    _every_kind(4, 4, 101, 0.3),
    _every_kind(8, 8, 100, 0.3),
    _every_kind(3, 3, 64, 0.3),
    _every_kind(16, 16, 200, 0.3),
    # Unstalled: one column per cycle; a whole word, fewer columns than a tile, one column.
    _every_kind(8, 512, 64, 0.0),
    _every_kind(3, 15, 5, 0.0),
    _every_kind(1, 1, 1, 0.0),
)
"""Every case of the block, in a stable order (names are unique)."""
