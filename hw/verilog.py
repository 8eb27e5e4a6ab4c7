"""Verilog generation, port manifests and Verilator lint for every hardware block.

:data:`BLOCKS` is the registry of generatable tops: each entry builds the block's Amaranth
Component from a :class:`~colsim.config.HardwareConfig` and lists the parameters it used.
:func:`write_verilog` writes one ``<module>.v`` per block plus ``manifest.json`` (parameters
and port list of each file); files are written through :mod:`colsim.fileio`, so an
interrupted run leaves no file that looks complete.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amaranth.back import rtlil
from amaranth.hdl import ValueCastable
from amaranth.lib import wiring

from colsim.config import HardwareConfig
from colsim.config.loader import to_mapping
from colsim.errors import ColsimError
from colsim.fileio import check_output_dir, write_text
from colsim.hw.dma_front import front_for
from colsim.hw.dma_port import dma_port_for
from colsim.hw.ffn_top import FfnTop
from colsim.hw.remap import remapper_for
from colsim.hw.simd import SimdUnit
from colsim.hw.skip import skip_for
from colsim.hw.systolic import SystolicEngine
from colsim.toolchain import verilator_environment, verilator_executable, yosys

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "colsim-verilog-manifest/1"


@dataclass(frozen=True)
class Block:
    """A generatable top: ``module`` is the Verilog module (and file) name."""

    module: str
    build: Callable[[HardwareConfig], wiring.Component]
    parameters: Callable[[HardwareConfig], dict[str, Any]]


BLOCKS: dict[str, Block] = {
    "systolic": Block(
        module="systolic_engine",
        build=lambda hw: SystolicEngine(hw.systolic.rows, hw.systolic.cols),
        parameters=lambda hw: {"rows": hw.systolic.rows, "cols": hw.systolic.cols,
                               "operand_bits": hw.systolic.operand_bits,
                               "accumulator_bits": hw.systolic.accumulator_bits},
    ),
    "simd": Block(
        module="simd_unit",
        build=lambda hw: SimdUnit(hw.simd.lanes, hw.simd.frac_bits, hw.simd.gelu_segment_bits),
        parameters=lambda hw: {"lanes": hw.simd.lanes, "frac_bits": hw.simd.frac_bits,
                               "gelu_segment_bits": hw.simd.gelu_segment_bits},
    ),
    "ffn_top": Block(
        module="ffn_top",
        build=lambda hw: FfnTop(hw),
        parameters=lambda hw: {"rows": hw.systolic.rows, "cols": hw.systolic.cols,
                               "slots": [hw.sram.input.slots, hw.sram.weight.slots,
                                         hw.sram.output.slots],
                               **to_mapping(hw.sequencer), **to_mapping(hw.dma)},
    ),
    "dma_front": Block(
        module="dma_front",
        build=front_for,
        parameters=lambda hw: {"cols": hw.systolic.cols, "max_hidden": hw.layers.max_hidden,
                               "dram": hw.dram.file or hw.dram.preset,
                               **to_mapping(hw.sequencer), **to_mapping(hw.dma)},
    ),
    "skip": Block(
        module="column_skip",
        build=skip_for,
        parameters=lambda hw: {"mask_width": hw.systolic.cols, "tile": hw.systolic.cols,
                               "max_hidden": hw.layers.max_hidden,
                               "index_bits": hw.layers.count_bits},
    ),
    "dma_port": Block(
        module="dma_port",
        build=dma_port_for,
        parameters=lambda hw: {"requests_in_flight": hw.dma.requests_in_flight,
                               "channels": hw.dma.channels,
                               "request_bytes": hw.dma.request_bytes,
                               "address_bits": hw.sequencer.address_bits,
                               "dram": hw.dram.file or hw.dram.preset},
    ),
    "remap": Block(
        module="address_remapper",
        build=remapper_for,
        parameters=lambda hw: {"depth": hw.layers.max_hidden,
                               "index_bits": hw.layers.index_bits,
                               "dram": hw.dram.file or hw.dram.preset},
    ),
}


def to_verilog(component: wiring.Component, module: str) -> str:
    """Return synthesizable Verilog for ``component`` as module ``module``.

    See :func:`to_verilog_linted`; this drops the lint report.
    """
    return to_verilog_linted(component, module)[0]


def to_verilog_linted(component: wiring.Component, module: str) -> tuple[str, str]:
    """Return (Verilog, remaining ``verilator -Wall`` diagnostics: '' when lint-clean).

    Ports keep their names (``<port>__<member>``, e.g. ``i_a__payload``). Two artefacts of the
    generator are waived in the file itself, each with its reason written in the header:
    register initializers (``PROCASSINIT``) and unused *internal* nets (``UNUSEDSIGNAL`` on
    exactly the declarations Verilator reports; an unused port is never waived).
    """
    text = rtlil.convert(component, name=module, emit_src=False)
    script = "\n".join([
        f"read_rtlil <<rtlil\n{text}\nrtlil",
        f"hierarchy -top {module}",
        "proc -nomux -norom",
        "flatten",  # one module per file: submodules (the top's array and SIMD unit) inline
        "memory_collect",
        "opt_clean -purge",
        "write_verilog -norename",
    ])
    verilog = yosys().run(["-q", "-"], script, ignore_warnings=True)
    ports = {port["name"] for port in port_list(component)}
    return _waive_internal_unused(WAIVER_HEADER + verilog, module, ports)


WAIVER_HEADER = """\
// Generated by colsim from Amaranth; do not edit. Lint waivers, each with its reason:
// PROCASSINIT: Amaranth gives every register its reset value as an initializer (the FPGA
//   power-up state) and also assigns it in the clocked process; the pairing is intended.
// UNUSEDSIGNAL (per declaration, marked below): debugging aliases that Amaranth emits for
//   payload fields and named nets merged into the signal they drive, and the carry bit of
//   wrap-around int32 sums; none of them is logic. Ports are never waived.
// WIDTHEXPAND: Yosys writes a signed operand narrower than its operator (a constant, or a
//   value Amaranth sign-extends) and leaves the extension to Verilog's signed-expression
//   rules, which define it exactly; every width comes from the Amaranth netlist.
/* verilator lint_off PROCASSINIT */
/* verilator lint_off WIDTHEXPAND */
"""

_UNUSED = re.compile(r"^%Warning-UNUSEDSIGNAL: [^:]+:(\d+):\d+: .*?: '([^']+)'", re.MULTILINE)


def _waive_internal_unused(verilog: str, module: str, ports: set[str]) -> tuple[str, str]:
    """Waive UNUSEDSIGNAL on internal declarations; return (Verilog, what lint still reports)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{module}.v"  # Verilator expects the file named after the module
        path.write_text(verilog)
        report = lint(path)
    lines = verilog.splitlines()
    waived = 0
    for match in _UNUSED.finditer(report):
        number, name = int(match.group(1)), match.group(2)
        if name in ports:
            continue  # an unused port is a design issue: keep the warning
        lines[number - 1] = (
            f"/* verilator lint_off UNUSEDSIGNAL */ {lines[number - 1]} "
            "/* verilator lint_on UNUSEDSIGNAL */"
        )
        waived += 1
    remaining = report.count("%Warning") - waived
    return "\n".join(lines) + "\n", report if remaining else ""


