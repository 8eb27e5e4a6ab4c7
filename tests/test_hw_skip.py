"""Column-mask skip logic: the model against brute force, the RTL against the model."""

from __future__ import annotations

import random

import numpy as np
import pytest

from colsim.compat import silence_unused
from colsim.config import reference_hardware
from colsim.errors import ColsimError
from colsim.hw.skip import ColumnSkip, skip_for
from colsim.hw.skip_model import IssuedColumn, mask_from_words, mask_words, skip_columns
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testbench.skip_bench import make_mask


@pytest.mark.parametrize("kind", ["all_hot", "all_cold", "single", "sparse", "half", "dense"])
@pytest.mark.parametrize(("n", "tile"), [(37, 4), (64, 8), (5, 3), (1, 1)])
def test_model_compacts_hot_columns_into_tiles(n, tile, kind):
    hot = make_mask(np.random.default_rng(n * tile), n, kind)
    result = skip_columns(hot, tile)
    indices = np.flatnonzero(hot)
    assert [c.column for c in result.columns] == indices.tolist()
    assert (result.issued, result.skipped) == (indices.size, n - indices.size)
    # Tiles: full except the last; markers on the C-th and the final column.
    tiles = [indices[t:t + tile].tolist() for t in range(0, indices.size, tile)]
    rebuilt, current = [], []
    for beat in result.columns:
        assert beat.slot == len(current)
        current.append(beat.column)
        if beat.tile_last:
            rebuilt.append(current)
            current = []
    assert rebuilt == tiles and current == []
    assert [c.last for c in result.columns] == [k == indices.size - 1
                                                for k in range(indices.size)]


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


def run_rtl(masks: list[np.ndarray], *, width: int, tile: int, seed: int, stall: float):
    """Run each mask through the RTL as one layer; return (beats, issued, skipped) per layer."""
    dut = ColumnSkip(width, tile, index_bits=10)
    rng = random.Random(seed)
    source_rng, sink_rng = random.Random(rng.random()), random.Random(rng.random())
    results: list = []

    async def source(ctx):
        for layer, hot in enumerate(masks):
            ctx.set(dut.columns, hot.size)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            await drive(ctx, dut.i_mask, mask_words(hot, width), rng=source_rng, stall=stall)
            while len(results) <= layer:  # the next layer starts once this one is checked
                await ctx.tick()

    async def sink(ctx):
        for hot in masks:
            await ctx.tick()  # the source's start strobe
            received = await collect(ctx, dut.o_col, int(hot.sum()), rng=sink_rng, stall=stall)
            while ctx.get(dut.busy):
                await ctx.tick()
            beats = [IssuedColumn(int(p.column), int(p.slot), bool(p.tile_last), bool(p.last))
                     for p in received]
            results.append((beats, ctx.get(dut.issued), ctx.get(dut.skipped)))
            await ctx.tick()

    with simulation(dut, f"skip_{width}_{tile}") as sim:
        sim.add_testbench(source, background=True)
        sim.add_testbench(sink)
        sim.run()
    return results


@pytest.mark.parametrize(("width", "tile", "n", "stall"), [
    (8, 4, 37, 0.3),    # ragged last word and ragged last tile
    (4, 3, 16, 0.0),    # no stalls: one column per cycle
    (16, 4, 50, 0.5),   # heavy back-pressure
    (3, 8, 10, 0.2),    # tile wider than a mask word
])
def test_rtl_equals_model(width, tile, n, stall):
    rng = np.random.default_rng(width * n)
    kinds = ["half", "all_hot", "all_cold", "single", "last_only", "sparse", "dense"]
    masks = [make_mask(rng, n, kind) for kind in kinds]
    for (beats, issued, skipped), hot in zip(run_rtl(masks, width=width, tile=tile, seed=n,
                                                     stall=stall), masks, strict=True):
        expected = skip_columns(hot, tile)
        assert beats == list(expected.columns)
        assert (issued, skipped) == (expected.issued, expected.skipped)


@pytest.mark.parametrize(("max_hidden", "bits"), [(8192, 14), (8191, 13), (1000, 10), (1, 1)])
def test_index_and_counter_widths_count_max_hidden_columns(max_hidden, bits):
    hw = reference_hardware().with_overrides({"layers": {"max_hidden": max_hidden}})
    dut = skip_for(hw)
    silence_unused(dut)  # built to read its ports, never elaborated
    assert dut.index_bits == bits and (max_hidden >> bits) == 0  # N = max_hidden fits
    assert (len(dut.columns), len(dut.o_col.payload.column)) == (bits, bits)
    assert len(dut.issued) == len(dut.skipped) == bits + 1
    assert (dut.mask_width, dut.tile) == (32, 32)
