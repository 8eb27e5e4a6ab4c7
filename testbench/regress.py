"""The cocotb regression: block benches and the top-level co-simulation over a case matrix.

:func:`regression_matrix` lists every case: the block benches' spec tables (systolic engine,
SIMD unit, skip logic and remapper; the very cases their tests run on every implementation)
and the FFN top co-simulations across array sizes, layouts, hot densities, memories and
seeds. :func:`run_regression` builds each distinct Verilator model once, runs the cases (in
parallel processes), writes one JUnit XML file with a test case per regression case and
returns the outcomes.
"""

from __future__ import annotations

import fnmatch
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colsim.config import HardwareConfig, tiny_array_hardware
from colsim.config.loader import from_mapping, to_mapping
from colsim.fileio import check_output_file, write_bytes
from colsim.models.spec import FfnLayer
from colsim.testbench.ffn_case import CosimSpec, top_harness
from colsim.testbench.harness import Harness
from colsim.testbench.remap_cases import REMAP_CASES
from colsim.testbench.runner import BenchFailure, build_block, run_bench
from colsim.testbench.simd_cases import SIMD_CASES
from colsim.testbench.skip_cases import SKIP_CASES
from colsim.testbench.systolic_cases import SYSTOLIC_CASES

BLOCK_CASES = {"systolic": SYSTOLIC_CASES, "simd": SIMD_CASES, "skip": SKIP_CASES,
               "remap": REMAP_CASES}
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
    return cases


def select(cases: list[RegressionCase], pattern: str | None) -> list[RegressionCase]:
    """Return the cases whose name matches ``pattern`` (a substring or a shell glob)."""
    if not pattern:
        return cases
    return [c for c in cases if pattern in c.name or fnmatch.fnmatch(c.name, pattern)]


def _run_one(name: str, block: str, hw: dict, module: str, case: dict,
             harness: Harness | None, xml: str) -> Outcome:
    """Run one case in a worker process (arguments are plain values)."""
    start = time.perf_counter()
    try:
        run_bench(block, from_mapping(HardwareConfig, hw), module, case, results_xml=Path(xml),
                  harness=harness)
        passed, message = True, ""
    except BenchFailure as exc:
        passed, message = False, str(exc)
    return Outcome(name, passed, time.perf_counter() - start, message)


def run_regression(cases: list[RegressionCase], *, jobs: int, junit: str | Path,
                   progress=None) -> list[Outcome]:
    """Run ``cases`` with ``jobs`` worker processes; write the JUnit XML; return outcomes.

    Each distinct Verilator model is built once first (serially), so workers only simulate.
    ``progress`` (optional) is called with each finished :class:`Outcome`. A ``junit`` path
    that cannot be written is refused before anything is built.
    """
    check_output_file(junit)
    built = set()
    for case in cases:
        key = (case.block, repr(to_mapping(case.hw)), case.harness)
        if key not in built:
            build_block(case.block, case.hw, harness=case.harness)
            built.add(key)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp:
        xmls = [str(Path(tmp) / f"{i}.xml") for i in range(len(cases))]
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(_run_one, c.name, c.block, to_mapping(c.hw), c.module,
                                   c.case, c.harness, xml)
                       for c, xml in zip(cases, xmls, strict=True)]
            for future in futures:
                outcome = future.result()
                outcomes.append(outcome)
                if progress:
                    progress(outcome)
        _write_junit(junit, outcomes, xmls)
    return outcomes


def _write_junit(path: str | Path, outcomes: list[Outcome], xmls: list[str]) -> None:
    """Merge the per-case results into one test suite (written with :mod:`colsim.fileio`)."""
    suite = ET.Element("testsuite", name="colsim-regress", tests=str(len(outcomes)),
                       failures=str(sum(not o.passed for o in outcomes)))
    for outcome, xml in zip(outcomes, xmls, strict=True):
        testcase = ET.SubElement(suite, "testcase", classname="colsim.regress",
                                 name=outcome.name, time=f"{outcome.seconds:.3f}")
        if not outcome.passed:
            failure = ET.SubElement(testcase, "failure", message=outcome.message)
            if Path(xml).exists():
                failure.text = Path(xml).read_text()
    root = ET.Element("testsuites")
    root.append(suite)
    write_bytes(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
