"""Hot-cold address remapper: one spec on the reference model, the Amaranth RTL and Verilator.

Every case of :data:`~colsim.testbench.remap_cases.REMAP_CASES` runs on each implementation
(the ``implementation`` fixture of ``conftest.py``); each request must address
``base + slot_of[column]·stride + offset`` with the DRAM model's own ``decode`` of it, and
equal the reference model's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

from colsim.compat import silence_unused
from colsim.config import reference_hardware, tiny_hardware
from colsim.errors import ColsimError
from colsim.hw.remap import remapper_for
from colsim.hw.remap_model import RemapRequest, address_bits, reciprocal, remap
from colsim.models.spec import FfnLayer
from colsim.sim.dram import decode, load_dram_config
from colsim.sim.dram.config import LEVELS
from colsim.sim.layout import Layout, rowmajor_layout
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testbench.ffn_case import CosimSpec
from colsim.testbench.remap_cases import REMAP_CASES, RemapCase
from colsim.testbench.runner import run_bench


@pytest.mark.parametrize("divisor", [3, 5, 6, 7, 12, 1000])
def test_reciprocal_division_is_exact(divisor):
    bits = 20
    multiplier, shift = reciprocal(divisor, bits)
    rng = np.random.default_rng(divisor)
    x = np.concatenate([np.arange(4096), rng.integers(0, 1 << bits, 20000),
                        np.array([(1 << bits) - 1])]).astype(object)
    assert all((v * multiplier) >> shift == v // divisor for v in x)


def test_model_addresses_follow_the_permutation_and_the_shared_decode():
    config = load_dram_config("gddr6")
    layout = Layout("hotcold", np.random.default_rng(0).permutation(64))
    columns = np.array([0, 5, 63, 17, 5])
    offsets = np.array([0, 128, 256, 0, 64])
    requests = remap(layout, columns, offsets, base=1 << 20, stride=512, config=config)
    for request, column, offset in zip(requests, columns, offsets, strict=True):
        expected = (1 << 20) + int(layout.slot_of[column]) * 512 + int(offset)
        assert request.address == expected
        assert request.coordinates == decode(config, expected)


def test_rowmajor_is_the_identity():
    config = load_dram_config("gddr6")
    requests = remap(rowmajor_layout(8), np.arange(8), np.zeros(8, int), base=0, stride=128,
                     config=config)
    assert [r.address for r in requests] == [128 * n for n in range(8)]
    assert [r.coordinates[0] for r in requests] == [0, 1, 2, 3, 4, 5, 0, 1]  # 6 channels


def test_addresses_below_the_reference_capacity_need_34_bits():
    assert address_bits(load_dram_config("gddr6")) == 34  # 12 GiB


def test_bad_requests_are_named():
    config = load_dram_config("gddr6")
    with pytest.raises(ColsimError, match=r"column indices must be in \[0, 4\)"):
        remap(rowmajor_layout(4), np.array([4]), np.array([0]), base=0, stride=1,
              config=config)
    with pytest.raises(ColsimError, match="beyond the DRAM capacity"):
        remap(rowmajor_layout(4), np.array([3]), np.array([0]), base=1 << 40, stride=1,
              config=config)


@dataclass(frozen=True)
class PartRun:
    """What one implementation emitted for one part: the requests and their ``last`` flags."""

    requests: list[RemapRequest]
    last: list[bool]


def run_model(case: RemapCase, tmp_path) -> list[PartRun]:
    """Run the reference model on each part."""
    config = case.hardware().dram_config
    runs = []
    for index, part in enumerate(case.parts):
        layout, columns, offsets = case.requests(index)
        requests = remap(layout, columns, offsets, base=part.base, stride=part.stride,
                         config=config)
        runs.append(PartRun(requests, [k == part.count - 1 for k in range(part.count)]))
    return runs


def run_amaranth(case: RemapCase, tmp_path) -> list[PartRun]:
    """Run the hardware's remapper in the Amaranth simulator, one simulation per part."""
    return [_simulate_part(case, index) for index in range(len(case.parts))]


