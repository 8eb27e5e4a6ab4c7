"""The DMA port (request cap + channel interleaver): one spec on the reference model, the
Amaranth RTL and Verilator, and the interleave function the fast model shares.

Every case of :data:`~colsim.testbench.dma_port_cases.DMA_PORT_CASES` runs on each
implementation (the ``implementation`` fixture of ``conftest.py``) under the case's seeded
per-cycle stimulus; each must give the reference model's trace: the cycle every transaction
passed, its DRAM address (the interleave of its address, on the used channels only, a block
of ``dma.request_bytes`` to one channel) and tag (with the request's slot when requests span
several transactions), never more than ``cap`` requests unanswered.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from colsim.compat import silence_unused
from colsim.config import reference_hardware
from colsim.errors import ColsimError, ConfigError
from colsim.hw.dma_port import PORT_TAG_BITS, dma_port_for
from colsim.hw.dma_port_model import PortTrace, port_model, request_starts
from colsim.hw.interleave import ChannelInterleaver
from colsim.hw.interleave_model import Interleave
from colsim.hw.request_cap import request_slots
from colsim.sim.dram import decode_array, load_dram_config
from colsim.testbench.amaranth_streams import simulation
from colsim.testbench.dma_port_cases import (
    DMA_PORT_CASES,
    DmaPortCase,
    passed_request,
    request_word,
)
from colsim.testbench.runner import run_bench


def run_model(case: DmaPortCase, tmp_path) -> PortTrace:
    """Run the reference model on the case's stimulus."""
    hw = case.hardware()
    return port_model(case.cap, Interleave.from_hw(hw), case.requests(), case.draws(),
                      slots=request_slots(hw) > 0, tag_bits=PORT_TAG_BITS)


def run_amaranth(case: DmaPortCase, tmp_path) -> PortTrace:
    """Run the hardware's DMA port in the Amaranth simulator, cycle by cycle."""
    dut = dma_port_for(case.hardware())
    requests, draws = case.requests(), case.draws()
    request_layout, response_layout = case.layouts()
    trace = PortTrace([], [])

    async def bench(ctx):
        passed, responses = trace.requests, trace.responses
        unanswered = []  # the tags of the transactions passed and not answered, in order
        offering, cycle = False, 0
        ctx.set(dut.o_resp.ready, 1)
        while len(passed) < len(requests) or unanswered:
            draw = next(draws)
            offering = offering or (draw.offer and len(passed) < len(requests))
            if offering:
                ctx.set(dut.i_req.payload.as_value(),
                        request_word(request_layout, *requests[len(passed)]))
            ctx.set(dut.i_req.valid, offering)
            ctx.set(dut.o_req.ready, draw.ready)
            answer = draw.respond and bool(unanswered)
            ctx.set(dut.i_resp.valid, answer)
            if answer:
                tag = unanswered.pop(int(draw.pick * len(unanswered)))
                ctx.set(dut.i_resp.payload.as_value(), tag << response_layout["tag"].offset)
            moved = bool(ctx.get(dut.o_req.valid)) and draw.ready
            if offering:
                assert bool(ctx.get(dut.i_req.ready)) == moved, cycle
            if moved:
                address, tag = passed_request(request_layout,
                                              ctx.get(dut.o_req.payload.as_value()))
                passed.append((cycle, address, tag))
                unanswered.append(tag)
                offering = False
            if ctx.get(dut.o_resp.valid):
                responses.append(cycle)
            await ctx.tick()
            cycle += 1

    with simulation(dut, f"dma_port_{case.name}") as sim:
        sim.add_testbench(bench)
        sim.run()
    return trace


