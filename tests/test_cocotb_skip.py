"""Column-mask skip logic under cocotb 2 on Verilator against its reference model."""

from __future__ import annotations

import pytest

from colsim.config import reference_hardware
from colsim.testbench.runner import run_bench
from colsim.testbench.skip_bench import MASK_KINDS

BENCH = "colsim.testbench.skip_bench"

pytestmark = pytest.mark.cocotb


def array(cols: int):
    return reference_hardware().with_overrides({"systolic": {"rows": 4, "cols": cols}})


def test_skip_matches_model_on_verilator(tmp_path):
    # Every edge case; N = 37 leaves a ragged last mask word and (mostly) a ragged last tile.
    layers = [{"kind": kind, "n": 37, "stall": stall}
              for kind in MASK_KINDS for stall in (0.0, 0.4)]
    result = run_bench("skip", array(4), BENCH, {"seed": 1, "tile": 4, "layers": layers},
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    assert result.report["mask_width"] == 4


@pytest.mark.slow
@pytest.mark.parametrize(("cols", "n"), [(4, 101), (8, 100), (3, 64), (16, 200)])
def test_skip_matches_model_on_verilator_more_shapes(cols, n, tmp_path):
    # The first case reuses the default test's build; the others build their own array width.
    layers = [{"kind": kind, "n": n, "stall": 0.3} for kind in MASK_KINDS]
    result = run_bench("skip", array(cols), BENCH, {"seed": cols, "tile": cols,
                                                    "layers": layers},
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
