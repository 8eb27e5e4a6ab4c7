"""Column-mask skip logic: one spec on the reference model, the Amaranth RTL and Verilator.

Every case of :data:`~colsim.testbench.skip_cases.SKIP_CASES` runs on each implementation
(the ``implementation`` fixture of ``conftest.py``); each layer's issued columns must be the
mask's hot columns in order, tiled by the array width (checked against the mask itself), and
equal the reference model's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

from colsim.compat import silence_unused
from colsim.config import reference_hardware
from colsim.errors import ColsimError
from colsim.hw.skip import ColumnSkip, skip_for
from colsim.hw.skip_model import IssuedColumn, mask_from_words, mask_words, skip_columns
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testbench.runner import run_bench
from colsim.testbench.skip_cases import SKIP_CASES, SkipCase
from colsim.testing import make_mask


def test_mask_words_sets_padding_bits():
    assert mask_words(np.array([1, 0, 1, 1, 0], bool), 4) == [0b1101, 0b1110]


@pytest.mark.parametrize(("n", "width"), [(5, 4), (37, 8), (1, 1), (64, 4)])
def test_mask_from_words_inverts_mask_words(n, width):
    hot = np.random.default_rng(n).random(n) < 0.4
    np.testing.assert_array_equal(mask_from_words(mask_words(hot, width), width, n), hot)
    with pytest.raises(ColsimError, match="do not cover"):
        mask_from_words(mask_words(hot, width)[:-1], width, n)


def test_bad_inputs_are_named():
    with pytest.raises(ColsimError, match="`tile` must be a positive integer, not 0"):
        skip_columns(np.ones(4, bool), 0)
    with pytest.raises(ColsimError, match="hot mask must be a 1-D bool array"):
        skip_columns(np.ones(4), 2)


@dataclass(frozen=True)
class LayerRun:
    """What one implementation returned for one layer: issued columns and counters."""

    columns: list[IssuedColumn]
    issued: int
    skipped: int


def run_model(case: SkipCase, tmp_path) -> list[LayerRun]:
    """Run the reference model on each layer."""
    results = [skip_columns(case.mask(index), case.cols) for index in range(len(case.layers))]
    return [LayerRun(list(r.columns), r.issued, r.skipped) for r in results]


def run_amaranth(case: SkipCase, tmp_path) -> list[LayerRun]:
    """Run the hardware's skip logic in the Amaranth simulator, all layers in one run."""
    masks = [case.mask(index) for index in range(len(case.layers))]
    return simulate(skip_for(case.hardware()), masks, [layer.stall for layer in case.layers],
                    seed=case.seed)


