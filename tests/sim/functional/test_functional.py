"""The functional model: schedules executed on bytes equal the fixed-point reference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from colsim.config import tiny_hardware
from colsim.errors import ColsimError
from colsim.fixed_arith import gelu_fixed, gelu_table, requantise
from colsim.models.spec import FfnLayer
from colsim.sim.functional.executor import execute_functional
from colsim.sim.functional.fixed_point import (
    FfnOperands,
    ffn_reference,
    matmul32,
    quantise,
    tau_register,
)
from colsim.sim.functional.image import new_store, place_operands, read_y
from colsim.sim.functional.verify import FloatLayer, gelu_table_error, verify_iterations
from colsim.sim.layout import hotcold_layout, rowmajor_layout
from colsim.sim.schedule import build_schedule, plan_placement

T = 128
HW = tiny_hardware()
LAYERS = [
    FfnLayer("tiny", 8, 16, 64, False),
    FfnLayer("ragged", 7, 20, 36, False),
    FfnLayer("gated", 6, 24, 40, True),
    FfnLayer("wide", 9, 72, 48, True),
]


def float_layer(layer: FfnLayer, seed: int, iterations: int = 3) -> FloatLayer:
    rng = np.random.default_rng(seed)
    g = 2 if layer.gated else 1
    return FloatLayer(
        tuple(rng.normal(0, 1, (layer.tokens, layer.d_model)) for _ in range(iterations)),
        rng.normal(0, 0.3, (layer.d_model, g * layer.hidden)),
        rng.normal(0, 0.2, (layer.hidden, layer.d_model)), layer.gated)


def masks(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    single = np.zeros(n, bool)
    single[n // 3] = True
    return {"random": rng.random(n) < 0.3, "all-hot": np.ones(n, bool),
            "all-cold": np.zeros(n, bool), "single": single,
            "ragged-tile": np.arange(n) < HW.systolic.cols + 1}


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
@pytest.mark.parametrize("mask", ["random", "all-hot", "all-cold", "single", "ragged-tile"])
@pytest.mark.parametrize("layout", ["rowmajor", "hotcold"])
def test_ffn_reuse_iterations_are_bit_exact_and_track_float(layer, mask, layout):
    hot = masks(layer.hidden, 1)[mask]
    columns = rowmajor_layout(layer.hidden) if layout == "rowmajor" else hotcold_layout(hot)
    records = verify_iterations(layer, HW, float_layer(layer, 2), tau=0.164, layout=columns,
                                hot=hot, transaction_bytes=T)
    assert [r["mode"] for r in records] == ["dense", "sparse", "sparse"]
    assert all(r["bit_exact"] for r in records), records
    assert records[0]["mask_equal"] and records[0]["float_within"], records[0]


@pytest.mark.parametrize("layer", LAYERS[:2], ids=lambda layer: layer.name)
def test_plain_dense_iterations_without_reuse(layer):
    records = verify_iterations(layer, HW, float_layer(layer, 3), tau=0.1,
                                layout=rowmajor_layout(layer.hidden), hot=None,
                                transaction_bytes=T)
    assert all(r["mode"] == "dense" and r["bit_exact"] and r["float_within"] for r in records)
    assert all("mask_equal" not in r for r in records)


def test_reference_matches_an_independent_formula():
    """Non-gated dense reuse: H, Y_cold and Y from explicit numpy, without the SIMD model."""
    layer = LAYERS[0]
    data = float_layer(layer, 4, 1)
    ops, _ = data.quantised(0, 8)
    hot = masks(layer.hidden, 5)["random"]
    result = ffn_reference(ops, frac_bits=8, segment_bits=3, mode="dense", hot=hot, tau_q=42)
    acc = ops.x.astype(np.int64) @ ops.w1.astype(np.int64)
    h = gelu_fixed(requantise(acc, 8), gelu_table(8, 3))
    cold = h[:, ~hot] @ ops.w2[~hot].astype(np.int64)
    y = np.clip((h[:, hot] @ ops.w2[hot].astype(np.int64) + cold + 128) >> 8, -32768, 32767)
    assert np.array_equal(result.h, h) and np.array_equal(result.y_cold, cold)
    assert np.array_equal(result.y, y)
    assert np.array_equal(result.mask, (np.abs(h) > 42).any(axis=0))


def test_accumulators_wrap_like_int32():
    big = np.full((1, 4), 32767, np.int16)
    assert matmul32(big, big.T)[0, 0] == 4 * 32767 * 32767 - (1 << 32)


def test_quantise_rounds_to_nearest_and_saturates():
    q, saturated = quantise(np.array([0.5 / 256, 1.5 / 256, -1000.0, 200.0, 1 / 3]), 8)
    assert q.tolist() == [0, 2, -32768, 32767, 85] and saturated == 2
    assert tau_register(0.164, 8) == 41 and tau_register(0.0, 8) == 0
    with pytest.raises(ColsimError, match="tau"):
        tau_register(-0.1, 8)


def test_gelu_table_error_is_the_documented_figure():
    assert gelu_table_error(8, 3) == pytest.approx(0.00410, abs=5e-5)


def setup(layer: FfnLayer, hot: np.ndarray, mode: str):
    placement = plan_placement(layer, HW, transaction_bytes=T)
    store = new_store(placement)
    layout = rowmajor_layout(layer.hidden)
    ops, _ = float_layer(layer, 6, 1).quantised(0, 8)
    place_operands(store, placement, layout, ops)
    return build_schedule(layer, HW, hot, layout, placement, mode=mode), store, ops, placement


def test_a_fill_missing_a_transaction_is_caught():
    layer = LAYERS[0]
    schedule, store, _, _ = setup(layer, masks(layer.hidden, 7)["random"], "dense")
    read = np.flatnonzero(~schedule.is_write)[3]
    addr = schedule.addr.copy()
    addr[read] += np.uint64(T * 1000)  # the fill fetches an unrelated transaction instead
    broken = dataclasses.replace(schedule, addr=addr)
    with pytest.raises(ColsimError, match="does not fetch"):
        execute_functional(broken, HW, store)


def test_a_write_outside_the_op_transfers_is_caught():
    layer = LAYERS[0]
    schedule, store, _, _ = setup(layer, masks(layer.hidden, 7)["random"], "dense")
    write = np.flatnonzero(schedule.is_write)[0]
    addr = schedule.addr.copy()
    addr[write] += np.uint64(T * 1000)
    with pytest.raises(ColsimError, match="none of its write"):
        execute_functional(dataclasses.replace(schedule, addr=addr), HW, store)


def test_strobed_writes_leave_neighbouring_bytes_alone():
    """d = 20: the last 4×4 Y tile takes 32 bytes of a 128-byte transaction; the rest stays."""
    layer = LAYERS[1]
    schedule, store, ops, placement = setup(layer, None, "dense")
    tail = int(placement.y_address(0, layer.d_model))  # first byte after token tile 0's Y
    sentinel = bytes(range(1, 97))
    assert tail % T == 32
    store.backdoor_write(tail, sentinel)
    execute_functional(schedule, HW, store)
    expected = ffn_reference(ops, frac_bits=8, segment_bits=3, mode="dense").y
    assert np.array_equal(read_y(store, placement, layer.tokens, layer.d_model), expected)
    assert store.backdoor_read(tail, len(sentinel)) == sentinel


def test_operand_shapes_are_checked():
    with pytest.raises(ColsimError, match="do not form an FFN"):
        FfnOperands(np.zeros((2, 3), np.int16), np.zeros((4, 5), np.int16),
                    np.zeros((5, 3), np.int16), gated=False)
