"""cocotb bench of the FFN engine top: program loader, DRAM agent, scoreboard, report.

Run through :mod:`colsim.testbench.runner` with a :class:`~colsim.testbench.ffn_case.CosimSpec`
as ``COLSIM_CASE``. For every layer-iteration the bench writes the iteration's quantised
operands into the DRAM image (:class:`~colsim.testbench.ffn_data.CosimData`), compiles the
schedule into the top's programs, loads them into the harness's program memories, starts
the top and answers DRAM requests from a memory agent (:mod:`colsim.testbench.ffn_memory`):
a write beat lands in the image (byte strobes) when the memory accepts it, a read returns
the image's bytes when it completes. Python only wakes when a request is offered or a
response is due, not every cycle.

Timing: the clock is the simulator's (one model evaluation per edge, no Python task). The
three instruction streams are fed by the harness around the top
(:mod:`~colsim.testbench.harness`): the words are written into its
program memories through VPI before the start, and it offers them back to back. The top
has only rising-edge logic, so the DRAM agent drives its inputs at falling edges, written
immediately so that they join the evaluation the edge causes anyway (writes right after a
rising edge would cost one more evaluation of the whole input-driven logic). Control
registers and the mask store are written once per iteration, between runs.

Checks (each fails the test): the request stream equals the schedule's transactions address
by address (their DRAM addresses: the channel interleave of ``dma.channels``; the DRAM image
is kept at the accelerator's addresses); every request was answered; the DRAM command log
passes the protocol checker (GDDR6 memory); H, Y and Y_cold in DRAM equal the fixed-point
reference bit for bit; dense iterations' Y lies within the derived bound of torch's float
FFN; the dense FFN-Reuse iteration's mask (read from the top's mask store) equals the
profiler's rule on the same quantised data. The report (``COLSIM_REPORT``) holds
per-iteration cycles and counters of the RTL next to the fast model's cycles for the same
schedules, the DRAM statistics, the checks and the simulation speed.

Fast model, like with like (DESIGN.md contract 10): before each layer-iteration the bench
copies the DRAM controller's state (:meth:`Gddr6Memory.snapshot`); the fast model then runs
the same schedule from that state, started in the top's first running cycle, so the two
executors meet the same open rows and the same refresh timer. The report carries, per
iteration and for both executors, the cycles, the per-engine counters, every transaction's
DRAM acceptance and completion cycles and the DRAM statistics
(:mod:`colsim.analysis.crosscheck` compares them).
"""

from __future__ import annotations

import collections
import gc
import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.handle import Immediate
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from colsim.compat import handle_logger
from colsim.errors import ColsimError
from colsim.hw.dram_port import REQUEST, RESPONSE, DramPort
from colsim.hw.interleave_model import Interleave
from colsim.sim.dram.checker import check_protocol
from colsim.sim.fast.run import MemorySystem, run_schedule
from colsim.sim.schedule import Schedule
from colsim.testbench.cocotb_streams import port
from colsim.testbench.ffn_case import STREAMS, CosimSpec
from colsim.testbench.ffn_memory import Gddr6Memory, RandomLatencyMemory

SHORT_SLEEP = 4
"""Idle gaps up to this many cycles are slept through edge by edge: a longer sleep sets the
harness's alarm and waits for its edge and then a falling edge, which cost more than a few
falling edges (measured: bench rtl is faster than with 1)."""


