"""What one co-simulation of the FFN engine top runs: hardware, layer, layout, iterations.

A :class:`CosimSpec` is built in the calling process, travels to the cocotb bench as JSON
(:meth:`CosimSpec.to_case` / :meth:`CosimSpec.from_case`) and yields there the schedules of
its layer-iterations — built by :func:`colsim.sim.schedule.build_schedule`, the contract the
RTL's request stream is checked against. Iterations follow FFN-Reuse: the first is dense and
fixes the hot mask; the others are sparse with that mask (``reuse=False`` runs plain dense
iterations instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.config import HardwareConfig
from colsim.config.loader import from_mapping, to_mapping
from colsim.errors import ColsimError
from colsim.hw.dram_port import REQUEST, RESPONSE
from colsim.hw.program import Program, compile_schedule
from colsim.models.spec import FfnLayer
from colsim.sim.layout import Layout, hotcold_layout, rowmajor_layout
from colsim.sim.schedule import DramPlacement, Schedule, build_schedule, plan_placement
from colsim.testbench.ffn_data import CosimData, operands_from_profile, random_operands
from colsim.testbench.harness import Harness

STATIC_LAYOUTS = ("rowmajor", "hotcold", "perlayer")
MEMORIES = ("gddr6", "random")
STREAMS = ("dma", "array", "simd")  # the top's instruction streams (ports ``i_<name>``)
MIN_PROGRAM_DEPTH = 4096
"""Words of each program memory in the top's harness at least (a power of two): every case
of the regression matrix fits, so they all share one Verilator build per array size."""


def top_harness(programs: list[Program] = ()) -> Harness:
    """Return the harness the top's bench needs for ``programs``.

    The instruction streams come from program memories as deep as the longest stream,
    rounded up to a power of two and at least :data:`MIN_PROGRAM_DEPTH` (the bench loads
    each layer-iteration's words into them); responses are offered by toggling (the top
    always accepts them); the DRAM agent sleeps on ``wake``: a request or its alarm.
    """
    longest = max((len(w) for p in programs for w in p.words().values()), default=0)
    depth = max(MIN_PROGRAM_DEPTH, 1 << max(0, longest - 1).bit_length())
    return Harness(programs=tuple((f"i_{name}", depth) for name in STREAMS),
                   toggled=(RESPONSE,), wake=(f"{REQUEST}__valid",))


@dataclass(frozen=True, eq=False)
class CosimSpec:
    """One co-simulation: ``iterations`` layer-iterations of ``layer`` on ``hw``.

    ``hot`` is the dense iteration's mask over logical columns (``None``: every column hot);
    ``layout`` places the columns: ``hotcold`` and ``perlayer`` both put the dense mask's hot
    columns first (for one layer they differ only in where the mask came from);
    ``memory`` is ``"gddr6"`` (the DRAM model of ``hw.dram_config``) or ``"random"`` (latencies
    uniform in ``latency``, offers refused with probability ``refuse``).
    """

    hw: HardwareConfig
    layer: FfnLayer
    hot: np.ndarray | None
    layout: str = "rowmajor"
    iterations: int = 1
    reuse: bool = True
    memory: str = "gddr6"
    latency: tuple[int, int] = (20, 120)
    refuse: float = 0.0
    seed: int = 0
    tau: float = 0.164
    profile: str | None = None
    profile_iterations: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        array = self.hw.systolic
        if min(array.rows, array.cols) < 2:
            raise ColsimError(f"the RTL top needs a systolic array of at least 2x2, not "
                              f"{array.rows}x{array.cols} (the fast model takes any size)")
        if self.layout not in STATIC_LAYOUTS:
            raise ColsimError(
                f"`layout` must be one of {', '.join(STATIC_LAYOUTS)}, not {self.layout!r}")
        if self.memory not in MEMORIES:
            raise ColsimError(f"`memory` must be one of {', '.join(MEMORIES)}, "
                              f"not {self.memory!r}")
        self.hw.layers.check_layer(self.layer.name, self.layer.hidden)
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ColsimError(f"`iterations` must be a positive integer, not {self.iterations!r}")
        if self.hot is not None:
            hot = np.asarray(self.hot)
            if hot.dtype != bool or hot.shape != (self.layer.hidden,):
                raise ColsimError(f"hot mask must be a bool vector of {self.layer.hidden} "
                                  f"columns, not {hot.dtype} with shape {hot.shape}")
        low, high = self.latency
        if not 1 <= low <= high:
            raise ColsimError(f"`latency` must be 1 <= low <= high, not {self.latency!r}")

    def data(self) -> CosimData:
        """Return the co-simulation's DRAM data: the profile's captured operands of the
        listed iterations, or seeded random operands (``seed``)."""
        if self.profile is not None:
            operands = operands_from_profile(self.profile, self.layer.name,
                                             list(self.profile_iterations))
        else:
            operands = random_operands(self.layer, self.iterations, self.seed)
        placement = self._placement()
        hot = None if self.hot is None or not self.reuse else np.asarray(self.hot)
        return CosimData(self.layer, self.hw, operands, self.column_layout(), hot, self.tau,
                         placement)

    def _placement(self) -> DramPlacement:
        """Return where the layer's tensors lie in DRAM (transactions of ``hw``'s DRAM)."""
        return plan_placement(self.layer, self.hw,
                              transaction_bytes=self.hw.dram_config.organization.transaction_bytes)

    def column_layout(self) -> Layout:
        """Return the static layout of the layer's columns."""
        if self.layout == "rowmajor" or self.hot is None:
            return rowmajor_layout(self.layer.hidden)
        return hotcold_layout(np.asarray(self.hot), kind=self.layout)

    def schedules(self) -> list[Schedule]:
        """Return the schedule of every layer-iteration, in order."""
        placement = self._placement()
        layout = self.column_layout()
        hot = None if self.hot is None else np.asarray(self.hot)
        out = []
        for t in range(self.iterations):
            sparse = t > 0 and self.reuse and hot is not None
            out.append(build_schedule(self.layer, self.hw, hot if self.reuse else None, layout,
                                      placement, mode="sparse" if sparse else "dense"))
        return out

    def programs(self, schedules: list[Schedule]) -> list[Program]:
        """Return the top's programs of ``schedules``; a schedule the top cannot hold on
        chip (e.g. a weight fill larger than a slot) raises one clear error."""
        return [compile_schedule(s, self.hw) for s in schedules]

    def to_case(self) -> dict:
        """Return the spec as JSON-ready values (the bench's ``COLSIM_CASE``)."""
        layer = self.layer
        return {
            "hw": to_mapping(self.hw),
            "layer": {"name": layer.name, "tokens": layer.tokens, "d_model": layer.d_model,
                      "hidden": layer.hidden, "gated": layer.gated},
            "hot": None if self.hot is None else [bool(h) for h in self.hot],
            "layout": self.layout, "iterations": self.iterations, "reuse": self.reuse,
            "memory": self.memory, "latency": list(self.latency), "refuse": self.refuse,
            "seed": self.seed, "tau": self.tau, "profile": self.profile,
            "profile_iterations": list(self.profile_iterations),
        }

    @classmethod
    def from_case(cls, case: dict) -> CosimSpec:
        """Rebuild the spec from :meth:`to_case`'s values."""
        hot = None if case["hot"] is None else np.array(case["hot"], dtype=bool)
        return cls(
            hw=from_mapping(HardwareConfig, case["hw"]), layer=FfnLayer(**case["layer"]),
            hot=hot, layout=case["layout"], iterations=case["iterations"],
            reuse=case["reuse"], memory=case["memory"], latency=tuple(case["latency"]),
            refuse=case["refuse"], seed=case["seed"],
            tau=case["tau"], profile=case["profile"],
            profile_iterations=tuple(case["profile_iterations"]),
        )
