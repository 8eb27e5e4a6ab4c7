"""The SIMD engine in the Amaranth simulator against the fast model's rule (``simd_op``).

SIMD ops with short and long scheduled cycles, one waiting for its result-queue entry, run
back to back on SIMD units narrower than, as wide as and wider than a tile row; the cycle
each op ends and the busy counter must equal what
:func:`colsim.sim.fast.engines.simd_op` gives with the unit's minimum
(:func:`colsim.sim.fast.engines.simd_min_cycles`).
"""

from __future__ import annotations

import pytest

from colsim.config import tiny_hardware
from colsim.errors import ConfigError
from colsim.hw.ffn_top import FfnTop
from colsim.hw.program import program_format
from colsim.hw.simd_engine import SimdEngine
from colsim.sim.fast import engines as e
from colsim.testbench.amaranth_streams import simulation

# (scheduled cycles, the queue's head entry due from (-1: no entry))
OPS = [(1, -1), (2, 30), (20, -1), (4, 30), (9, -1)]


@pytest.mark.parametrize("shape", [(4, 4, 4), (4, 4, 8), (4, 4, 64), (8, 8, 4), (8, 2, 4)],
                         ids=lambda s: "{}x{}-{}lanes".format(*s))
def test_simd_engine_follows_its_rule(shape):
    rows, cols, lanes = shape
    hw = tiny_hardware(systolic={"rows": rows, "cols": cols}, simd={"lanes": lanes})
    dut = SimdEngine(hw, program_format(hw))
    layout = dut.i_simd.payload.shape()
    program = [layout.const({"cycles": cycles, "has_after": due >= 0, "op": 0})
               for cycles, due in OPS]
    base = 1
    unit_free, busy, expected = base + 1, 0, []  # it fetches in cycle ``base``, then gates
    for cycles, due in OPS:
        start, end = e.simd_op(unit_free, max(due, 0), cycles, e.simd_min_cycles(hw))
        expected.append(end)
        busy += end - start
        unit_free = end
    seen = []

    async def bench(ctx):
        ctx.set(dut.start, 1)
        ctx.set(dut.count, len(OPS))
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.running, 1)
        taken = 0
        for cycle in range(base, 150):
            ctx.set(dut.queue.due, cycle >= 30)
            ctx.set(dut.i_simd.valid, taken < len(OPS))
            if taken < len(OPS):
                ctx.set(dut.i_simd.payload, program[taken])
            if ctx.get(dut.i_simd.valid) and ctx.get(dut.i_simd.ready):
                taken += 1
            if ctx.get(dut.end):
                seen.append(cycle + 1)
            await ctx.tick()
        assert ctx.get(dut.busy) == busy
        assert ctx.get(dut.idle)

    with simulation(dut, "simd_engine") as sim:
        sim.add_testbench(bench)
        sim.run()
    assert seen == expected


def test_the_top_needs_a_power_of_two_lanes():
    with pytest.raises(ConfigError, match=r"`simd.lanes` must be a power of two for the FFN "
                                          r"top, not 6"):
        FfnTop(tiny_hardware(simd={"lanes": 6}))
