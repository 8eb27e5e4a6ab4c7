"""The CLI registers every command cheaply; constants it copies for that stay in sync."""

from __future__ import annotations

import subprocess
import sys

import pytest

from colsim.cli import build_parser


def test_help_lists_every_command_group():
    text = build_parser().format_help()
    for command in ("demo", "verilog", "synth", "dram", "models", "profile", "sparsity", "plot",
                    "simulate", "sweep", "rtl-run", "regress", "crosscheck", "bench"):
        assert command in text


def test_building_the_parser_imports_neither_torch_nor_numba():
    code = ("import sys; from colsim.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'diffusers', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_copies_of_library_constants_match_their_sources():
    from colsim.cli import profile, simulate
    from colsim.profiler.histogram import REFERENCE_THRESHOLD
    from colsim.sim.fast.workload import MASK_POLICIES

    assert simulate.MASK_POLICIES == MASK_POLICIES
    assert float(profile.REFERENCE_THRESHOLD_TEXT) == pytest.approx(REFERENCE_THRESHOLD)
