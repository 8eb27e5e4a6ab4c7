"""The schedule generator against brute-force accounting of what one layer-iteration needs."""

from __future__ import annotations

import numpy as np
import psutil
import pytest

from colsim.config import reference_hardware
from colsim.errors import ColsimError, ConfigError
from colsim.limits import format_bytes, memory_ceiling
from colsim.models.spec import FfnLayer
from colsim.sim.layout import dynamic_layout, hotcold_layout, rowmajor_layout
from colsim.sim.schedule import (
    ARRAY,
    INPUT,
    OUTPUT,
    SIMD,
    WEIGHT,
    build_schedule,
    plan_placement,
)
from colsim.sim.schedule.build import peak_bytes

T = 128
TINY_HW = reference_hardware().with_overrides({
    "systolic": {"rows": 4, "cols": 4},
    "simd": {"lanes": 4},
    "sram": {"input": {"kib": 1}, "weight": {"kib": 6}, "output": {"kib": 1}},
})

LAYERS = [
    FfnLayer("plain", 8, 16, 64, False),
    FfnLayer("ragged", 10, 48, 40, True),
    FfnLayer("wide", 7, 200, 96, False),
    FfnLayer("gated", 12, 96, 72, True),
    FfnLayer("narrow-panel", 9, 18, 40, False),  # d = 18: the last W2 panel is 2 wide
]


def cases(seed: int, layer: FfnLayer):
    """Yield (hot, layout, mode) covering baseline, dense-reuse, sparse and dynamic."""
    rng = np.random.default_rng(seed)
    hot = rng.random(layer.hidden) < 0.35
    earlier = dynamic_layout(None, rng.random(layer.hidden) < 0.5)
    yield None, rowmajor_layout(layer.hidden), "dense"
    yield hot, rowmajor_layout(layer.hidden), "dense"
    yield hot, rowmajor_layout(layer.hidden), "sparse"
    yield hot, hotcold_layout(hot), "sparse"
    yield hot, dynamic_layout(earlier, hot), "sparse"