def port_list(component: wiring.Component) -> list[dict[str, Any]]:
    """Return the ports of ``component`` as {name, direction, width}, plus clk and rst."""
    ports = [
        {"name": "clk", "direction": "in", "width": 1},
        {"name": "rst", "direction": "in", "width": 1},
    ]
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        ports.append({
            "name": "__".join(map(str, path)),
            "direction": "in" if member.flow == wiring.In else "out",
            "width": len(value),
        })
    return ports


def block_names() -> list[str]:
    """Return the names accepted by ``--block``."""
    return sorted(BLOCKS)


def write_verilog(
    out_dir: str | Path, hw: HardwareConfig, *, blocks: list[str] | None = None
) -> Path:
    """Write Verilog for ``blocks`` (default: all) and the manifest; return the manifest path.

    Each manifest entry records the block's parameters, its ports and its ``verilator -Wall``
    result (``"clean"`` or the diagnostics).
    """
    names = block_names() if blocks is None else blocks
    for name in names:
        if name not in BLOCKS:
            raise ColsimError(f"unknown block {name!r} (known: {', '.join(block_names())})")
    out = check_output_dir(out_dir)
    entries = []
    for name in names:
        block = BLOCKS[name]
        component = block.build(hw)
        path = out / f"{block.module}.v"
        verilog, diagnostics = to_verilog_linted(component, block.module)
        write_text(path, verilog)
        entries.append({
            "block": name,
            "module": block.module,
            "file": path.name,
            "parameters": block.parameters(hw),
            "ports": port_list(component),
            "lint": diagnostics or "clean",
        })
    manifest = out / MANIFEST_NAME
    write_text(manifest, json.dumps({"format": MANIFEST_FORMAT, "files": entries}, indent=2))
    return manifest


def lint(path: str | Path) -> str:
    """Run ``verilator --lint-only -Wall`` on one file; return its diagnostics ('' if clean).

    Diagnostics are Verilator's ``%Warning``/``%Error`` messages with their context lines.
    """
    result = subprocess.run(
        [str(verilator_executable()), "--lint-only", "-Wall", str(path)],
        capture_output=True, text=True, env=verilator_environment(),
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode == 0 and "%Warning" not in output:
        return ""
    return output
