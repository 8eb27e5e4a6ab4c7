"""Library entry points of the FFN co-simulation: build a spec, run it, summarise it.

:func:`spec_from_profile` derives a :class:`~colsim.testbench.ffn_case.CosimSpec` from a
profile file (layer shape, and the hot mask of the first listed iteration at ``tau``);
:func:`run_cosim` runs the cocotb bench on Verilator and returns its report, also when a
check failed (``passed`` is then false).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.testbench.ffn_case import CosimSpec, top_harness
from colsim.testbench.runner import BenchFailure, run_bench

BENCH = "colsim.testbench.ffn_bench"
def spec_from_profile(
    path: str | Path, layer: str, iterations: list[int], *, tau: float, hw: HardwareConfig,
    layout: str = "rowmajor", memory: str = "gddr6", seed: int = 0,
    operands: str = "profile",
) -> CosimSpec:
    """Return the co-simulation of ``layer`` of the profile at ``path``.

    The first of ``iterations`` is the dense iteration whose column maxima give the hot mask
    ``colmax > tau``; the others run sparse with that mask (FFN-Reuse). ``operands`` is
    ``"profile"`` (the captured FFN inputs of those iterations and the layer's weights,
    recorded with ``colsim profile --capture-inputs``) or ``"random"`` (seeded operands).
    """
    from colsim.profiler.metrics import check_tau
    from colsim.profiler.profile import Profile

    tau = check_tau(tau)
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
                f"{missing or iterations}; record them with `colsim profile --capture-inputs "
                f"{listed}` or pass `--operands random`")
    hot = profile.colmax[layer][iterations[0]] > tau
    ffn = FfnLayer(info.name, info.tokens, info.d_model, info.hidden, info.gated)
    return CosimSpec(hw, ffn, hot, layout=layout, iterations=len(iterations), memory=memory,
                     seed=seed, tau=tau,
                     profile=str(path) if operands == "profile" else None,
                     profile_iterations=tuple(iterations) if operands == "profile" else ())


def run_cosim(spec: CosimSpec, *, waves: bool = False, results_xml: Path | None = None,
              corrupt: str | None = None) -> dict[str, Any]:
    """Run ``spec`` on Verilator; return {config, report, passed, waveform}.

    ``corrupt`` is a self-test (the run must fail): ``"requests"`` shifts the expected
    request stream, ``"data"`` flips a bit of the first read beat.
    """
    programs = spec.programs(spec.schedules())  # the top runs them: else one error up front
    case = spec.to_case()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "report.json"
        case_run = {**case, "report_copy": str(copy), "corrupt": corrupt}
        try:
            result = run_bench("ffn_top", spec.hw, BENCH, case_run, waves=waves,
                               results_xml=results_xml, harness=top_harness(programs))
            passed, waveform = True, result.waveform
        except BenchFailure:
            passed, waveform = False, None
        if not copy.exists():
            raise ColsimError("the co-simulation ended without a report; see build/cocotb")
        report = json.loads(copy.read_text())
    return {"config": case, "report": report, "passed": passed,
            "waveform": str(waveform) if waveform else None}
