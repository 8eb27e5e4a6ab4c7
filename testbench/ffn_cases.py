"""The FFN top's cross-check cases: one table, run by ``colsim crosscheck`` and ``colsim regress``.

Each :class:`FfnCase` is one co-simulation of a layer with seeded random operands on a 4×4 or
8×8 array (the sizes the co-simulation supports) with the tiny or the reference buffers, DRAM
refresh on or off, optionally the DMA's memory-level parallelism (a smaller in-flight table, a
cap on unanswered requests, fewer DRAM channels, requests of several DRAM transactions; both
executors honour them) or another SIMD width (``lanes``: a beat of several tile rows, or several
beats per row), a dense FFN-Reuse iteration that fixes the hot mask at ``tau`` and
``iterations - 1`` sparse ones. The hot mask is the profiler's rule on the dense iteration's
quantised data (a column is hot when one of its int16 activations exceeds τ), so it equals the
mask the top derives. :data:`QUICK_CASES` (``make test``) is a subset of :data:`DEFAULT_CASES`;
:func:`load_cases` reads a user's table (TOML, ``[[case]]`` entries with these fields).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from itertools import product
from pathlib import Path

import numpy as np

from colsim.config import HardwareConfig, load_hardware_config, tiny_array_hardware
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.sim.functional.fixed_point import ffn_reference, tau_register
from colsim.testbench.ffn_case import STATIC_LAYOUTS, CosimSpec
from colsim.testbench.ffn_data import random_operands

LAYERS = {
    "plain": FfnLayer("plain", 8, 16, 64, False),
    "gated": FfnLayer("gated", 6, 12, 48, True),
    "wide": FfnLayer("wide", 16, 40, 96, False),
}
BUFFERS = ("tiny", "reference")
NO_REFRESH = Path(__file__).with_name("gddr6_no_refresh.toml")  # the GDDR6 preset, no refresh
ARRAYS = (4, 8)


@dataclass(frozen=True)
class FfnCase:
    """One cross-check case (see the module docstring)."""

    array: int
    layer: str
    layout: str
    tau: float
    buffers: str = "tiny"
    refresh: bool = True
    iterations: int = 3
    seed: int = 0
    in_flight: int = 0  # DMA transfers in flight (0: the hardware's dma.transfers_in_flight)
    lanes: int = 0  # SIMD lanes, a power of two (0: the hardware's simd.lanes)
    requests: int = 0  # DRAM requests unanswered at most (0: dma.requests_in_flight)
    channels: int = 0  # DRAM channels used (0: dma.channels)
    request_bytes: int = 0  # bytes per DMA request (0: dma.request_bytes)

    def __post_init__(self) -> None:
        if self.array not in ARRAYS:
            raise ColsimError(f"`array` must be one of 4, 8, not {self.array!r}")
        if self.layer not in LAYERS:
            raise ColsimError(f"`layer` must be one of {', '.join(LAYERS)}, not {self.layer!r}")
        if self.layout not in STATIC_LAYOUTS:
            raise ColsimError(f"`layout` must be one of {', '.join(STATIC_LAYOUTS)}, "
                              f"not {self.layout!r}")
        if self.buffers not in BUFFERS:
            raise ColsimError(f"`buffers` must be 'tiny' or 'reference', not {self.buffers!r}")
        for name in ("in_flight", "requests", "channels", "request_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ColsimError(f"`{name}` must be a non-negative integer, not {value!r}")
        if (not isinstance(self.lanes, int) or isinstance(self.lanes, bool) or self.lanes < 0
                or self.lanes & (self.lanes - 1)):
            raise ColsimError(f"`lanes` must be 0 or a power of two, not {self.lanes!r}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ColsimError(f"`iterations` must be a positive integer, not "
                              f"{self.iterations!r}")

    @property
    def name(self) -> str:
        """Return the case's id: array, layer, layout, τ, buffers, refresh, options, seed."""
        flight = "".join(f"-{letter}{value}" for letter, value in (
            ("f", self.in_flight), ("q", self.requests), ("c", self.channels),
            ("b", self.request_bytes)) if value)
        lanes = f"-l{self.lanes}" if self.lanes else ""
        return (f"{self.array}x{self.array}-{self.layer}-{self.layout}-t{self.tau:g}-"
                f"{self.buffers}-{'ref' if self.refresh else 'noref'}{flight}{lanes}"
                f"-s{self.seed}")

    def hardware(self, base: HardwareConfig | None = None) -> HardwareConfig:
        """Return the case's hardware: ``base`` (tiny: the tiny configuration) with its array.

        ``reference`` buffers keep ``base``'s (default: the reference hardware's) SRAM.
        """
        if self.buffers == "tiny" and base is None:
            hw = tiny_array_hardware(self.array)
        else:
            hw = (base or load_hardware_config(None)).with_overrides(
                {"systolic": {"rows": self.array, "cols": self.array}})
        if not self.refresh:
            hw = hw.with_overrides({"dram": {"file": str(NO_REFRESH)}})
        dma = {key: value for key, value in (("transfers_in_flight", self.in_flight),
                                             ("requests_in_flight", self.requests),
                                             ("channels", self.channels),
                                             ("request_bytes", self.request_bytes)) if value}
        if dma:
            hw = hw.with_overrides({"dma": dma})
        if self.lanes:
            hw = hw.with_overrides({"simd": {"lanes": self.lanes}})
        return hw

    def hot_mask(self, hw: HardwareConfig) -> np.ndarray:
        """Return the dense iteration's hot columns at τ (the profiler's rule, quantised)."""
        layer = LAYERS[self.layer]
        operands, _ = random_operands(layer, 1, self.seed).quantised(0, hw.simd.frac_bits)
        result = ffn_reference(operands, frac_bits=hw.simd.frac_bits,
                               segment_bits=hw.simd.gelu_segment_bits, mode="dense",
                               hot=np.ones(layer.hidden, bool),
                               tau_q=tau_register(self.tau, hw.simd.frac_bits))
        return np.asarray(result.mask, dtype=bool)

    def spec(self, base: HardwareConfig | None = None) -> CosimSpec:
        """Return the co-simulation of this case (GDDR6 memory, random operands)."""
        hw = self.hardware(base)
        return CosimSpec(hw, LAYERS[self.layer], self.hot_mask(hw), layout=self.layout,
                         iterations=self.iterations, seed=self.seed, tau=self.tau)


