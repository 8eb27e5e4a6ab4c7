"""The array engine in the Amaranth simulator against the fast model's rule (``array_op``).

A program of array ops (a long tile, a short tile right after it, a tile in two pieces
whose last step waits for a result-queue entry) runs with its input fills made visible at
chosen cycles; the cycle each op ends, the cycle its tile's last step is accepted (the
queue claim) and the busy / stall counters must equal what
:func:`colsim.sim.fast.engines.array_op` gives for the same inputs.
"""

from __future__ import annotations

from colsim.config import tiny_hardware
from colsim.hw.array_engine import ArrayEngine
from colsim.hw.program import program_format
from colsim.sim.fast import engines as e
from colsim.testbench.amaranth_streams import simulation

# (steps, scheduled cycles, tile_end, fill visible from (nondecreasing), room from or -1)
OPS = [
    (12, 12, 1, 6, -1),  # a long tile
    (2, 3, 1, 6, -1),  # a short tile right behind it: waits for the long one to drain
    (3, 3, 0, 40, -1),  # the first piece of a tile, its fill late
    (4, 5, 1, 40, 70),  # the tile's last piece: its last step waits for a queue entry (ROOM)
    (5, 9, 1, 40, -1),  # scheduled cycles beyond its steps
]
ROOM = 70


def _expected(hw, base: int):
    """Return per op (end, last step) and the counters, as the fast model runs them."""
    drain = hw.systolic.rows + hw.systolic.cols
    # The engine fetches its first op in its first running cycle and gates from the next.
    unit_free, last_tile, stall, busy, ends = base + 1, -1, 0, 0, []
    for steps, cycles, tile_end, fill, room in OPS:
        start, end, last, run_stall = e.array_op(unit_free, fill, cycles, steps, tile_end,
                                                 last_tile, room, drain)
        if tile_end:
            last_tile = last
        stall += start - 1 - unit_free + run_stall
        busy += end - start - run_stall
        ends.append((end, last if tile_end else None))
        unit_free = end
    return ends, busy, stall


def test_array_engine_follows_its_rule():
    hw = tiny_hardware()
    fmt = program_format(hw)
    dut = ArrayEngine(hw, fmt)
    layout = dut.i_array.payload.shape()
    program = [layout.const({"cycles": cycles, "steps": steps, "has_a": 1, "a_slot": 0,
                             "a_fill": i + 1, "release_a": 1, "tile_end": tile_end, "part": 0,
                             "emits": tile_end})
               for i, (steps, cycles, tile_end, _, _) in enumerate(OPS)]
    base = 1  # the engines' first running cycle (the one after ``start``)
    expected_ends, expected_busy, expected_stall = _expected(hw, base)
    seen = {"ends": [], "claims": []}

    async def bench(ctx):
        ctx.set(dut.start, 1)
        ctx.set(dut.count, len(OPS))
        ctx.set(dut.o_c.ready, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.running, 1)
        taken = 0
        for cycle in range(base, 200):
            fills = sum(1 for op in OPS if cycle >= op[3])
            ctx.set(dut.counts.filled_input[0], fills)
            # The queue has room except for the tile of OPS[3], whose entry frees at ROOM.
            ctx.set(dut.queue.room, len(seen["claims"]) != 2 or cycle >= ROOM)
            ctx.set(dut.i_array.valid, taken < len(OPS))
            if taken < len(OPS):
                ctx.set(dut.i_array.payload, program[taken])
            if ctx.get(dut.i_array.valid) and ctx.get(dut.i_array.ready):
                taken += 1
            if ctx.get(dut.release.a):
                seen["ends"].append(cycle + 1)
            if ctx.get(dut.queue.claim):
                seen["claims"].append(cycle)
            await ctx.tick()
        seen["busy"], seen["stall"] = ctx.get(dut.busy), ctx.get(dut.stall)
        seen["idle"] = ctx.get(dut.idle)

    with simulation(dut, "array_engine") as sim:
        sim.add_testbench(bench)
        sim.run()
    # Every op releases its input slot in its last cycle (``release_a`` set below).
    assert seen["ends"] == [end for end, _ in expected_ends]
    assert seen["claims"] == [last for _, last in expected_ends if last is not None]
    assert (seen["busy"], seen["stall"]) == (expected_busy, expected_stall)
    assert seen["idle"]
