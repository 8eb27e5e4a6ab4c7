"""Library entry points of the FFN co-simulation: build a spec, run it, summarise it.

:func:`spec_from_profile` derives a :class:`~colsim.testbench.ffn_case.CosimSpec` from a
profile file (layer shape, and the hot mask of the first listed iteration at ``tau`` or
``rho``, :func:`colsim.masks.masks_from_profile`); :func:`run_cosim` runs the cocotb bench on
Verilator and returns its :class:`CosimReport`, also when a check failed (``passed`` is then
false).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.provenance import package_versions
from colsim.testbench.ffn_case import CosimSpec, top_harness
from colsim.testbench.runner import BenchFailure, run_bench

BENCH = "colsim.testbench.ffn_bench"


@dataclass(frozen=True)
class IterationReport:
    """One layer-iteration of a co-simulation: the top's counters and its checks."""

    mode: str  # "dense" or "sparse"
    transactions: int  # DRAM transactions of the schedule
    cycles: int
    array_busy: int
    array_stall: int
    simd_busy: int
    hot_issued: int
    hot_skipped: int
    fast_model_cycles: int | None  # from the RTL's start cycle and DRAM state; None: random
    request_stream_equal: bool
    bit_exact: bool
    float_max_error: float | None  # dense iterations of profile operands only
    mask_equal: bool | None  # dense FFN-Reuse iterations with a reference mask only

    @classmethod
    def from_bench(cls, values: dict[str, Any]) -> IterationReport:
        """Return the typed view of one entry of the bench's ``iterations`` list."""
        return cls(
            values["mode"], values["transactions"], values["cycles"], values["array_busy"],
            values["array_stall"], values["simd_busy"], values["hot_issued"],
            values["hot_skipped"], values["fast_model_cycles"], values["request_stream_equal"],
            values["bit_exact"], values.get("float_max_error"), values.get("mask_equal"),
        )


@dataclass(frozen=True)
class CosimReport:
    """What a co-simulation measured and checked.

    ``config`` is the case the bench ran (:meth:`CosimSpec.to_case`); ``bench`` the bench's
    whole report as it wrote it (with the request mismatches, protocol violations and
    instruction counts the typed fields leave out).
    """

    config: dict[str, Any]
    iterations: tuple[IterationReport, ...]
    dram: dict[str, int | float]  # DRAM statistics (empty with the random memory)
    checks: dict[str, bool]
    passed: bool
    simulated_cycles: int
    wall_seconds: float
    cycles_per_second: float
    waveform: str | None
    bench: dict[str, Any]

    @property
    def cycles(self) -> tuple[int, ...]:
        """Return the core cycles of every layer-iteration."""
        return tuple(it.cycles for it in self.iterations)

    def crosscheck_rows(self, case: str) -> list[dict[str, Any]]:
        """Return one results-table row per layer-iteration: the RTL against the fast model
        (:func:`colsim.analysis.crosscheck.compare_iterations`; GDDR6 memory only)."""
        from colsim.analysis.crosscheck import compare_iterations

        schedules = CosimSpec.from_case(self.config).schedules()
        return [it.row() for it in compare_iterations(case, schedules, self.bench["iterations"])]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON record: ``{config, report, passed, waveform, versions}``."""
        return {"config": dict(self.config), "report": self.bench, "passed": self.passed,
                "waveform": self.waveform, "versions": package_versions()}


def spec_from_profile(
    path: str | Path, layer: str, iterations: list[int], *, tau: float | None = None,
    rho: float | None = None, hw: HardwareConfig, layout: str = "rowmajor",
    memory: str = "gddr6", seed: int = 0, operands: str = "profile",
) -> CosimSpec:
    """Return the co-simulation of ``layer`` of the profile at ``path``.

    The first of ``iterations`` is the dense iteration whose column maxima give the hot mask
    at ``tau`` or ``rho`` (:func:`colsim.masks.masks_from_profile`, neither: τ = 0.164); the
    others run sparse with that mask (FFN-Reuse). ``operands`` is ``"profile"`` (the
    captured FFN inputs of those iterations and the layer's weights, recorded with
    ``colsim profile --capture-inputs``) or ``"random"`` (seeded operands).
    """
    from colsim.masks import masks_from_profile
    from colsim.profiler.profile import Profile

    if operands not in ("profile", "random"):
        raise ColsimError(f"`operands` must be 'profile' or 'random', not {operands!r}")
    profile = Profile.load(path)
    info = profile.layer(layer)
    if not iterations:
        raise ColsimError("`iterations` must list at least one iteration")
    for t in iterations:
        if not 0 <= t < profile.iterations:
            raise ColsimError(f"iteration {t} is outside the profile's 0..{profile.iterations - 1}")
    if operands == "profile":
        captured = {(c.layer, c.iteration) for c in profile.inputs}
        missing = [t for t in iterations if (layer, t) not in captured]
        if missing or layer not in profile.weights:
            listed = ",".join(f"{layer}:{t}" for t in iterations)
            raise ColsimError(
                f"profile {path} has no captured inputs/weights of {layer!r} at iterations "
                f"{missing or iterations}; capture them when profiling (`capture_inputs` "
                f"{listed!r}) or use `operands` 'random'")
    masks = masks_from_profile(profile, tau=tau, rho=rho)
    ffn = FfnLayer(info.name, info.tokens, info.d_model, info.hidden, info.gated)
    return CosimSpec(hw, ffn, masks.hot[layer][iterations[0]], layout=layout,
                     iterations=len(iterations), memory=memory, seed=seed,
                     tau=masks.meta["thresholds"][layer],
                     # absolute: the bench runs in its own folder
                     profile=str(Path(path).resolve()) if operands == "profile" else None,
                     profile_iterations=tuple(iterations) if operands == "profile" else ())


def run_cosim(spec: CosimSpec, *, waves: bool = False, results_xml: Path | None = None,
              corrupt: str | None = None) -> CosimReport:
    """Run ``spec`` on Verilator; return its report.

    ``corrupt`` is a self-test (the run must fail): ``"requests"`` shifts the expected
    request stream, ``"data"`` flips a bit of the first read beat.
    """
    programs = spec.programs(spec.schedules())  # the top runs them: else one error up front
    case = spec.to_case()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "report.json"
        case_run = {**case, "report_copy": str(copy), "corrupt": corrupt}
        failure = None
        try:
            result = run_bench("ffn_top", spec.hw, BENCH, case_run, waves=waves,
                               results_xml=results_xml, harness=top_harness(programs))
            passed, waveform = True, result.waveform
        except BenchFailure as exc:
            passed, waveform, failure = False, None, exc
        report = json.loads(copy.read_text()) if copy.exists() else {}
        if "iterations" not in report:  # the bench stopped before its checks
            reason = report.get("error", "it ended without a report or an error")
            where = f"; log: {failure.log}" if failure is not None and failure.log else ""
            raise ColsimError(f"the co-simulation stopped: {reason}{where}")
    return CosimReport(
        config=case, iterations=tuple(map(IterationReport.from_bench, report["iterations"])),
        dram=report["dram"], checks=report["checks"], passed=passed,
        simulated_cycles=report["simulated_cycles"], wall_seconds=report["wall_seconds"],
        cycles_per_second=report["cycles_per_second"],
        waveform=str(waveform) if waveform else None, bench=report,
    )