def _simulate_part(case: RemapCase, index: int) -> PartRun:
    """Program the table (bypassed for ``identity``), run the part's requests."""
    part = case.parts[index]
    layout, columns, offsets = case.requests(index)
    dut = remapper_for(case.hardware())
    rng = random.Random(case.seed + 3 * index)
    source_rng, sink_rng = random.Random(rng.random()), random.Random(rng.random())
    result = {}

    async def source(ctx):
        ctx.set(dut.base, part.base)
        ctx.set(dut.stride, part.stride)
        ctx.set(dut.identity, int(part.layout == "identity"))
        if part.layout != "identity":
            entries = [{"index": n, "slot": int(s)} for n, s in enumerate(layout.slot_of)]
            await drive(ctx, dut.i_table, entries, rng=source_rng, stall=part.stall)
        requests = [{"column": int(c), "offset": int(o), "last": int(k == part.count - 1)}
                    for k, (c, o) in enumerate(zip(columns, offsets, strict=True))]
        await drive(ctx, dut.i_col, requests, rng=source_rng, stall=part.stall)

    async def sink(ctx):
        received = await collect(ctx, dut.o_req, part.count, rng=sink_rng, stall=part.stall)
        result["out"] = PartRun(
            [RemapRequest(int(p.addr), tuple(int(getattr(p, level)) for level in LEVELS))
             for p in received],
            [bool(p.last) for p in received])

    with simulation(dut, f"remap_{case.name}_{index}") as sim:
        sim.add_testbench(source, background=True)
        sim.add_testbench(sink)
        sim.run()
    return result["out"]


def run_verilator(case: RemapCase, tmp_path) -> list[PartRun]:
    """Run the cocotb bench on Verilator (one build per DRAM preset); return its report."""
    result = run_bench("remap", case.hardware(), "colsim.testbench.remap_bench",
                       case.to_json(), results_xml=tmp_path / "r.xml")
    assert (result.tests, result.failed) == (1, 0)
    hw = case.hardware()
    report = result.report
    assert report["index_bits"] == hw.layers.index_bits
    assert report["addr_bits"] == address_bits(case.hardware().dram_config)
    return [PartRun([RemapRequest(address, tuple(coordinates))
                     for address, coordinates, _ in part],
                    [last for _, _, last in part])
            for part in report["observed"]]


RUNNERS = {"model": run_model, "amaranth": run_amaranth, "verilator": run_verilator}


@pytest.mark.parametrize("case", REMAP_CASES, ids=lambda case: case.name)
def test_remapper_follows_the_layout_and_the_shared_decode(run, case, tmp_path):
    config = case.hardware().dram_config
    got = run(case, tmp_path)
    assert len(got) == len(case.parts)
    for index, part in enumerate(case.parts):
        layout, columns, offsets = case.requests(index)
        addresses = [part.base + int(layout.slot_of[c]) * part.stride + int(o)
                     for c, o in zip(columns, offsets, strict=True)]
        assert [r.address for r in got[index].requests] == addresses, f"part {index}"
        assert [r.coordinates for r in got[index].requests] == [
            decode(config, address) for address in addresses], f"part {index}"
        assert got[index].requests == remap(layout, columns, offsets, base=part.base,
                                            stride=part.stride, config=config)
        assert got[index].last == [k == part.count - 1 for k in range(part.count)]


@pytest.mark.parametrize(("max_hidden", "index_bits"), [(8192, 13), (5120, 13), (100, 7)])
def test_table_depth_is_the_configured_max_hidden(max_hidden, index_bits):
    hw = reference_hardware().with_overrides({"layers": {"max_hidden": max_hidden}})
    dut = remapper_for(hw)
    silence_unused(dut)  # built to read its ports, never elaborated
    assert dut.depth == max_hidden
    assert len(dut.i_col.payload.column) == len(dut.i_table.payload.slot) == index_bits


def test_a_layer_wider_than_max_hidden_is_refused_in_one_line():
    hw = tiny_hardware(layers={"max_hidden": 64})
    CosimSpec(hw, FfnLayer("fits", 4, 8, 64, False), None)
    with pytest.raises(ColsimError) as info:
        CosimSpec(hw, FfnLayer("wide", 4, 8, 65, False), None)
    assert str(info.value) == ("layer 'wide' has N = 65 hidden columns, more than "
                               "`layers.max_hidden` = 64 of the hardware configuration")