def covering(start: int, nbytes: int) -> set[int]:
    """Return the transaction addresses covering ``[start, start + nbytes)``."""
    return {a * T for a in range(start // T, (start + nbytes - 1) // T + 1)}


def fetched(schedule, buffer: int, write: bool, phase: int) -> np.ndarray:
    """Return the transaction addresses of one buffer/direction in one phase."""
    tr = schedule.transfer
    keep = (
        (schedule.tr_buffer[tr] == buffer)
        & (schedule.tr_write[tr] == write)
        & (schedule.tr_phase[tr] == phase)
    )
    return schedule.addr[keep].astype(np.int64)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_traffic_matches_brute_force(layer: FfnLayer, seed: int) -> None:
    hw = TINY_HW
    r, c, e = hw.systolic.rows, hw.systolic.cols, 2
    g = 2 if layer.gated else 1
    placement = plan_placement(layer, hw, transaction_bytes=T)
    token_tiles = ceil_div(layer.tokens, r)
    for hot, layout, mode in cases(seed, layer):
        schedule = build_schedule(layer, hw, hot, layout, placement, mode=mode)
        computed = (
            layout.physical_order(hot) if mode == "sparse" else np.arange(layer.hidden)
        )
        # W1: every part of every computed column's record, each fetched whole.
        w1 = fetched(schedule, WEIGHT, False, 1)
        expected = set()
        for slot in computed:
            for part in range(g):
                base = placement.w1 + slot * placement.w1_record + part * placement.w1_part
                expected |= covering(int(base), layer.d_model * e)
        assert set(w1.tolist()) == expected
        # W2: the computed slots' rows of every panel, and nothing else.
        w2 = fetched(schedule, WEIGHT, False, 2)
        expected = set()
        for panel in range(ceil_div(layer.d_model, c)):
            width = min(c, layer.d_model - panel * c)
            for slot in computed:
                start = placement.w2 + panel * placement.w2_panel + slot * c * e
                expected |= covering(int(start), width * e)
        assert set(w2.tolist()) == expected
        # X is streamed once per hidden tile and part; every block of every token tile.
        x = fetched(schedule, INPUT, False, 1)
        tiles = ceil_div(computed.size, c)
        x_tile = sum(
            ceil_div(r * min(placement.chunk, layer.d_model - k) * e, T)
            for k in range(0, layer.d_model, placement.chunk)
        )
        assert x.size == tiles * g * token_tiles * x_tile
        assert x.size == 0 or (x.min() >= placement.x and x.max() < placement.h)
        # Y is written once, whole, in activation blocks; the cold contribution is read in
        # sparse iterations and written in FFN-Reuse's dense iteration.
        y = fetched(schedule, OUTPUT, True, 2)
        y = y[y < placement.y_cold]
        chunks = ceil_div(layer.d_model, placement.chunk)
        expected = set()
        for i in range(token_tiles):
            for chunk in range(chunks):
                length = min(placement.chunk, layer.d_model - chunk * placement.chunk)
                start = placement.y + (i * chunks + chunk) * placement.block
                expected |= covering(start, r * length * e)
        assert set(y.tolist()) == expected
        cold_reads = fetched(schedule, OUTPUT, False, 2)
        cold_writes = fetched(schedule, OUTPUT, True, 2)
        cold_writes = cold_writes[cold_writes >= placement.y_cold]
        panels = ceil_div(layer.d_model, c)
        cold_tile = ceil_div(r * c * 4, T)
        assert cold_reads.size == (token_tiles * panels * cold_tile if mode == "sparse" else 0)
        reuse_dense = mode == "dense" and hot is not None
        assert cold_writes.size == (token_tiles * panels * cold_tile if reuse_dense else 0)
        # Compute: K steps of every array tile.
        array = schedule.op_unit == ARRAY
        expected_k = token_tiles * (tiles * g * layer.d_model + panels * computed.size)
        assert int(schedule.op_k[array].sum()) == expected_k
        assert schedule.compute_cycles() == expected_k
        # One SIMD op per output tile, plus the re-layout moves (dynamic layouts only).
        moves = int((schedule.op_phase == 0).sum())
        assert (moves > 0) == (layout.swaps.shape[0] > 0)
        assert int((schedule.op_unit == SIMD).sum()) == token_tiles * (tiles + panels) + moves


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_stream_is_well_formed_and_causal(layer: FfnLayer) -> None:
    placement = plan_placement(layer, TINY_HW, transaction_bytes=T)
    for hot, layout, mode in cases(3, layer):
        s = build_schedule(layer, TINY_HW, hot, layout, placement, mode=mode)
        # Transactions: aligned, sorted and unique within each transfer, in stream order.
        assert np.all(s.addr % T == 0)
        assert np.all(np.diff(s.transfer) >= 0)
        same = s.transfer[1:] == s.transfer[:-1]
        assert np.all(np.diff(s.addr.astype(np.int64))[same] > 0)
        assert np.array_equal(np.bincount(s.transfer, minlength=s.tr_count.size), s.tr_count)
        assert s.bytes_by()["input_write"] == 0
        assert _completes_with_instant_dram(s)
        # Slots stay within each buffer's slot count.
        for buffer, slots in enumerate(s.slots):
            assert s.tr_slot[s.tr_buffer == buffer].max(initial=0) < slots


def _completes_with_instant_dram(s) -> bool:
    """Run the stream with zero-latency DRAM; False if some transfer could never issue."""
    n_ops = s.op_unit.size
    done = [False] * s.tr_buffer.size
    finished = [False] * n_ops
    next_op = 0

    def released(f: int) -> bool:
        reader = s.tr_last_reader[f]
        return done[f] if s.tr_write[f] or reader < 0 else finished[reader]

    for f in range(s.tr_buffer.size):
        while next_op < n_ops:
            needs = [n for n in s.op_needs[next_op] if n >= 0]
            wait = s.op_slot_wait[next_op]
            if not all(done[n] for n in needs) or (wait >= 0 and not released(wait)):
                break
            finished[next_op] = True
            next_op += 1
        if s.tr_write[f] and not finished[s.tr_gate_op[f]]:
            return False
        if not s.tr_write[f] and s.tr_prev[f] >= 0 and not released(s.tr_prev[f]):
            return False
        if s.tr_barrier[f] and not all(done[:f]):
            return False
        done[f] = True
    return True


def test_hotcold_layout_needs_fewer_weight_transactions_than_scattered_rowmajor() -> None:
    layer = FfnLayer("w", 32, 256, 1024, False)
    hw = reference_hardware()
    placement = plan_placement(layer, hw, transaction_bytes=T)
    hot = np.zeros(layer.hidden, dtype=bool)
    hot[::3] = True  # scattered: every third column
    rowmajor = build_schedule(layer, hw, hot, rowmajor_layout(layer.hidden), placement,
                              mode="sparse")
    hotcold = build_schedule(layer, hw, hot, hotcold_layout(hot), placement, mode="sparse")
    assert hotcold.bytes_by()["weight_read"] < rowmajor.bytes_by()["weight_read"]
    assert hotcold.compute_cycles() == rowmajor.compute_cycles()


def test_schedule_errors_name_the_bad_value() -> None:
    layer = LAYERS[0]
    placement = plan_placement(layer, TINY_HW, transaction_bytes=T)
    layout = rowmajor_layout(layer.hidden)
    with pytest.raises(ColsimError, match="`mode` must be one of 'dense', 'sparse', not 'half'"):
        build_schedule(layer, TINY_HW, None, layout, placement, mode="half")
    with pytest.raises(ColsimError, match="a sparse iteration needs a `hot` mask"):
        build_schedule(layer, TINY_HW, None, layout, placement, mode="sparse")
    with pytest.raises(ColsimError, match="layout has 5 columns"):
        build_schedule(layer, TINY_HW, None, rowmajor_layout(5), placement, mode="dense")
    small_out = TINY_HW.with_overrides({"sram": {"output": {"kib": 1, "slots": 16}}})
    with pytest.raises(ConfigError, match=r"`sram\.output` slot of 64 bytes"):
        build_schedule(layer, small_out, None, layout, placement, mode="dense")
    with pytest.raises(ConfigError, match="`transaction_bytes` must be a positive even"):
        plan_placement(layer, TINY_HW, transaction_bytes=0)


def test_a_layer_too_large_for_memory_is_refused_before_its_transactions_exist() -> None:
    layer = FfnLayer("large", 1024, 256, 1024, False)
    hw = reference_hardware()
    placement = plan_placement(layer, hw, transaction_bytes=32)
    layout = rowmajor_layout(layer.hidden)
    fits = build_schedule(layer, hw, None, layout, placement, mode="dense")
    entries = fits.op_unit.size + fits.tr_write.size
    small, large = (peak_bytes(fits.n_transactions, entries, extra) for extra in (0, 400))
    resident = psutil.Process().memory_info().rss  # units = transactions: no repeats here
    with memory_ceiling(resident + (small + large) // 2, "the test's ceiling"):
        build_schedule(layer, hw, None, layout, placement, mode="dense", executor_bytes=0)
        with pytest.raises(ColsimError) as refused:
            build_schedule(layer, hw, None, layout, placement, mode="dense",
                           executor_bytes=400)
    assert str(refused.value).startswith(
        f"layer 'large' ({fits.n_transactions:,} DRAM transactions of 32 B, "
        f"{fits.op_unit.size:,} ops, {fits.tr_write.size:,} transfers) needs about "
        f"{format_bytes(large)} of memory, more than the ")


def test_placement_regions_are_disjoint_and_aligned() -> None:
    layer = FfnLayer("p", 100, 320, 1280, True)
    p = plan_placement(layer, reference_hardware(), transaction_bytes=T, base=12345)
    bases = [p.w1, p.w2, p.x, p.h, p.y, p.y_cold, p.end]
    assert bases == sorted(bases) and len(set(bases)) == len(bases)
    assert all(b % (1 << 20) == 0 for b in bases)
    assert p.w2 - p.w1 >= layer.hidden * 2 * 320 * 2