def run_verilator(case: DmaPortCase, tmp_path) -> PortTrace:
    """Run the cocotb bench on Verilator (one build per configuration); return its trace."""
    result = run_bench("dma_port", case.hardware(), "colsim.testbench.dma_port_bench",
                       case.to_json(), results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    return PortTrace([tuple(r) for r in result.report["requests"]],
                     result.report["responses"])


RUNNERS = {"model": run_model, "amaranth": run_amaranth, "verilator": run_verilator}


@pytest.mark.parametrize("case", DMA_PORT_CASES, ids=lambda case: case.name)
def test_port_caps_the_unanswered_requests_and_interleaves_them(run, case, tmp_path):
    got = run(case, tmp_path)
    assert got == run_model(case, tmp_path)
    interleave = Interleave.from_hw(case.hardware())
    requests = case.requests()
    tags = np.array([tag for _, _, tag in got.requests])
    assert list(tags % (1 << PORT_TAG_BITS)) == [tag for _, tag, _ in requests]
    addresses = np.array([address for _, address, _ in got.requests])
    assert list(addresses) == [interleave.physical(a) for a, _, _ in requests]
    channel = decode_array(case.hardware().dram_config, addresses.astype(np.uint64))[:, 0]
    size = interleave.transaction_bytes
    block = np.array([a // size // case.burst for a, _, _ in requests])
    assert list(channel) == list(block % case.used)  # RoBaRaCoCh: a block to one channel
    if case.burst > 1:  # a request's transactions share its slot, one of `cap`
        starts = request_starts(np.array([a for a, _, _ in requests]),
                                np.array([f for _, _, f in requests]), size * case.burst)
        slot = tags >> PORT_TAG_BITS
        assert slot.max() < case.cap
        assert (slot == slot[np.flatnonzero(starts)[np.cumsum(starts) - 1]]).all()
        assert (~starts).any() and (np.diff(np.flatnonzero(starts)) > 1).any()
        return
    cycles = np.array([cycle for cycle, _, _ in got.requests])
    answered = np.array(got.responses)
    unanswered = np.arange(1, cycles.size + 1) - np.searchsorted(answered, cycles,
                                                                 side="right")
    assert unanswered.max() <= case.cap
    if case.offer == case.ready == 1.0:
        assert unanswered.max() == case.cap  # back to back, the cap binds


@pytest.mark.parametrize(("preset", "used"), [("gddr6", 1), ("gddr6", 4), ("gddr6", 5),
                                              ("hbm2", 3)])
def test_interleave_is_a_bijection_onto_the_used_channels(preset, used):
    dram = load_dram_config(preset)
    interleave = Interleave.of(dram, used)
    rng = np.random.default_rng(used)
    logical = np.r_[0, interleave.capacity - 1, rng.integers(0, interleave.capacity, 5000)]
    physical = interleave.physical_array(logical)
    assert (physical < dram.organization.capacity_bytes).all()
    assert (interleave.logical(physical) == logical).all()
    assert (decode_array(dram, physical.astype(np.uint64))[:, 0] < used).all()
    # Consecutive transactions go round the used channels, then on in the same rows.
    size = dram.organization.transaction_bytes
    first = interleave.physical_array(np.arange(2 * used) * size)
    coordinates = decode_array(dram, first.astype(np.uint64))
    assert list(coordinates[:, 0]) == [t % used for t in range(2 * used)]
    assert list(coordinates[:, 4]) == [t // used for t in range(2 * used)]  # column


@pytest.mark.parametrize("mapping", [
    ("channel", "column", "bankgroup", "bank", "row"),  # RoBaRaCoCh
    ("column", "channel", "bankgroup", "bank", "row"),  # the column below the channel
    ("channel", "bank", "column", "bankgroup", "row"),  # a level between them
])
@pytest.mark.parametrize(("used", "burst"), [(6, 4), (4, 2), (3, 8), (1, 64)])
def test_a_block_of_burst_transactions_is_one_row_of_one_channel(mapping, used, burst):
    dram = load_dram_config("gddr6", mapping=list(mapping))
    interleave = Interleave.of(dram, used, burst)
    assert not interleave.identity
    rng = np.random.default_rng(burst)
    logical = np.r_[0, interleave.capacity - 1, rng.integers(0, interleave.capacity, 5000)]
    physical = interleave.physical_array(logical)
    assert (interleave.logical(physical) == logical).all()
    assert (decode_array(dram, physical.astype(np.uint64))[:, 0] < used).all()
    # Every block: one channel, bank group, bank and row; consecutive columns.
    size = dram.organization.transaction_bytes
    blocks = rng.integers(0, interleave.capacity // (size * burst), 50)
    t = (blocks[:, None] * burst + np.arange(burst)).ravel()
    coordinates = decode_array(dram, interleave.physical_array(t * size).astype(np.uint64))
    coordinates = coordinates.reshape(blocks.size, burst, -1)
    assert (coordinates[:, :, :4] == coordinates[:, :1, :4]).all()
    assert (coordinates[:, :, 4] == coordinates[:, :1, 4] + np.arange(burst)).all()
    if mapping[0] == "channel":  # RoBaRaCoCh: block r to channel r % used
        assert (coordinates[:, 0, 0] == blocks % used).all()
    with pytest.raises(ColsimError, match=r"`burst` must be a power of two dividing the 64 "
                                          r"transactions of a row, not 3"):
        Interleave.of(dram, used, 3)


@pytest.mark.parametrize(("mapping", "used", "burst"), [
    (("column", "channel", "bankgroup", "bank", "row"), 5, 4),
    (("channel", "bank", "column", "bankgroup", "row"), 6, 8),
    (("channel", "column", "bankgroup", "bank", "row"), 3, 1),
])
def test_the_interleaver_rtl_computes_the_model_on_any_mapping(mapping, used, burst):
    interleave = Interleave.of(load_dram_config("gddr6", mapping=list(mapping)), used, burst)
    dut = ChannelInterleaver(interleave, data.StructLayout({"addr": 40}))
    rng = np.random.default_rng(used)
    addresses = np.r_[0, interleave.capacity - 1, rng.integers(0, interleave.capacity, 200)]

    async def bench(ctx):
        for address in addresses.tolist():
            ctx.set(dut.i_req.payload.addr, address)
            await ctx.delay(1e-9)
            assert ctx.get(dut.o_req.payload.addr) == interleave.physical(address), address

    sim = Simulator(dut)  # combinational: no clock
    sim.add_testbench(bench)
    sim.run()


def test_every_channel_is_the_identity_and_beyond_capacity_is_named():
    dram = load_dram_config("gddr6")
    assert Interleave.of(dram, 6).identity and Interleave.of(dram, 6).physical(12345) == 12345
    two = Interleave.of(dram, 2)
    assert two.capacity == dram.organization.capacity_bytes // 3
    with pytest.raises(ColsimError, match=r"address 0x100000000 is beyond the 0x100000000 bytes "
                                          r"that `dma.channels` = 2 of the DRAM's 6 channels"):
        two.physical_array(np.array([two.capacity]))
    with pytest.raises(ColsimError, match=r"`used` channels must be in \[1, 6\], not 7"):
        Interleave.of(dram, 7)


def test_the_interleaver_needs_a_power_of_two_transaction():
    odd = Interleave(96, 1, 2, 6, 96 * 6 * 1024)
    with pytest.raises(ConfigError, match=r"must be a power of two .* not 96"):
        ChannelInterleaver(odd, data.StructLayout({"addr": 40}))


def test_the_port_takes_the_hardware_configuration():
    hw = reference_hardware().with_overrides({"dma": {"requests_in_flight": 5,
                                                      "channels": 3}})
    port = dma_port_for(hw)
    silence_unused(port)  # built to read its parameters, never elaborated
    assert (port.cap, port.interleave.used, port.interleave.channels) == (5, 3, 6)
