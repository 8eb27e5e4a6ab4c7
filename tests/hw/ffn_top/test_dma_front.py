"""DMA front end: skip walk + hot list + remapper against the reference model (Amaranth sim).

Random instruction streams mix remapped W1 runs (positions anywhere in the hot list, also
ones the walk has not reached yet) with plain runs; both streams stall at random. Every
instruction must leave unchanged except a remapped run's base, which must equal
:func:`~colsim.hw.program.resolve_base` on the walk's hot list; the skip counters must count
the mask's hot and cold slots.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from colsim.config import tiny_hardware
from colsim.hw.dma_front import DmaFront
from colsim.hw.program import hot_list, program_format, resolve_base
from colsim.hw.skip_model import mask_words
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testing import make_mask

W1_BASE, W1_STRIDE = 0x4000, 96


def _instructions(fmt, listed: int, count: int, rng: random.Random) -> list[dict[str, int]]:
    """Return random DMA instructions; remapped ones name positions below ``listed``."""
    widths = dict(fmt.dma_fields)
    out = []
    for _ in range(count):
        fields = {name: rng.getrandbits(width) for name, width in widths.items()}
        fields["remap"] = int(listed > 0 and rng.random() < 0.6)
        fields["column"] = rng.randrange(listed) if fields["remap"] else fields["column"]
        if fields["remap"]:
            fields["base"] = rng.randrange(W1_STRIDE)
        out.append(fields)
    return out


def _run(hot: np.ndarray, sparse: bool, seed: int, stall: float) -> None:
    hw = tiny_hardware()
    fmt = program_format(hw)
    cols = fmt.geometry.cols
    rows = mask_words(hot, cols)  # padding bits set: the walk must ignore them
    listed = hot_list(rows, hot.size, cols, sparse)
    rng = random.Random(seed)
    batches = [_instructions(fmt, listed.size, 12, rng) for _ in range(2)]
    dut = DmaFront(hw, fmt)
    layout = dut.i_dma.payload.shape()
    received, counters = [], []

    async def control(ctx):
        ctx.set(dut.w1_base, W1_BASE)
        ctx.set(dut.w1_stride, W1_STRIDE)
        ctx.set(dut.identity, 1)
        ctx.set(dut.columns, hot.size)
        ctx.set(dut.sparse, int(sparse))
        for batch in batches:
            ctx.set(dut.count, len(batch))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            got = await collect(ctx, dut.o_dma, len(batch), rng=random.Random(seed + 1),
                                stall=stall)
            received.append([{name: int(getattr(p, name)) for name, _ in fmt.dma_fields}
                             for p in got])
            for _ in range(hot.size + 8):  # let the walk finish before reading its counters
                await ctx.tick()
            counters.append((ctx.get(dut.issued), ctx.get(dut.skipped)))

    async def mask(ctx):  # the mask store's combinational read port
        ctx.set(dut.mask_data, rows[0])
        async for (row,) in ctx.changed(dut.mask_addr):
            ctx.set(dut.mask_data, rows[row] if row < len(rows) else 0)

    async def feed(ctx):
        flat = [layout.const(i) for batch in batches for i in batch]
        await drive(ctx, dut.i_dma, flat, rng=random.Random(seed + 2), stall=stall)

    with simulation(dut, "dma_front") as sim:
        sim.add_process(mask)
        sim.add_testbench(feed, background=True)
        sim.add_testbench(control)
        sim.run()
    for batch, got in zip(batches, received, strict=True):
        expected = [{**i, "base": resolve_base(i, listed, W1_BASE, W1_STRIDE)
                     % (1 << hw.sequencer.address_bits)} for i in batch]
        assert got == expected
    assert counters == [(listed.size, hot.size - listed.size)] * len(batches)


@pytest.mark.parametrize("kind", ["sparse", "all_hot", "all_cold", "single", "dense"])
@pytest.mark.parametrize("n", [37, 16])
def test_front_resolves_remapped_runs_through_the_walk(kind, n):
    hot = make_mask(np.random.default_rng(n), n, kind)
    _run(hot, sparse=True, seed=n, stall=0.3)


def test_dense_walk_lists_every_slot():
    hot = np.zeros(23, dtype=bool)  # ignored: a dense walk lists every slot
    _run(hot, sparse=False, seed=3, stall=0.2)
