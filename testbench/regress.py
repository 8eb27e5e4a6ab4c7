"""The cocotb regression: block benches and the top-level co-simulation over a case matrix.

:func:`regression_matrix` lists every case: the block benches' spec tables (systolic engine,
SIMD unit, skip logic, remapper and DMA port; the very cases their tests run on every
implementation),
the FFN top co-simulations across array sizes, layouts, hot densities, memories and seeds,
and the cross-check cases (:data:`colsim.testbench.ffn_cases.DEFAULT_CASES`), whose runs
also require the fast model to agree with the RTL exactly. :func:`run_regression` builds each
distinct Verilator model once, runs the cases as tasks (:func:`colsim.tasks.run_tasks`: a
Dask LocalCluster, a cluster of several machines or this process), writes one JUnit XML file
with a test case per regression case and returns the outcomes.
"""

from __future__ import annotations

import fnmatch
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, tiny_array_hardware
from colsim.config.loader import from_mapping, to_mapping
from colsim.errors import ColsimError
from colsim.fileio import check_output_file, write_bytes
from colsim.models.spec import FfnLayer
from colsim.tasks import Task, run_tasks
from colsim.testbench.dma_port_cases import DMA_PORT_CASES
from colsim.testbench.ffn_case import CosimSpec, top_harness
from colsim.testbench.ffn_cases import DEFAULT_CASES
from colsim.testbench.harness import Harness
from colsim.testbench.remap_cases import REMAP_CASES
from colsim.testbench.runner import BenchFailure, build_block, run_bench
from colsim.testbench.simd_cases import SIMD_CASES
from colsim.testbench.skip_cases import SKIP_CASES
from colsim.testbench.systolic_cases import SYSTOLIC_CASES

BLOCK_CASES = {"systolic": SYSTOLIC_CASES, "simd": SIMD_CASES, "skip": SKIP_CASES,
               "remap": REMAP_CASES, "dma_port": DMA_PORT_CASES}
"""Each block's spec table (the cases its tests run on every implementation), by bench."""


@dataclass(frozen=True)
class RegressionCase:
    """One bench run: ``block`` on ``hw`` with the cocotb ``module`` and its ``case``."""

    name: str
    block: str
    hw: HardwareConfig
    module: str
    case: dict[str, Any]
    harness: Harness | None = None  # what the Verilator harness adds, if anything


@dataclass(frozen=True)
class Outcome:
    """How one case ended."""

    name: str
    passed: bool
    seconds: float
    message: str
    junit: str = ""  # the case's own JUnit XML (the cocotb log of a failure)


def regression_matrix() -> list[RegressionCase]:
    """Return every case of the full regression, in a stable order."""
    cases = [RegressionCase(f"{block}-{case.name}", block, case.hardware(),
                            f"colsim.testbench.{block}_bench", case.to_json())
             for block, table in BLOCK_CASES.items() for case in table]
    layers = {"plain": FfnLayer("plain", 8, 16, 64, False),
              "gated": FfnLayer("gated", 6, 12, 48, True)}
    for array in (4, 8):
        hw = tiny_array_hardware(array)
        for layer_name, layer in layers.items():
            for layout in ("rowmajor", "hotcold"):
                for density in (0.0, 0.15, 0.5, 1.0):
                    for memory in ("gddr6", "random"):
                        for seed in (1, 2):
                            hot = np.random.default_rng(seed).random(layer.hidden) < density
                            spec = CosimSpec(hw, layer, hot, layout=layout, iterations=2,
                                             memory=memory, seed=seed,
                                             refuse=0.2 if memory == "random" else 0.0)
                            name = (f"ffn-{array}x{array}-{layer_name}-{layout}-d{density}-"
                                    f"{memory}-s{seed}")
                            cases.append(RegressionCase(name, "ffn_top", hw,
                                                        "colsim.testbench.ffn_bench",
                                                        spec.to_case(), top_harness()))
    for case in DEFAULT_CASES:  # the cross-check set: the fast model must agree exactly
        spec = case.spec()
        cases.append(RegressionCase(f"ffn-crosscheck-{case.name}", "ffn_top", spec.hw,
                                    "colsim.testbench.ffn_bench",
                                    {**spec.to_case(), "crosscheck": True}, top_harness()))
    return cases


def select(cases: list[RegressionCase], pattern: str | None) -> list[RegressionCase]:
    """Return the cases whose name matches ``pattern`` (a substring or a shell glob)."""
    if not pattern:
        return cases
    return [c for c in cases if pattern in c.name or fnmatch.fnmatch(c.name, pattern)]


def _run_one(name: str, block: str, hw: dict, module: str, case: dict,
             harness: Harness | None) -> Outcome:
    """Run one case in a worker (arguments are plain values); return how it ended."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "results.xml"
        try:
            run_bench(block, from_mapping(HardwareConfig, hw), module, case, results_xml=xml,
                      harness=harness)
            passed, message = True, ""
        except BenchFailure as exc:
            passed, message = False, str(exc)
        junit = xml.read_text() if xml.exists() else ""
    return Outcome(name, passed, time.perf_counter() - start, message, junit)


def run_regression(cases: list[RegressionCase], *, jobs: int, junit: str | Path,
                   executor: str = "dask", scheduler: str | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   announce: Callable[[str], None] | None = None) -> list[Outcome]:
    """Run ``cases`` as ``jobs`` parallel tasks; write the JUnit XML; return the outcomes.

    Each distinct Verilator model is built once first (serially), so workers only simulate
    (workers of another machine build what they lack). ``progress`` (optional) is called
    with ``(finished, total)``, ``announce`` with one-line notes (the Dask dashboard). A
    ``junit`` path that cannot be written is refused before anything is built.
    """
    check_output_file(junit)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ColsimError(f"`jobs` must be a positive integer, not {jobs!r}")
    built = set()
    for case in cases:
        key = (case.block, repr(to_mapping(case.hw)), case.harness)
        if key not in built:
            build_block(case.block, case.hw, harness=case.harness)
            built.add(key)
    outcomes: dict[str, Outcome] = {}
    tasks = [Task(c.name, _run_one, (c.name, c.block, to_mapping(c.hw), c.module, c.case,
                                      c.harness)) for c in cases]
    run = run_tasks(tasks, on_result=outcomes.__setitem__, jobs=jobs, executor=executor,
                    scheduler=scheduler, progress=progress, announce=announce)
    for failure in run.failures:  # the task itself raised (not a failing bench)
        outcomes[failure.key] = Outcome(failure.key, False, 0.0, failure.message)
    ordered = [outcomes[c.name] for c in cases]
    _write_junit(junit, ordered)
    return ordered


def _write_junit(path: str | Path, outcomes: list[Outcome]) -> None:
    """Merge the per-case results into one test suite (written with :mod:`colsim.fileio`)."""
    suite = ET.Element("testsuite", name="colsim-regress", tests=str(len(outcomes)),
                       failures=str(sum(not o.passed for o in outcomes)))
    for outcome in outcomes:
        testcase = ET.SubElement(suite, "testcase", classname="colsim.regress",
                                 name=outcome.name, time=f"{outcome.seconds:.3f}")
        if not outcome.passed:
            failure = ET.SubElement(testcase, "failure", message=outcome.message)
            failure.text = outcome.junit or None
    root = ET.Element("testsuites")
    root.append(suite)
    write_bytes(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
