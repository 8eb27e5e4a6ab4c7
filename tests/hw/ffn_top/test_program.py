"""Schedule → program compiler of the FFN engine top, against the schedule it compiles."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.config import tiny_hardware
from colsim.errors import ColsimError
from colsim.hw.program import compile_schedule, expand_requests, pack, unpack
from colsim.models.spec import FfnLayer
from colsim.sim.layout import dynamic_layout, hotcold_layout, rowmajor_layout
from colsim.sim.schedule import INPUT, OUTPUT, SIMD, WEIGHT, build_schedule, plan_placement


def masks(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    single = np.zeros(n, bool)
    single[rng.integers(n)] = True
    return {"random": rng.random(n) < 0.3, "all_hot": np.ones(n, bool),
            "all_cold": np.zeros(n, bool), "single": single,
            "ragged": np.arange(n) < 4 * (n // 8) + 3}


def schedules(layer: FfnLayer, hw, rng):
    placement = plan_placement(layer, hw, transaction_bytes=128)
    yield build_schedule(layer, hw, None, rowmajor_layout(layer.hidden), placement, mode="dense")
    for hot in masks(layer.hidden, rng).values():
        for layout in (rowmajor_layout(layer.hidden), hotcold_layout(hot)):
            for mode in ("dense", "sparse"):
                yield build_schedule(layer, hw, hot, layout, placement, mode=mode)


LAYERS = [FfnLayer("plain", 8, 16, 64, False), FfnLayer("gated", 5, 12, 40, True),
          FfnLayer("wide", 16, 40, 96, False)]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_expanded_requests_equal_the_schedule(layer):
    rng = np.random.default_rng(7)
    hw = tiny_hardware()
    for schedule in schedules(layer, hw, rng):
        program = compile_schedule(schedule, hw)
        addr, is_write = expand_requests(program)
        np.testing.assert_array_equal(addr, schedule.addr)
        np.testing.assert_array_equal(is_write, schedule.is_write)
        # Runs are a real compression: never more runs than transactions, fewer on streams.
        assert len(program.dma) <= schedule.n_transactions


def test_sync_fields_name_the_transfers_the_schedule_waits_for():
    """Brute force: the k-th read of a slot (fills) and k-th occupant (releases) per op."""
    rng = np.random.default_rng(3)
    hw = tiny_hardware()
    for schedule in schedules(LAYERS[1], hw, rng):
        program = compile_schedule(schedule, hw)

        def reads_upto(f, schedule=schedule):
            same = ((schedule.tr_buffer[: f + 1] == schedule.tr_buffer[f])
                    & (schedule.tr_slot[: f + 1] == schedule.tr_slot[f]))
            return int((same & ~schedule.tr_write[: f + 1]).sum())
        array_ops = np.flatnonzero(schedule.op_unit != SIMD)
        simd_ops = np.flatnonzero(schedule.op_unit == SIMD)
        assert len(program.array) == array_ops.size and len(program.simd) == simd_ops.size
        for instr, o in zip(program.array, array_ops, strict=True):
            a, b, _ = schedule.op_needs[o]
            assert schedule.tr_buffer[a] == INPUT and instr["a_fill"] == reads_upto(a)
            assert instr["has_b"] == (b >= 0)
            if b >= 0:
                assert schedule.tr_buffer[b] == WEIGHT and instr["b_fill"] == reads_upto(b)
            assert instr["cycles"] == schedule.op_cycles[o]
        for instr, o in zip(program.simd, simd_ops, strict=True):
            wait = schedule.op_slot_wait[o]
            assert instr["has_wait"] == (wait >= 0)
            if wait >= 0:
                same = ((schedule.tr_buffer[: wait + 1] == OUTPUT)
                        & (schedule.tr_slot[: wait + 1] == schedule.tr_slot[wait]))
                assert instr["wait_released"] == int(same.sum())
        heads = [i for i in program.dma if i["first"]]
        assert len(heads) == schedule.tr_buffer.size
        for f, head in enumerate(heads):
            if schedule.tr_write[f]:
                assert head["wait"] == int((simd_ops <= schedule.tr_gate_op[f]).sum())
            assert head["total"] == schedule.tr_count[f]


def test_pack_round_trips_and_rejects_overflow():
    fields = (("a", 3), ("b", 1), ("c", 12))
    rng = np.random.default_rng(0)
    for _ in range(50):
        values = {"a": int(rng.integers(8)), "b": int(rng.integers(2)),
                  "c": int(rng.integers(4096))}
        assert unpack(fields, pack(fields, values)) == values
    with pytest.raises(ColsimError, match="instruction field `a` = 8 does not fit 3 bits"):
        pack(fields, {"a": 8, "b": 0, "c": 0})


def test_narrow_fields_are_an_error_naming_the_field():
    hw = tiny_hardware()
    layer = LAYERS[2]
    placement = plan_placement(layer, hw, transaction_bytes=128)
    schedule = build_schedule(layer, hw, None, rowmajor_layout(layer.hidden), placement,
                              mode="dense")
    with pytest.raises(ColsimError, match="instruction field `base`"):
        compile_schedule(schedule, hw.with_overrides({"sequencer": {"address_bits": 20}}))


def test_dynamic_layouts_are_rejected():
    hw, layer = tiny_hardware(), LAYERS[0]
    rng = np.random.default_rng(1)
    first = dynamic_layout(None, rng.random(64) < 0.3)
    hot = rng.random(64) < 0.3
    layout = dynamic_layout(first, hot)
    placement = plan_placement(layer, hw, transaction_bytes=128)
    schedule = build_schedule(layer, hw, hot, layout, placement, mode="sparse")
    with pytest.raises(ColsimError, match="re-layout write-backs"):
        compile_schedule(schedule, hw)

