"""The DMA engine in the Amaranth simulator against the fast model's rules.

Read transfers of a few beats each run through a DMA engine with two in-flight entries;
the memory accepts every request at once and answers them in order, one per cycle, from a
late cycle on. Each request must be presented in the cycle the fast model's functions give
(:func:`~colsim.sim.fast.engines.dma_take`, :func:`~colsim.sim.fast.engines.entry_free`,
:func:`~colsim.sim.fast.engines.dma_first_request`,
:func:`~colsim.sim.fast.engines.retire_visible`): one request per cycle, an idle cycle
between transfers, and a transfer gated until a response retired an earlier one.
"""

from __future__ import annotations

import numpy as np

from colsim.config import tiny_hardware
from colsim.hw.dma_engine import DmaEngine
from colsim.hw.onchip import ROWS
from colsim.hw.program import program_format
from colsim.sim.fast import engines as e
from colsim.testbench.amaranth_streams import simulation

BEATS = [3, 1, 2, 2, 1]  # requests per transfer
ANSWER_FROM = 40  # responses, one per cycle in request order, from this cycle on
ENTRIES = 2


def _expected(base: int) -> list[int]:
    """Return the cycle each request is presented in, as the fast model runs the engine."""
    front = e.new_front(base)
    free, port, answered = base, base, ANSWER_FROM
    retired = np.zeros(len(BEATS), dtype=np.int64)
    cycles = []
    for i, beats in enumerate(BEATS):
        entry = e.entry_free(i, i, retired, ENTRIES)
        held = e.dma_take(front, 0, free, base)
        first = e.dma_first_request(held, port, max(base, entry))
        for cycle in range(first, first + beats):
            cycles.append(cycle)
            answered = max(answered, cycle + 1) + 1  # responses one per cycle, in order
        retired[i] = e.retire_visible(answered - 1)
        port = free = first + beats
    return cycles


def test_dma_engine_follows_its_rule():
    hw = tiny_hardware(dma={"transfers_in_flight": ENTRIES})
    fmt = program_format(hw)
    dut = DmaEngine(hw, fmt)
    layout = dut.i_dma.payload.shape()
    program = [layout.const({"buffer": 1, "slot": 0, "first": 1, "total": beats,
                             "base": 4096 * i, "stride": 32, "count": beats, "dest": ROWS,
                             "mask": 1})
               for i, beats in enumerate(BEATS)]
    base = 1
    presented, tags = [], []

    async def bench(ctx):
        ctx.set(dut.start, 1)
        ctx.set(dut.count, len(BEATS))
        ctx.set(dut.columns, fmt.geometry.cols)
        ctx.set(dut.identity, 1)
        ctx.set(dut.dram.o_req.ready, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.running, 1)
        taken = answered = 0
        for cycle in range(base, 150):
            ctx.set(dut.i_dma.valid, taken < len(BEATS))
            if taken < len(BEATS):
                ctx.set(dut.i_dma.payload, program[taken])
            if ctx.get(dut.i_dma.valid) and ctx.get(dut.i_dma.ready):
                taken += 1
            answer = cycle >= ANSWER_FROM and answered < len(presented)
            ctx.set(dut.dram.i_resp.valid, answer)
            if answer:
                ctx.set(dut.dram.i_resp.payload.tag.as_value(), tags[answered])
                answered += 1
            if ctx.get(dut.dram.o_req.valid):
                presented.append(cycle)
                tags.append(ctx.get(dut.dram.o_req.payload.tag.as_value()))
            await ctx.tick()
        assert ctx.get(dut.idle)

    with simulation(dut, "dma_engine") as sim:
        sim.add_testbench(bench)
        sim.run()
    assert presented == _expected(base)