def _default_cases() -> tuple[FfnCase, ...]:
    """Both arrays × layers × layouts × τ, plus buffers and refresh variations."""
    cases = []
    for array, layer, (layout, tau) in product(
            ARRAYS, ("plain", "gated"),
            (("rowmajor", 0.1), ("hotcold", 0.4), ("perlayer", 1.2))):
        cases.append(FfnCase(array, layer, layout, tau))
    for array, layer, tau in product(ARRAYS, ("plain", "gated"), (0.4, 1.2)):
        cases.append(FfnCase(array, layer, "hotcold", tau, refresh=False))
    for array, layout in product(ARRAYS, ("rowmajor", "hotcold")):
        cases.append(FfnCase(array, "plain", layout, 0.4, buffers="reference"))
    cases.append(FfnCase(4, "wide", "rowmajor", 0.4))
    cases.append(FfnCase(4, "wide", "hotcold", 1.2, refresh=False))
    cases.append(FfnCase(4, "gated", "hotcold", 0.4, refresh=False, in_flight=2))
    cases.append(FfnCase(4, "plain", "hotcold", 0.4, refresh=False, lanes=8, requests=1,
                         channels=2))
    cases.append(FfnCase(8, "gated", "rowmajor", 0.1, requests=3))
    cases.append(FfnCase(4, "gated", "perlayer", 1.2, channels=1))
    cases.append(FfnCase(8, "plain", "hotcold", 0.4, refresh=False, requests=2, channels=4))
    # DMA requests of two and four DRAM transactions (dma.request_bytes 256, 512 B).
    cases.append(FfnCase(4, "gated", "rowmajor", 0.1, requests=2, channels=4,
                         request_bytes=256))
    cases.append(FfnCase(8, "plain", "hotcold", 0.4, refresh=False, requests=3,
                         request_bytes=512))
    cases.append(FfnCase(4, "plain", "perlayer", 1.2, request_bytes=512))
    # τ leaving at most 20 % of the columns hot (12.5 % and 16.7 %).
    cases.append(FfnCase(4, "plain", "hotcold", 2.0))
    cases.append(FfnCase(8, "gated", "perlayer", 1.6, refresh=False))
    # SIMD units of other widths than a tile row (the tiny 8x8 array's 4 lanes are too).
    cases.append(FfnCase(4, "plain", "hotcold", 0.4, lanes=8))
    cases.append(FfnCase(4, "gated", "rowmajor", 0.1, refresh=False, lanes=16))
    cases.append(FfnCase(8, "gated", "hotcold", 1.2, lanes=16))
    return tuple(cases)


DEFAULT_CASES = _default_cases()
QUICK_CASES = (
    FfnCase(4, "plain", "rowmajor", 0.1),
    FfnCase(4, "gated", "hotcold", 0.4, refresh=False, in_flight=2),
    FfnCase(4, "plain", "hotcold", 0.4, refresh=False, lanes=8, requests=1, channels=2),
)
CASE_SETS = {"quick": QUICK_CASES, "default": DEFAULT_CASES}


def load_cases(which: str | Path) -> tuple[FfnCase, ...]:
    """Return the named case set (``quick``, ``default``) or the cases of a TOML file."""
    if str(which) in CASE_SETS:
        return CASE_SETS[str(which)]
    path = Path(which)
    if not path.is_file():
        raise ColsimError(f"`cases` must be 'quick', 'default' or a TOML file, not {str(which)!r}")
    try:
        entries = tomllib.loads(path.read_text()).get("case", [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ColsimError(f"case file {str(path)!r} is not valid TOML ({exc})") from None
    known = {f.name for f in fields(FfnCase)}
    out = []
    for index, entry in enumerate(entries):
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ColsimError(f"case {index} of {str(path)!r} has unknown key {unknown[0]!r}")
        try:
            out.append(FfnCase(**entry))
        except TypeError as exc:
            raise ColsimError(f"case {index} of {str(path)!r}: {exc}") from None
    if not out:
        raise ColsimError(f"case file {str(path)!r} has no [[case]] entries")
    return tuple(out)