def run_verilator(case: SkipCase, tmp_path) -> list[LayerRun]:
    """Run the cocotb bench on Verilator (one build per array width); return its report."""
    result = run_bench("skip", case.hardware(), "colsim.testbench.skip_bench", case.to_json(),
                       results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    assert result.report["mask_width"] == case.cols
    return [LayerRun([IssuedColumn(*beat) for beat in layer["columns"]], layer["issued"],
                     layer["skipped"])
            for layer in result.report["observed"]]


def simulate(dut: ColumnSkip, masks: list[np.ndarray], stalls: list[float], *,
             seed: int) -> list[LayerRun]:
    """Run each mask through ``dut`` as one layer, streamed with its stall probability."""
    width = dut.mask_width
    rng = random.Random(seed)
    source_rng, sink_rng = random.Random(rng.random()), random.Random(rng.random())
    results: list[LayerRun] = []

    async def source(ctx):
        for layer, (hot, stall) in enumerate(zip(masks, stalls, strict=True)):
            ctx.set(dut.columns, hot.size)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            await drive(ctx, dut.i_mask, mask_words(hot, width), rng=source_rng, stall=stall)
            while len(results) <= layer:  # the next layer starts once this one is checked
                await ctx.tick()

    async def sink(ctx):
        for hot, stall in zip(masks, stalls, strict=True):
            await ctx.tick()  # the source's start strobe
            received = await collect(ctx, dut.o_col, int(hot.sum()), rng=sink_rng, stall=stall)
            while ctx.get(dut.busy):
                await ctx.tick()
            beats = [IssuedColumn(int(p.column), int(p.slot), bool(p.tile_last), bool(p.last))
                     for p in received]
            results.append(LayerRun(beats, ctx.get(dut.issued), ctx.get(dut.skipped)))
            await ctx.tick()

    with simulation(dut, f"skip_{width}_{dut.tile}") as sim:
        sim.add_testbench(source, background=True)
        sim.add_testbench(sink)
        sim.run()
    return results


RUNNERS = {"model": run_model, "amaranth": run_amaranth, "verilator": run_verilator}


def check_against_mask(got: LayerRun, hot: np.ndarray, tile: int) -> None:
    """Assert that ``got`` issues exactly the hot columns of ``hot``, tiled by ``tile``."""
    indices = np.flatnonzero(hot)
    assert [c.column for c in got.columns] == indices.tolist()
    assert (got.issued, got.skipped) == (indices.size, hot.size - indices.size)
    # Tiles: full except the last; markers on the C-th and the final column.
    tiles = [indices[t:t + tile].tolist() for t in range(0, indices.size, tile)]
    rebuilt, current = [], []
    for beat in got.columns:
        assert beat.slot == len(current)
        current.append(beat.column)
        if beat.tile_last:
            rebuilt.append(current)
            current = []
    assert rebuilt == tiles and current == []
    assert [c.last for c in got.columns] == [k == indices.size - 1 for k in range(indices.size)]


@pytest.mark.parametrize("case", SKIP_CASES, ids=lambda case: case.name)
def test_skip_issues_the_hot_columns(run, case, tmp_path):
    got = run(case, tmp_path)
    assert len(got) == len(case.layers)
    for index, layer in enumerate(got):
        hot = case.mask(index)
        check_against_mask(layer, hot, case.cols)
        expected = skip_columns(hot, case.cols)
        assert (layer.columns, layer.issued, layer.skipped) == (
            list(expected.columns), expected.issued, expected.skipped), f"layer {index}"


@pytest.mark.parametrize(("width", "tile", "n", "stall"), [
    (8, 4, 37, 0.3),    # ragged last word and ragged last tile
    (4, 3, 16, 0.0),    # no stalls: one column per cycle
    (16, 4, 50, 0.5),   # heavy back-pressure
    (3, 8, 10, 0.2),    # tile wider than a mask word
])
def test_rtl_with_mask_words_apart_from_tiles_equals_model(width, tile, n, stall):
    """The block takes a mask word width other than its tile (the hardware builds them equal,
    so this runs on the Amaranth simulator only)."""
    rng = np.random.default_rng(width * n)
    kinds = ["half", "all_hot", "all_cold", "single", "last_only", "sparse", "dense"]
    masks = [make_mask(rng, n, kind) for kind in kinds]
    got = simulate(ColumnSkip(width, tile, index_bits=10), masks, [stall] * len(masks), seed=n)
    for layer, hot in zip(got, masks, strict=True):
        check_against_mask(layer, hot, tile)
        expected = skip_columns(hot, tile)
        assert layer.columns == list(expected.columns)
        assert (layer.issued, layer.skipped) == (expected.issued, expected.skipped)


@pytest.mark.parametrize(("max_hidden", "bits"), [(8192, 14), (8191, 13), (1000, 10), (1, 1)])
def test_index_and_counter_widths_count_max_hidden_columns(max_hidden, bits):
    hw = reference_hardware().with_overrides({"layers": {"max_hidden": max_hidden}})
    dut = skip_for(hw)
    silence_unused(dut)  # built to read its ports, never elaborated
    assert dut.index_bits == bits and (max_hidden >> bits) == 0  # N = max_hidden fits
    assert (len(dut.columns), len(dut.o_col.payload.column)) == (bits, bits)
    assert len(dut.issued) == len(dut.skipped) == bits + 1
    assert (dut.mask_width, dut.tile) == (32, 32)
