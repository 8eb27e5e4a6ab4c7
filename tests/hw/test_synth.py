"""``colsim synth``: generic Yosys synthesis reports counts (never timing) for a block."""

from __future__ import annotations

import pytest

from colsim.cli import main
from colsim.config import reference_hardware
from colsim.errors import ColsimError
from colsim.hw.synth import synthesize


def test_cli_synthesizes_the_skip_block_with_its_registers(tmp_path, capsys):
    config = tmp_path / "hw.toml"
    config.write_text("[systolic]\nrows = 2\ncols = 2\n")
    assert main(["synth", "--block", "skip", "--config", str(config)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["block", "cells", "flip-flops", "memory"]
    name, cells, flip_flops, memory_bits = row.split()[:4]
    assert name == "skip" and "tile=2" in row and int(memory_bits) == 0
    # Registers of ColumnSkip(2, 2, 16): columns 16, base 17, word 2, word_base 17, held
    # column/slot/valid 16+1+1, consumed 17, issued 17, output payload 16+1+1+1 and valid 1;
    # Yosys may drop constant or unused bits, never add any.
    assert 60 < int(flip_flops) <= 16 + 17 + 2 + 17 + 18 + 17 + 17 + 19 + 1
    assert int(cells) > int(flip_flops)


def test_unknown_block_is_named():
    with pytest.raises(ColsimError, match="unknown block 'nope'"):
        synthesize("nope", reference_hardware())
