"""The hot-cold remapper's spec: one case table, run on every implementation of the block.

A :class:`RemapCase` names a DRAM preset, an explicit seed and its :class:`RemapPart` s, run
one after another: each a layout kind (:data:`REMAP_LAYOUTS`) over N columns, a request
count, the ``base`` and ``stride`` registers and a stall probability. The same table runs on
the reference model, the Amaranth simulator and Verilator (``tests/hw/test_remap.py``) and
makes the block's part of ``colsim regress``; the cocotb bench draws the same layout and
requests (:meth:`RemapCase.requests`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, reference_hardware
from colsim.sim.layout import Layout, hotcold_layout, rowmajor_layout

REMAP_LAYOUTS = ("random", "hotcold", "identity")


def make_layout(rng: np.random.Generator, n: int, kind: str) -> Layout:
    """Return a layout of N columns: a random permutation, a hot-cold one, or row-major."""
    if kind == "random":
        return Layout("perlayer", rng.permutation(n))
    if kind == "hotcold":
        return hotcold_layout(rng.random(n) < 0.3)
    if kind == "identity":
        return rowmajor_layout(n)
    raise ValueError(f"`kind` must be one of {', '.join(REMAP_LAYOUTS)}, not {kind!r}")


@dataclass(frozen=True)
class RemapPart:
    """``count`` requests to N columns laid out by ``layout``, at ``base`` + slot·``stride``.

    ``identity`` runs the remapper's bypass (no table is programmed).
    """

    layout: str
    n: int
    count: int
    base: int
    stride: int
    stall: float = 0.3


@dataclass(frozen=True)
class RemapCase:
    """The parts of one run of the remapper in front of the DRAM ``preset``."""

    preset: str
    seed: int
    parts: tuple[RemapPart, ...]

    @property
    def name(self) -> str:
        """Return the case's id: preset, the first part's layout and the seed."""
        return f"{self.preset}-{self.parts[0].layout}-s{self.seed}"

    def hardware(self) -> HardwareConfig:
        """Return the reference hardware with this case's DRAM preset."""
        return reference_hardware().with_overrides({"dram": {"preset": self.preset}})

    def requests(self, index: int) -> tuple[Layout, np.ndarray, np.ndarray]:
        """Return part ``index``'s layout, columns and byte offsets (seed ``seed + 3·index``)."""
        part = self.parts[index]
        rng = np.random.default_rng(self.seed + 3 * index)
        layout = make_layout(rng, part.n, part.layout)
        return (layout, rng.integers(0, part.n, part.count),
                rng.integers(0, 1 << 12, part.count))

    def to_json(self) -> dict[str, Any]:
        """Return the case as the bench's JSON ``COLSIM_CASE``."""
        return asdict(self)

    @classmethod
    def from_json(cls, case: dict[str, Any]) -> RemapCase:
        """Return the case from its JSON."""
        return cls(case["preset"], case["seed"], tuple(RemapPart(**p) for p in case["parts"]))


GDDR6_THIRD = 1 << 32  # a third of the 12 GiB GDDR6 reference: addresses need all 34 bits

REMAP_CASES: tuple[RemapCase, ...] = (
    # First: the sample Verilator runs by default. 6 GDDR6 channels: the decode divides by a
    # non-power of two in hardware; the last part spans a table of 5120 columns.
    RemapCase("gddr6", 1, (
        RemapPart("random", 300, 150, GDDR6_THIRD, 4096),
        RemapPart("hotcold", 300, 150, GDDR6_THIRD + 128, 4096, stall=0.0),
        RemapPart("identity", 300, 150, GDDR6_THIRD + 256, 8192 * 6, stall=0.5),
        RemapPart("random", 5120, 100, GDDR6_THIRD + 384, 1 << 20),
    )),
    # Odd bases and strides: every address bit and every decode digit moves.
    RemapCase("gddr6", 7, (
        RemapPart("random", 48, 80, 2_654_435_769, 1_000_003),
        RemapPart("hotcold", 48, 80, 1_234_567_891, 65_537, stall=0.0),
        RemapPart("identity", 48, 80, 3_141_592_653, 2_718_281, stall=0.5),
    )),
    RemapCase("hbm2", 7, (RemapPart("random", 48, 80, 2_135_587_861, 999_983),)),
)
"""Every case of the block, in a stable order (names are unique)."""
