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
from colsim.testbench.ffn_case import CosimSpec
from colsim.testbench.runner import BenchFailure, run_bench

BENCH = "colsim.testbench.ffn_bench"
def spec_from_profile(
    path: str | Path, layer: str, iterations: list[int], *, tau: float, hw: HardwareConfig,
    layout: str = "rowmajor", memory: str = "gddr6", seed: int = 0,
) -> CosimSpec:
    """Return the co-simulation of ``layer`` of the profile at ``path``.

    The first of ``iterations`` is the dense iteration whose column maxima give the hot mask
    ``colmax > tau``; the others run sparse with that mask (FFN-Reuse).
    """
    from colsim.profiler.metrics import check_tau
    from colsim.profiler.profile import Profile

    tau = check_tau(tau)
    profile = Profile.load(path)
    info = profile.layer(layer)
    if not iterations:
        raise ColsimError("`iterations` must list at least one iteration")
    for t in iterations:
        if not 0 <= t < profile.iterations:
            raise ColsimError(f"iteration {t} is outside the profile's 0..{profile.iterations - 1}")
    hot = profile.colmax[layer][iterations[0]] > tau
    ffn = FfnLayer(info.name, info.tokens, info.d_model, info.hidden, info.gated)
    return CosimSpec(hw, ffn, hot, layout=layout, iterations=len(iterations), memory=memory,
                     seed=seed)


def run_cosim(spec: CosimSpec, *, waves: bool = False, results_xml: Path | None = None,
              corrupt: bool = False) -> dict[str, Any]:
    """Run ``spec`` on Verilator; return {config, report, passed, waveform}.

    ``corrupt`` shifts the expected request stream (a self-test: the run must fail).
    """
    case = spec.to_case()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "report.json"
        case_run = {**case, "report_copy": str(copy), "corrupt_expected": corrupt}
        try:
            result = run_bench("ffn_top", spec.hw, BENCH, case_run, waves=waves,
                               results_xml=results_xml)
            passed, waveform = True, result.waveform
        except BenchFailure:
            passed, waveform = False, None
        if not copy.exists():
            raise ColsimError("the co-simulation ended without a report; see build/cocotb")
        report = json.loads(copy.read_text())
    return {"config": case, "report": report, "passed": passed,
            "waveform": str(waveform) if waveform else None}
