"""cocotb bench of the SIMD unit: driver, monitor, reference model and scoreboard.

Run through :mod:`colsim.testbench.runner`. The case, a
:class:`~colsim.testbench.simd_cases.SimdCase` (a seed, the unit's lanes, ``frac_bits`` /
``segment_bits`` and a list of ``parts``, each with a beat kind and count, ``shift``, ``tau``,
group length and stall probabilities, run one after the other in one simulation), comes as
JSON in ``COLSIM_CASE``; the lane count is read back from the DUT's port widths and must be
the case's. A summary (the results the DUT returned, cycles per part) is written to
``COLSIM_REPORT`` when set.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from colsim.config import ClockConfig, from_mapping
from colsim.hw.simd_model import SimdResult, SimdUnitModel
from colsim.testbench.cocotb_streams import StreamSink, StreamSource, pack, random_pauses, unpack
from colsim.testbench.simd_cases import SimdCase


def core_period_ps() -> int:
    """Return the core clock period of the case's hardware (``hw`` in ``$COLSIM_CASE``)."""
    case = json.loads(os.environ["COLSIM_CASE"])
    return from_mapping(ClockConfig, case["hw"]["clock"], prefix="hw.clock").period_ps


async def start_and_reset(dut) -> None:
    """Start ``dut.clk`` at :func:`core_period_ps` and hold ``dut.rst`` for three cycles."""
    Clock(dut.clk, core_period_ps(), unit="ps").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def write_report(report: dict) -> None:
    """Write ``report`` to ``$COLSIM_REPORT`` when the runner asked for one."""
    if os.environ.get("COLSIM_REPORT"):
        with open(os.environ["COLSIM_REPORT"], "w") as handle:
            json.dump(report, handle)


@cocotb.test()
async def simd_beats(dut):
    """Stream each part's random beats; the scoreboard compares with the numpy reference."""
    case = json.loads(os.environ["COLSIM_CASE"])
    spec = SimdCase.from_json(case)
    lanes = (len(dut.i_data__payload) - 3) // 64
    assert lanes == spec.lanes, f"the DUT has {lanes} lanes, the case {spec.lanes}"

    def decode(word: int) -> SimdResult:
        data = tuple(unpack(word, 16, lanes))
        hot = tuple(bool((word >> (16 * lanes + i)) & 1) for i in range(lanes))
        return SimdResult(data, hot, bool((word >> (17 * lanes)) & 1))

    await start_and_reset(dut)
    cycles, results = [], []
    for index, part in enumerate(spec.parts):
        seed = spec.seed + 3 * index
        beats = spec.beats(index)
        expected = SimdUnitModel(lanes, spec.frac_bits, spec.segment_bits).process(
            beats, shift=part.shift, tau=part.tau)
        source = StreamSource(dut, "i_data", dut.clk, random_pauses(seed, part.source_stall))
        sink = StreamSink(dut, "o_data", dut.clk, random_pauses(seed + 1, part.sink_stall),
                          decode=decode)
        dut.shift.value = part.shift
        dut.tau.value = part.tau & 0xFFFF
        words = [int(b.op) | pack(b.a, 32) << 2 | pack(b.b, 32) << (2 + 32 * lanes)
                 | int(b.last) << (2 + 64 * lanes) for b in beats]
        tasks = [source.start(words), sink.start(len(beats))]
        for task in tasks:
            await task
        assert sink.received == expected, f"part {index} ({part.kind}) differs"
        cycles.append((sink.last_transfer - source.first_transfer) // core_period_ps() + 1)
        results.append([[r.data, r.hot, r.last] for r in sink.received])
    write_report({"lanes": lanes, "cycles": cycles, "observed": results, **case})
