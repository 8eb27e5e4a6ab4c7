"""``colsim synth``: generic Yosys synthesis reports counts (never timing) for a block."""

from __future__ import annotations

import pytest

from colsim.cli import main
from colsim.config import reference_hardware
from colsim.errors import ColsimError
from colsim.hw.synth import synthesize


def test_skip_block_synthesizes_with_its_registers():
    hw = reference_hardware().with_overrides({"systolic": {"rows": 2, "cols": 2}})
    report = synthesize("skip", hw)
    assert report.memory_bits == 0
    # Registers of ColumnSkip(2, 2, 16): columns 16, base 17, word 2, word_base 17, held
    # column/slot/valid 16+1+1, consumed 17, issued 17, output payload 16+1+1+1 and valid 1.
    assert report.flip_flops <= 16 + 17 + 2 + 17 + 18 + 17 + 17 + 19 + 1
    assert report.flip_flops > 60 and report.cells > report.flip_flops


def test_unknown_block_is_named():
    with pytest.raises(ColsimError, match="unknown block 'nope'"):
        synthesize("nope", reference_hardware())


def test_cli_prints_one_row_per_block(tmp_path, capsys):
    config = tmp_path / "hw.toml"
    config.write_text("[systolic]\nrows = 2\ncols = 2\n")
    assert main(["synth", "--block", "skip", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["block", "cells", "flip-flops", "memory"]
    assert out[1].startswith("skip") and "tile=2" in out[1]