class FfnTB:
    """The top in its harness: the program loader and the DRAM agent (requests → memory →
    tags)."""

    def __init__(self, dut, spec: CosimSpec, *, corrupt: str | None = None) -> None:
        self.dut, self.spec = dut, spec
        self.period = spec.hw.clock.period_ps
        if spec.memory == "gddr6":
            self.memory = Gddr6Memory(spec.hw.dram_config, spec.hw.clock.core_mhz)
        else:
            self.memory = RandomLatencyMemory(spec.seed, *spec.latency, refuse=spec.refuse)
        self.port = DramPort(spec.hw)
        self.data = spec.data()
        self.interleave = Interleave.from_hw(spec.hw)  # the top's DRAM addresses (dma.channels)
        self.corrupt_data = corrupt == "data"  # self-test: one flipped bit must be caught
        self.requests: list[tuple[int, bool]] = []
        self.answered = 0
        self._due: collections.deque[int] = collections.deque()
        self._t0 = 0
        self._falling = FallingEdge(dut.clk)
        self._program_words: dict[str, list] = {name: [] for name in STREAMS}  # handles

    def cycle(self) -> int:
        """Return the current core cycle (rising edges since the end of reset)."""
        return int(get_sim_time("ps") - self._t0) // self.period

    async def reset(self) -> None:
        """Start the clock, hold reset, start the DRAM agent."""
        # The simulator's own clock (not a Python task) writing the clock immediately: one
        # model evaluation per edge instead of two, and no Python wake-up per edge.
        Clock(self.dut.clk, self.period, unit="ps", impl="gpi", set_action=Immediate).start()
        self.dut.rst.value = 1
        self.dut.start.value = self.dut.mask_write.value = self.dut.program_restart.value = 0
        for name in STREAMS:
            getattr(self.dut, f"i_{name}__count").value = 0
        self.dut.i_table__valid.value = self.dut.i_resp__toggle.value = 0
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        self._t0 = get_sim_time("ps")
        cocotb.start_soon(self._serve())

    async def run(self, program) -> dict[str, int]:
        """Run one layer-iteration's ``program``; return the top's counters and span."""
        words = program.words()
        dut = self.dut
        dut.tau.value = self.data.tau_q
        for name, value in program.registers().items():
            getattr(dut, name).value = value
        await self.program_mask(program.mask_rows)
        self.load_programs(words)
        dut.start.value = dut.program_restart.value = 1
        begin = self.cycle()
        await RisingEdge(dut.clk)
        dut.start.value = dut.program_restart.value = 0
        # Watchdog: every op and transaction serialised with a generous latency each.
        limit = 1000 * (self.spec.hw.dma.transfers_in_flight + len(words["dma"])) + 100 * sum(
            op["cycles"] + op.get("latency", 0) + 8 for op in program.array + program.simd)
        finished = RisingEdge(dut.done)
        if await First(finished, Timer(limit * self.period, unit="ps")) is not finished:
            raise AssertionError(f"the top did not finish within {limit} cycles; "
                                 f"{len(self.requests)} requests so far")
        await ReadOnly()
        counters = {name: int(getattr(dut, name).value)
                    for name in ("cycles", "array_busy", "array_stall", "simd_busy",
                                 "hot_issued", "hot_skipped")}
        await RisingEdge(dut.clk)
        return {**counters, "begin": begin, "end": self.cycle()}

    async def program_mask(self, rows) -> None:
        """Write ``rows`` into the top's mask store (one per cycle, while it is idle)."""
        if not rows:
            return
        self.dut.mask_write.value = 1
        for t, row in enumerate(rows):
            self.dut.mask_row.value, self.dut.mask_data.value = t, row
            await RisingEdge(self.dut.clk)
        self.dut.mask_write.value = 0

    async def mask_rows(self, count: int) -> list[int]:
        """Return rows 0 .. count-1 of the top's mask store (read while it is idle)."""
        rows = []
        for t in range(count):
            self.dut.mask_row.value = t
            await Timer(1, unit="ps")
            rows.append(int(self.dut.mask_bits.value))
        return rows

    def load_programs(self, words: dict[str, list[int]]) -> None:
        """Write each stream's ``words`` into the harness's program memory (no sim time).

        The harness (:mod:`~colsim.testbench.harness`) offers them to the
        top back to back from the next ``program_restart``, as the top's ``ready`` allows.
        """
        for name in STREAMS:
            memory = getattr(self.dut, f"i_{name}__program")
            handles = self._program_words[name]
            if len(words[name]) > len(memory):
                raise AssertionError(
                    f"the {name} program has {len(words[name])} words; the harness holds "
                    f"{len(memory)} (see top_harness)")
            handles.extend(memory[i] for i in range(len(handles), len(words[name])))
            for handle, word in zip(handles, words[name], strict=False):
                handle.set(Immediate(word))
            getattr(self.dut, f"i_{name}__count").value = len(words[name])

    async def _serve(self) -> None:
        """Take requests into the memory and return due tags, one response per cycle.

        The top's request port is driven by its state alone (``valid`` never waits on
        ``ready``, responses are registered at the port), so a request is sampled at the
        falling edge itself, with no ReadOnly step: what it shows there is what the next
        rising edge takes when ``ready`` (driven here) is high. A response is offered by
        toggling ``i_resp__toggle`` (the harness turns each change into one valid cycle).
        """
        dut = self.dut
        req_valid, req_ready = port(dut, REQUEST, "valid"), port(dut, REQUEST, "ready")
        req_payload = port(dut, REQUEST, "payload")
        resp_toggle = port(dut, RESPONSE, "toggle")
        resp_payload = port(dut, RESPONSE, "payload")
        held = None  # a request the memory refused, retried every cycle (ready low meanwhile)
        ready, toggle, alarm_on = True, 0, False  # as last written
        req_ready.value, dut.alarm_on.value = 1, 0
        alarm_at, wake = dut.alarm_at, RisingEdge(dut.wake)
        while True:
            await self._falling
            cycle = self.cycle()
            requesting = bool(req_valid.value)
            self._due.extend(self.memory.pop_due(cycle))
            if self._due:
                tag, addr, write, _index = self._due.popleft()
                beat = 0 if write else self.data.read_beat(self.interleave.logical(addr))
                if self.corrupt_data and not write and self.answered == 0:
                    beat ^= 1 << 3
                resp_payload.set(Immediate(self.port.encode_response(tag, beat)))
                toggle ^= 1
                resp_toggle.set(Immediate(toggle))
                self.answered += 1
            if (held is None) != ready:  # write a signal only when it changes
                ready = held is None
                req_ready.set(Immediate(int(ready)))
            if held is not None:
                if self._offer(*held, cycle):
                    held = None
            elif requesting:  # ready is high: it transfers at the next rising edge
                request = self._decode(int(req_payload.value))
                self.requests.append(request[:2])
                if not self._offer(*request, cycle):
                    held = request
            if held is not None or self._due or requesting or not ready:
                continue
            # Idle: sleep until the next response is due or the top raises a request.
            due = self.memory.next_due(cycle)
            if due is not None and due <= cycle + SHORT_SLEEP:
                continue
            # The harness raises ``wake`` right after the rising edge that starts cycle
            # ``due`` (its counter, one ahead of ``cycle()``, reaches ``due + 1``) or that
            # raises a request; either is handled at the falling edge that follows.
            if due is not None:
                alarm_at.set(Immediate(due + 1))
            if (due is not None) != alarm_on:
                alarm_on = due is not None
                dut.alarm_on.set(Immediate(int(alarm_on)))
            await wake

    def _decode(self, word: int) -> tuple[int, bool, int, int, int]:
        """Return (addr, write, tag, data, strobe) of a request payload."""
        fields = self.port.decode_request(word)
        return (fields["addr"], bool(fields["write"]), fields["tag"], fields["data"],
                fields["strobe"])

    def _offer(self, addr: int, write: bool, tag: int, data: int, strobe: int,
               cycle: int) -> bool:
        """Offer a request to the memory; an accepted write lands in the DRAM image."""
        index = len(self.requests) - 1  # the request's place in the stream
        if not self.memory.offer(addr, write, (tag, addr, write, index), cycle):
            return False
        if write:
            self.data.write_beat(self.interleave.logical(addr), data, strobe)
        return True


