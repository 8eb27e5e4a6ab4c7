"""Build a hardware block with Verilator and run a cocotb bench on it (cocotb_tools.runner).

One build folder per (block, parameters, waves) under ``build_root`` is reused across cases
and seeds. The bench reads its case from ``COLSIM_CASE`` (JSON) and may write a summary to
``COLSIM_REPORT``. Every run writes JUnit XML; :func:`run_bench` raises
:class:`BenchFailure` when any cocotb test failed, so a failing bench fails its caller
(pytest or the CLI). Waveforms (FST) are recorded when ``waves`` is true or the environment
variable ``COLSIM_WAVES`` is set to a non-empty value other than ``0``; FST needs the lz4
headers (Debian: ``liblz4-dev``), and ``COLSIM_WAVES_FORMAT=vcd`` selects VCD instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocotb_tools.runner import get_results, get_runner

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.hw.verilog import BLOCKS, to_verilog
from colsim.toolchain import use_verilator

DEFAULT_BUILD_ROOT = Path("build") / "cocotb"
REWRITE_ONLY_BENCHES = "*_bench.py"
"""cocotb rewrites the asserts of every module imported in the simulator by default (numba,
numpy, ... ~10 s per launch); only the bench modules need it. A user's own
``COCOTB_REWRITE_ASSERTION_FILES`` wins."""
VERILATOR_BUILD_ARGS = ["--output-split", "0"]
"""One C++ file per model: Verilator's split output with precompiled headers fails to link for
some designs (``Vtop__pch.h.fast: linker input file not found``)."""


class BenchFailure(AssertionError):
    """A cocotb bench reported failing tests (the JUnit XML names them)."""


@dataclass(frozen=True)
class BenchResult:
    """Outcome of one bench run: counts, the JUnit XML, the report and waveform, if any."""

    tests: int
    failed: int
    results_xml: Path
    report: dict[str, Any] | None
    waveform: Path | None


def waves_requested(flag: bool = False) -> bool:
    """Return whether waveforms are wanted (``flag`` or ``COLSIM_WAVES``)."""
    return flag or os.environ.get("COLSIM_WAVES", "") not in ("", "0")


def waves_format() -> str:
    """Return ``"fst"`` or ``"vcd"`` (``COLSIM_WAVES_FORMAT``); FST needs the lz4 headers."""
    fmt = os.environ.get("COLSIM_WAVES_FORMAT", "fst").lower()
    if fmt not in ("fst", "vcd"):
        raise ColsimError(f"`COLSIM_WAVES_FORMAT` must be 'fst' or 'vcd', not {fmt!r}")
    if fmt == "fst" and not has_c_header("lz4.h"):
        raise ColsimError(
            "FST waveforms need the lz4 headers (Debian: apt-get install liblz4-dev); "
            "set COLSIM_WAVES_FORMAT=vcd for VCD"
        )
    return fmt


def has_c_header(header: str) -> bool:
    """Return whether the C++ compiler finds ``header`` (e.g. lz4.h, needed for FST)."""
    probe = subprocess.run(["c++", "-E", "-x", "c++", "-"], input=f"#include <{header}>\n",
                           capture_output=True, text=True)
    return probe.returncode == 0


def build_block(block: str, hw: HardwareConfig, *, waves: bool = False,
                build_root: Path = DEFAULT_BUILD_ROOT) -> Path:
    """Generate ``block``'s Verilog for ``hw`` and compile it with Verilator; return the folder."""
    spec = BLOCKS[block]
    parameters = spec.parameters(hw)
    key = json.dumps([parameters, VERILATOR_BUILD_ARGS], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    fmt = waves_format() if waves else ""
    build_dir = Path(build_root).resolve() / f"{spec.module}-{digest}{'-' + fmt if fmt else ''}"
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{spec.module}.v"
    verilog = to_verilog(spec.build(hw), spec.module)
    use_verilator()
    simulator = build_dir / spec.module
    if source.exists() and source.read_text() == verilog and simulator.exists():
        return build_dir  # same Verilog, already compiled
    source.write_text(verilog)
    runner = get_runner("verilator")
    runner.build(
        sources=[source],
        hdl_toplevel=spec.module,
        build_dir=build_dir,
        build_args=VERILATOR_BUILD_ARGS + (["--trace-fst"] if fmt == "fst" else []),
        timescale=("1ps", "1ps"),
        waves=waves,
        log_file=build_dir / "build.log",
    )
    return build_dir


def run_bench(block: str, hw: HardwareConfig, test_module: str, case: dict[str, Any], *,
              waves: bool = False, build_root: Path = DEFAULT_BUILD_ROOT,
              results_xml: Path | None = None) -> BenchResult:
    """Run the cocotb ``test_module`` on ``block`` for one ``case``; raise on failing tests."""
    waves = waves_requested(waves)
    build_dir = build_block(block, hw, waves=waves, build_root=build_root)
    test_dir = build_dir / "runs" / hashlib.sha256(
        json.dumps(case, sort_keys=True).encode()).hexdigest()[:10]
    test_dir.mkdir(parents=True, exist_ok=True)
    results = Path(results_xml).resolve() if results_xml else test_dir / "results.xml"
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        runner = get_runner("verilator")
        try:
            runner.test(
                test_module=test_module,
                hdl_toplevel=BLOCKS[block].module,
                hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=test_dir,
                results_xml=str(results),
                waves=waves,
                extra_env={
                    "COLSIM_CASE": json.dumps(case),
                    "COLSIM_REPORT": str(report_path),
                    "COCOTB_REWRITE_ASSERTION_FILES": os.environ.get(
                        "COCOTB_REWRITE_ASSERTION_FILES", REWRITE_ONLY_BENCHES),
                },
                log_file=test_dir / "sim.log",
            )
        except SystemExit as exc:  # the runner exits when it finds failures under pytest
            if not results.exists():
                raise BenchFailure(f"simulation exited with {exc.code}; see {test_dir}") from None
        report = json.loads(report_path.read_text()) if report_path.exists() else None
    tests, failed = get_results(results)
    if failed:
        raise BenchFailure(f"{failed} of {tests} cocotb tests failed; see {results}")
    waveform = test_dir / f"dump.{waves_format()}" if waves else None
    return BenchResult(tests, failed, results, report, waveform)
