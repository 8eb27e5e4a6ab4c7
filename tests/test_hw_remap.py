"""Hot-cold address remapper: the model against the DRAM model's decode, the RTL against it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from colsim.compat import silence_unused
from colsim.config import reference_hardware, tiny_hardware
from colsim.errors import ColsimError
from colsim.hw.remap import AddressRemapper, remapper_for
from colsim.hw.remap_model import (
    RemapRequest,
    address_bits,
    decode_stages,
    reciprocal,
    remap,
)
from colsim.models.spec import FfnLayer
from colsim.sim.dram import decode, load_dram_config
from colsim.sim.layout import Layout, hotcold_layout, rowmajor_layout
from colsim.testbench.amaranth_streams import collect, drive, simulation
from colsim.testbench.ffn_case import CosimSpec


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


def test_bad_requests_are_named():
    config = load_dram_config("gddr6")
    with pytest.raises(ColsimError, match=r"column indices must be in \[0, 4\)"):
        remap(rowmajor_layout(4), np.array([4]), np.array([0]), base=0, stride=1,
              config=config)
    with pytest.raises(ColsimError, match="beyond the DRAM capacity"):
        remap(rowmajor_layout(4), np.array([3]), np.array([0]), base=1 << 40, stride=1,
              config=config)


def run_rtl(layout: Layout | None, columns, offsets, *, config, base, stride, seed, stall,
            depth=64):
    """Program the table (``None``: identity bypass), run the requests, return the results."""
    stages = decode_stages(config)
    dut = AddressRemapper(depth, 8, address_bits(config),
                          config.organization.transaction_bytes, stages)
    rng = random.Random(seed)
    source_rng, sink_rng = random.Random(rng.random()), random.Random(rng.random())
    result = {}

    async def source(ctx):
        ctx.set(dut.base, base)
        ctx.set(dut.stride, stride)
        ctx.set(dut.identity, int(layout is None))
        if layout is not None:
            entries = [{"index": n, "slot": int(s)} for n, s in enumerate(layout.slot_of)]
            await drive(ctx, dut.i_table, entries, rng=source_rng, stall=stall)
        requests = [{"column": int(c), "offset": int(o), "last": int(k == len(columns) - 1)}
                    for k, (c, o) in enumerate(zip(columns, offsets, strict=True))]
        await drive(ctx, dut.i_col, requests, rng=source_rng, stall=stall)

    async def sink(ctx):
        received = await collect(ctx, dut.o_req, len(columns), rng=sink_rng, stall=stall)
        result["out"] = [
            RemapRequest(int(p.addr), tuple(int(getattr(p, level)) for level in
                                            ("channel", "bankgroup", "bank", "row", "column")))
            for p in received
        ]
        result["last"] = [bool(p.last) for p in received]

    with simulation(dut, "remap") as sim:
        sim.add_testbench(source, background=True)
        sim.add_testbench(sink)
        sim.run()
    assert result["last"] == [k == len(columns) - 1 for k in range(len(columns))]
    return result["out"]


@pytest.mark.parametrize(("preset", "layout_kind", "stall"), [
    ("gddr6", "random", 0.3),     # 6 channels: division by a non-power of two
    ("gddr6", "hotcold", 0.0),
    ("gddr6", "identity", 0.5),
    ("hbm2", "random", 0.3),
])
def test_rtl_equals_model(preset, layout_kind, stall):
    config = load_dram_config(preset)
    rng = np.random.default_rng(7)
    n = 48
    if layout_kind == "random":
        layout = Layout("perlayer", rng.permutation(n))
    elif layout_kind == "hotcold":
        layout = hotcold_layout(rng.random(n) < 0.3)
    else:
        layout = rowmajor_layout(n)
    columns = rng.integers(0, n, 80)
    offsets = rng.integers(0, 1 << 12, 80)
    capacity = config.organization.capacity_bytes
    base = int(rng.integers(0, capacity // 2))
    stride = int(rng.integers(1, capacity // (4 * n)))
    expected = remap(layout, columns, offsets, base=base, stride=stride, config=config)
    got = run_rtl(None if layout_kind == "identity" else layout, columns, offsets,
                  config=config, base=base, stride=stride, seed=3, stall=stall)
    assert got == expected


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