@cocotb.test()
async def cosimulate(dut):
    """Run every layer-iteration of the case; check the request stream and DRAM protocol.

    An exception before the report is written leaves ``{"error": <one line>}`` in the
    report copy, so that the caller shows it instead of a generic failure.
    """
    case = json.loads(os.environ["COLSIM_CASE"])
    try:
        await _cosimulate(dut, case)
    except Exception as exc:
        copy = case.get("report_copy")
        if copy and not os.path.exists(copy):
            first = (str(exc).strip().splitlines() or [""])[0]
            error = first if isinstance(exc, ColsimError) else f"{type(exc).__name__}: {first}"
            with open(copy, "w") as handle:
                json.dump({"error": error}, handle)
        raise


async def _cosimulate(dut, case):
    spec = CosimSpec.from_case(case)
    tb = FfnTB(dut, spec, corrupt=case.get("corrupt"))
    schedules = spec.schedules()
    programs = spec.programs(schedules)
    tb.memory.warm_up()  # keep kernel loading out of the measured speed
    # Exempt everything loaded so far (torch, numba, the schedules) from garbage collection:
    # a full collection over that heap took ~0.1 s and struck at random during the runs.
    gc.collect()
    gc.freeze()
    await tb.reset()
    wall = 0.0  # simulation time only: data placement and result checks run between runs
    iterations = []
    cols = spec.hw.systolic.cols
    for index, (schedule, program) in enumerate(zip(schedules, programs, strict=True)):
        tb.data.begin(index)
        first = len(tb.requests)
        before = _dram_point(tb.memory)
        started = time.perf_counter()
        counters = await tb.run(program)
        wall += time.perf_counter() - started
        timing = _iteration_timing(tb.memory, before, first, len(tb.requests))
        fast = _fast_model(spec, schedule, before, counters["begin"] + 1)
        got = tb.requests[first:]
        expected = list(zip(tb.interleave.physical_array(schedule.addr).tolist(),
                            schedule.is_write.tolist(), strict=True))
        if case.get("corrupt") == "requests":  # self-test of the bench: the check must fail
            expected = expected[1:] + expected[:1]
        mismatch = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False))
                         if a != b), None)
        rows = await tb.mask_rows(-(-schedule.up_columns.size // cols))
        checks = tb.data.check(index, schedule, rows.__getitem__)
        iterations.append({
            "mode": schedule.mode, "transactions": schedule.n_transactions,
            "instructions": {k: len(v) for k, v in program.words().items()},
            "request_stream_equal": got == expected,
            "request_mismatch": mismatch if got != expected else None, **counters,
            **{k: v for k, v in checks.items() if k not in ("iteration", "mode")},
            "rtl_timing": timing, "fast": fast,
            "fast_model_cycles": None if fast is None else fast["cycles"],
        })
    simulated = sum(it["end"] - it["begin"] for it in iterations)
    violations = []
    dram_stats = tb.memory.stats()
    if spec.memory == "gddr6":
        violations = check_protocol(tb.memory.config, tb.memory.model.command_log)
    report = {
        "iterations": iterations,
        "dram": dram_stats, "protocol_violations": violations[:20],
        "checks": {
            "request_stream": all(it["request_stream_equal"] for it in iterations),
            "all_answered": tb.answered == len(tb.requests),
            "dram_protocol": not violations,
            "outputs_bit_exact": all(it["bit_exact"] for it in iterations),
            "outputs_float": all(it.get("float_within", True) for it in iterations),
            "dense_mask": all(it.get("mask_equal", True) for it in iterations),
        },
        "simulated_cycles": simulated, "wall_seconds": wall,
        "cycles_per_second": simulated / wall if wall else 0.0,
    }
    # The runner's report, and a copy that survives a failing test (``report_copy``).
    for path in (os.environ.get("COLSIM_REPORT"), case.get("report_copy")):
        if path:
            with open(path, "w") as handle:
                json.dump(report, handle)
    handle_logger(dut).info("%d cycles in %.2f s (%.0f cycles/s); checks %s", simulated, wall,
                            report["cycles_per_second"], report["checks"])
    for it in iterations:
        assert it["request_stream_equal"], f"request stream differs at {it['request_mismatch']}"
    if case.get("crosscheck"):  # a cross-check case: the fast model must agree exactly
        from colsim.analysis.crosscheck import compare_iterations

        for check in compare_iterations("case", schedules, iterations):
            assert check.match, f"the fast model differs from the RTL: {check}"
    assert report["checks"]["all_answered"], "a request was never answered"
    assert not violations, f"DRAM protocol violations: {violations[:3]}"
    for it in iterations:
        assert it["bit_exact"], f"outputs differ from the reference: {it['first_mismatch']}"
        assert it.get("float_within", True), "outputs outside the float tolerance"
        assert it.get("mask_equal", True), "the derived mask differs from the profiler's"


DRAM_COUNTERS = ("reads", "writes", "row_hits", "row_misses", "row_conflicts", "refreshes")


def _dram_point(memory) -> dict | None:
    """Return the DRAM state and counters before a layer-iteration (None: random memory)."""
    if not isinstance(memory, Gddr6Memory):
        return None
    counters = memory.model.stats()
    return {"state": memory.snapshot(), "accepted": len(memory.accepted),
            "completed": len(memory.completed),
            "counters": {key: getattr(counters, key) for key in DRAM_COUNTERS}}


def _iteration_timing(memory, before: dict | None, first: int, end: int) -> dict | None:
    """Return the RTL's DRAM cycles of acceptance and completion of requests ``first..end``
    and the DRAM counters the iteration added (None: random memory)."""
    if before is None:
        return None
    accepted, completed = [-1] * (end - first), [-1] * (end - first)
    for tag, cycle in memory.accepted[before["accepted"]:]:
        accepted[tag[3] - first] = cycle
    for tag, cycle in memory.completed[before["completed"]:]:
        completed[tag[3] - first] = cycle
    counters = memory.model.stats()
    return {"accepted": accepted, "completed": completed,
            "dram": {key: getattr(counters, key) - before["counters"][key]
                     for key in DRAM_COUNTERS}}


def _fast_model(spec: CosimSpec, schedule: Schedule, before: dict | None,
                base: int) -> dict | None:
    """Run ``schedule`` on the fast model from the RTL's DRAM state at core cycle ``base``;
    return its cycles, engine counters, transaction times and DRAM counters (None: random)."""
    if before is None:
        return None
    memory = MemorySystem(spec.hw.dram_config, before["state"])
    run = run_schedule(schedule, spec.hw, memory, base=base)
    stats = run.stats
    writes = int(schedule.is_write.sum())
    return {"cycles": stats.cycles, "array_busy": run.array_busy,
            "array_stall": run.array_stall, "simd_busy": run.simd_busy,
            "accepted": run.accepted.tolist(), "completed": run.completed.tolist(),
            "dram": {"reads": stats.transactions - writes, "writes": writes,
                     "row_hits": stats.row_hits, "row_misses": stats.row_misses,
                     "row_conflicts": stats.row_conflicts, "refreshes": stats.refreshes}}
