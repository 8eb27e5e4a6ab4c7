"""FFN engine top in the Amaranth simulator: programs of real schedules, random latencies.

Every instruction stream idles at random, the DRAM request stream sees random back-pressure
and responses return after random latencies (in any order), carrying the data of a DRAM
image of seeded operands. The request stream must equal the schedule's transactions, the top
must finish each layer-iteration with every op given at least its scheduled cycles, and
the H, Y and Y_cold it wrote (and the mask it derived) must equal the fixed-point reference.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from colsim.config import tiny_hardware
from colsim.hw.ffn_top import FfnTop
from colsim.hw.program import compile_schedule
from colsim.models.spec import FfnLayer
from colsim.testbench.amaranth_streams import drive, simulation
from colsim.testbench.ffn_case import CosimSpec
from colsim.testbench.ffn_memory import RandomLatencyMemory


def run_top(spec: CosimSpec, *, stall: float, seed: int):
    """Simulate every iteration of ``spec``; return (programs, requests, counters, checks)."""
    dut = FfnTop(spec.hw)
    schedules = spec.schedules()
    programs = [compile_schedule(s, spec.hw) for s in schedules]
    memory = RandomLatencyMemory(seed, *spec.latency)
    data = spec.data()
    rng = random.Random(seed)
    requests, counters, checks = [], [], []

    async def serve(ctx):
        cycle, due = 0, []
        while True:
            cycle += 1
            due += memory.pop_due(cycle)
            ctx.set(dut.i_resp.valid, bool(due))
            if due:
                tag, addr = due.pop(0)
                ctx.set(dut.i_resp.payload.tag.as_value(), tag)
                ctx.set(dut.i_resp.payload.data, data.read_beat(addr))
            ready = rng.random() >= stall
            ctx.set(dut.o_req.ready, ready)
            if ready and ctx.get(dut.o_req.valid):
                request = ctx.get(dut.o_req.payload)
                addr, write = int(request.addr), bool(request.write)
                requests.append((addr, write))
                if write:
                    data.write_beat(addr, int(request.data), int(request.strobe))
                assert memory.offer(0, False, (request.tag.as_value().value, addr), cycle)
            await ctx.tick()

    async def control(ctx):
        ctx.set(dut.tau, data.tau_q)
        for index, (schedule, program) in enumerate(zip(schedules, programs, strict=True)):
            data.begin(index)
            for name, value in program.registers().items():
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.mask_write, 1)
            for t, row in enumerate(program.mask_rows):
                ctx.set(dut.mask_row, t)
                ctx.set(dut.mask_data, row)
                await ctx.tick()
            ctx.set(dut.mask_write, 0)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            limit = 200 * (len(program.dma) + len(program.array) + len(program.simd)) + 20000
            for _ in range(limit):
                await ctx.tick()
                if ctx.get(dut.done):
                    break
            else:
                raise AssertionError(f"iteration {index} did not finish in {limit} cycles")
            counters.append({name: ctx.get(getattr(dut, name))
                             for name in ("cycles", "array_busy", "array_stall", "simd_busy",
                                          "hot_issued", "hot_skipped")})

            def mask_row(t, ctx=ctx):
                ctx.set(dut.mask_row, t)
                return int(ctx.get(dut.mask_bits))
            checks.append(data.check(index, schedule, mask_row))

    def feeder(name, port):
        """Feed every iteration's instructions; the top takes each batch after its start."""
        layout = port.payload.shape()
        feed = [layout.const(i) for program in programs for i in getattr(program, name)]

        async def run(ctx):
            await drive(ctx, port, feed, rng=random.Random(f"{seed}-{name}"), stall=stall)
        return run

    with simulation(dut, "ffn_top") as sim:
        sim.add_testbench(serve, background=True)
        for name in ("dma", "array", "simd"):
            sim.add_testbench(feeder(name, getattr(dut, f"i_{name}")), background=True)
        sim.add_testbench(control)
        sim.run()
    return programs, requests, counters, checks


CASES = {
    "plain-rowmajor": dict(layer=FfnLayer("plain", 8, 16, 64, False), density=0.3,
                           layout="rowmajor"),
    "gated-hotcold": dict(layer=FfnLayer("gated", 5, 12, 40, True), density=0.4,
                          layout="hotcold"),
    "all-cold": dict(layer=FfnLayer("cold", 4, 8, 16, False), density=0.0, layout="rowmajor"),
    # SIMD units wider and narrower than a tile row (C = 4): 4 rows per beat, 2 beats per row.
    "plain-16lanes": dict(layer=FfnLayer("plain", 8, 16, 64, False), density=0.3,
                          layout="hotcold", lanes=16),
    "gated-2lanes": dict(layer=FfnLayer("gated", 5, 12, 40, True), density=0.4,
                         layout="rowmajor", lanes=2),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_top_computes_the_schedule_bit_exactly(name):
    case = CASES[name]
    layer = case["layer"]
    rng = np.random.default_rng(11)
    hot = rng.random(layer.hidden) < case["density"]
    hw = tiny_hardware(dma={"transfers_in_flight": 3}, simd={"lanes": case.get("lanes", 4)})
    spec = CosimSpec(hw, layer, hot,
                     layout=case["layout"], iterations=2, latency=(1, 60))
    programs, requests, counters, checks = run_top(spec, stall=0.3, seed=5)
    expected = [(int(a), bool(w)) for s in spec.schedules()
                for a, w in zip(s.addr, s.is_write, strict=True)]
    assert requests == expected
    for program, counter in zip(programs, counters, strict=True):
        # An op runs at least its scheduled cycles; a stalled cycle counts as a stall only.
        ran = counter["array_busy"] + counter["array_stall"]
        assert ran >= sum(max(1, i["cycles"]) for i in program.array)
        assert counter["simd_busy"] >= sum(max(1, i["cycles"]) for i in program.simd)
        assert counter["cycles"] >= ran
        listed = program.hot_list().size
        assert (counter["hot_issued"], counter["hot_skipped"]) == (listed,
                                                                   program.columns - listed)
    assert all(check["bit_exact"] for check in checks), checks
    assert checks[0].get("mask_equal", True) and checks[0]["float_within"], checks[0]
