"""colsim sensitivity: baselines over hardware variants, and where they turn memory-bound."""

from __future__ import annotations

import json

import pytest

from colsim import api
from colsim.analysis.results import load_results
from colsim.analysis.sensitivity import parse_arrays, parse_axis, variants
from colsim.cli import main
from colsim.config import reference_hardware
from colsim.errors import ColsimError


def test_variants_cross_the_axes_and_scale_the_buffers() -> None:
    base = reference_hardware()
    found = variants(base, {"dram.preset": ("gddr6", "hbm2")}, ((16, 16), (64, 64)),
                     scale_buffers=True)
    assert [v.values for v in found] == [
        {"array": "16x16", "dram.preset": "gddr6"}, {"array": "16x16", "dram.preset": "hbm2"},
        {"array": "64x64", "dram.preset": "gddr6"}, {"array": "64x64", "dram.preset": "hbm2"}]
    assert found[2].hw.sram.output.kib == 4 * base.sram.output.kib
    assert found[0].hw.sram.weight.kib == base.sram.weight.kib // 4
    assert found[1].hw.dram_config.name != found[0].hw.dram_config.name


def test_a_tiny_sensitivity_grid_writes_its_table(tmp_path) -> None:
    table = api.sensitivity(models=("tiny-dit", "tiny-motion"), out=tmp_path,
                            axes={"dma.transfers_in_flight": (1, 8)}, arrays=((4, 4), (8, 8)),
                            scale_buffers=True, size="tiny", iterations=2, executor="local")
    assert len(table.rows) == 8 and table.failures == ()
    frame = load_results(tmp_path, "sensitivity")
    assert list(frame["array"].unique()) == ["4x4", "8x8"]
    assert set(frame["bound"]) <= {"compute", "memory"}
    assert json.loads(frame["config"][0])["dma"]["transfers_in_flight"] == 1
    faster = frame.groupby("array")["cycles"].mean()
    assert faster["8x8"] < faster["4x4"]  # a larger array computes the layers faster


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "dram.preset"], "a sensitivity axis must read KEY=V1,V2,..., not 'dram.preset'"),
    (["--arrays", "16by16"], "array sizes must read RxC,RxC,..., not '16by16'"),
    (["--set", "systolic.rows=0"], "`systolic.rows` must be positive, not 0"),
    ([], "give at least one `--set KEY=V1,...` or `--arrays RxC,...`"),
    (["--set", "dma.requests_in_flight=4,-1"],
     "`dma.requests_in_flight` must be non-negative, not -1"),
    (["--set", "dma.channels=1,7"],
     "`dma.channels` must be at most the DRAM's 6 channels (0: all), not 7"),
    (["--set", "dma.request_bytes=256,384"],
     "`dma.request_bytes` must be the DRAM's 128-byte transaction times a power of two "
     "dividing its 8192-byte row (0: one transaction), not 384"),
    (["--set", "dma.request_bytes=16384"],
     "`dma.request_bytes` must be the DRAM's 128-byte transaction times a power of two "
     "dividing its 8192-byte row (0: one transaction), not 16384"),
])
def test_bad_axes_are_one_line(tmp_path, capsys, argv, message) -> None:
    code = main(["sensitivity", "--models", "tiny-dit", "--size", "tiny", "--out",
                 str(tmp_path / "out"), *argv])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"colsim: error: {message}"]
    assert not (tmp_path / "out").exists()


def test_the_dma_memory_parallelism_is_an_axis(tmp_path) -> None:
    table = api.sensitivity(models=("tiny-motion",), out=tmp_path,
                            axes={"dma.requests_in_flight": (1, 0), "dma.channels": (1, 0)},
                            size="tiny", iterations=2, executor="local")
    assert table.failures == ()
    cycles = {(row["dma.requests_in_flight"], row["dma.channels"]): row["cycles"]
              for row in table.rows}
    assert cycles[(1, 0)] > cycles[(0, 0)] and cycles[(0, 1)] > cycles[(0, 0)]
    configs = [json.loads(row["config"])["dma"] for row in table.rows]
    assert [(c["requests_in_flight"], c["channels"]) for c in configs] == list(cycles)


def test_parsers() -> None:
    assert parse_axis("dma.transfers_in_flight=1, 4,16") == ("dma.transfers_in_flight",
                                                            (1, 4, 16))
    assert parse_axis("clock.core_mhz=800.5") == ("clock.core_mhz", (800.5,))
    assert parse_arrays("16x16,8x32") == ((16, 16), (8, 32))
    with pytest.raises(ColsimError):
        parse_arrays(",")
