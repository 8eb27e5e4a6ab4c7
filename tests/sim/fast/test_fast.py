"""The fast model: exact against the step-by-step executor, consistent statistics, memoisation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colsim.config import reference_hardware
from colsim.masks import MaskSet
from colsim.models.spec import FfnLayer, WorkloadSpec
from colsim.sim.dram import load_dram_config
from colsim.sim.dram.model import ClockRatio
from colsim.sim.fast.reference import execute_reference
from colsim.sim.fast.run import MemorySystem, clock_ratio, run_schedule
from colsim.sim.fast.workload import WorkloadRun, simulate_workload
from colsim.sim.layout import dynamic_layout, hotcold_layout, rowmajor_layout
from colsim.sim.schedule import build_schedule, plan_placement

TINY_HW = reference_hardware().with_overrides({
    "systolic": {"rows": 4, "cols": 4},
    "simd": {"lanes": 4},
    "sram": {"input": {"kib": 1}, "weight": {"kib": 6}, "output": {"kib": 1}},
})
SINGLE_SLOTS = TINY_HW.with_overrides({
    "sram": {"input": {"kib": 1, "slots": 1}, "weight": {"kib": 2, "slots": 1},
             "output": {"kib": 1, "slots": 1}},
})
DRAM = load_dram_config("gddr6")


def schedules(layer: FfnLayer, hw, seed: int):
    """Yield schedules of every mode/layout kind for ``layer`` on ``hw``."""
    rng = np.random.default_rng(seed)
    hot = rng.random(layer.hidden) < 0.4
    placement = plan_placement(layer, hw, transaction_bytes=DRAM.organization.transaction_bytes)
    earlier = dynamic_layout(None, rng.random(layer.hidden) < 0.5)
    yield build_schedule(layer, hw, None, rowmajor_layout(layer.hidden), placement, mode="dense")
    yield build_schedule(layer, hw, hot, rowmajor_layout(layer.hidden), placement, mode="dense")
    yield build_schedule(layer, hw, hot, hotcold_layout(hot), placement, mode="sparse")
    yield build_schedule(layer, hw, hot, dynamic_layout(earlier, hot), placement, mode="sparse")


@pytest.mark.parametrize(
    ("layer", "hw"),
    [
        (FfnLayer("plain", 8, 16, 64, False), TINY_HW),
        (FfnLayer("gated", 10, 48, 40, True), TINY_HW),
        pytest.param(FfnLayer("many", 24, 32, 48, False), TINY_HW, marks=pytest.mark.slow),
        pytest.param(FfnLayer("single", 9, 32, 24, True), SINGLE_SLOTS, marks=pytest.mark.slow),
    ],
    ids=["plain", "gated", "many-tiles", "single-slots"],
)
def test_fast_model_equals_step_by_step_execution(layer: FfnLayer, hw) -> None:
    for schedule in schedules(layer, hw, seed=7):
        fast = run_schedule(schedule, hw, MemorySystem(DRAM))
        reference_end, op_end, done = execute_reference(schedule, hw, DRAM)
        assert fast.end == reference_end
        assert fast.stats.cycles == reference_end
        assert fast.op_end.tolist() == op_end
        assert fast.transfer_done.tolist() == done


def test_statistics_are_consistent() -> None:
    layer = FfnLayer("stats", 64, 256, 512, True)
    hw = reference_hardware()
    for schedule in schedules(layer, hw, seed=1):
        stats = run_schedule(schedule, hw, MemorySystem(DRAM)).stats
        assert stats.cycles == stats.compute + stats.memory_stall + stats.other
        assert min(stats.compute, stats.memory_stall, stats.other) >= 0
        assert stats.compute == schedule.compute_cycles()
        assert stats.row_hits + stats.row_misses + stats.row_conflicts == stats.transactions
        assert stats.bytes_read + stats.bytes_written == stats.transactions * 128
        assert stats.cycles >= stats.compute


def test_sparse_iteration_is_faster_than_dense() -> None:
    layer = FfnLayer("speed", 64, 512, 2048, False)
    hw = reference_hardware()
    hot = np.random.default_rng(0).random(layer.hidden) < 0.2
    placement = plan_placement(layer, hw, transaction_bytes=128)
    dense = build_schedule(layer, hw, None, rowmajor_layout(layer.hidden), placement,
                           mode="dense")
    sparse = build_schedule(layer, hw, hot, hotcold_layout(hot), placement, mode="sparse")
    dense_stats = run_schedule(dense, hw, MemorySystem(DRAM)).stats
    sparse_stats = run_schedule(sparse, hw, MemorySystem(DRAM)).stats
    assert sparse_stats.cycles < 0.5 * dense_stats.cycles


def test_a_late_start_lets_the_memory_idle_until_then() -> None:
    # A schedule started after the memory's clock first lets the memory run idle (refreshes
    # fall due) up to its start: no request is accepted before the cycles preceding it ran.
    num, den = clock_ratio(TINY_HW, DRAM)
    late, idled = MemorySystem(DRAM), MemorySystem(DRAM)
    base = 0
    for schedule in schedules(FfnLayer("gated", 10, 48, 40, True), TINY_HW, seed=7):
        idled.state.run(idled.records, 0, -(-base * num // den))
        ran = run_schedule(schedule, TINY_HW, late, base=base)
        expected = run_schedule(schedule, TINY_HW, idled, base=base)
        # (dram_cycles count from the memory's clock at the start, which idling moved)
        assert replace(ran.stats, dram_cycles=0) == replace(expected.stats, dram_cycles=0)
        assert ran.op_end.tolist() == expected.op_end.tolist()
        assert ran.transfer_done.tolist() == expected.transfer_done.tolist()
        base = ran.end + 1


def test_writes_parked_behind_streaming_reads_fit_the_request_records() -> None:
    # Regression: writes wait in the write queue (drain starts above the high watermark or
    # when no read waits) while reads stream past them; the round-robin ring of records, 4 ×
    # the queue capacity, overflowed here ("request ring too small for the requests in flight").
    hw = reference_hardware()
    dram = load_dram_config(organization={"channels": 1}, controller={"read_queue": 2})
    schedule = next(schedules(FfnLayer("parked", 64, 128, 512, False), hw, seed=7))
    stats = run_schedule(schedule, hw, MemorySystem(dram)).stats
    assert stats.cycles == execute_reference(schedule, hw, dram)[0]


@pytest.mark.parametrize("seed", [0, *(pytest.param(s, marks=pytest.mark.slow) for s in (1, 2, 3))])
def test_any_controller_configuration_matches_the_step_by_step_execution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    low = float(rng.uniform(0.0, 0.6))
    dram = load_dram_config(
        organization={"channels": int(rng.integers(1, 4))},
        controller={"read_queue": int(rng.integers(1, 9)), "write_queue": int(rng.integers(1, 65)),
                    "write_low_watermark": low,
                    "write_high_watermark": float(rng.uniform(low, 1.0))},
    )
    layer = FfnLayer("random", int(rng.integers(4, 24)), 32, 48, bool(rng.integers(2)))
    for schedule in schedules(layer, TINY_HW, seed=seed):
        fast = run_schedule(schedule, TINY_HW, MemorySystem(dram))
        reference_end, op_end, done = execute_reference(schedule, TINY_HW, dram)
        assert fast.end == reference_end
        assert fast.op_end.tolist() == op_end
        assert fast.transfer_done.tolist() == done


def test_clock_conversion_matches_the_dram_models_clock_ratio() -> None:
    num, den = clock_ratio(reference_hardware(), DRAM)
    ratio = ClockRatio(reference_hardware().clock.core_mhz, DRAM.timing.clock_mhz)
    for t in range(0, 200, 7):
        assert -(-t * num // den) == ratio.to_dram(t)
        assert -(-t * den // num) == ratio.to_core(t)


def tiny_workload() -> tuple[WorkloadSpec, MaskSet]:
    layers = tuple(FfnLayer(f"l{i}", 12, 32, 48, i % 2 == 1) for i in range(3))
    spec = WorkloadSpec("tiny", "pure", "test", layers, "test layers")
    rng = np.random.default_rng(5)
    hot = {layer.name: rng.random((4, layer.hidden)) < 0.4 for layer in layers}
    return spec, MaskSet("tiny", spec.layer_names, hot, {"source": "test"})


def test_memoisation_error_against_a_continuous_run_is_small() -> None:
    spec, masks = tiny_workload()
    run = WorkloadRun(spec=spec, hw=TINY_HW, layout="dynamic", iterations=4,
                      masks=masks, mask_policy="per-iteration")
    memoised = simulate_workload(run)
    continuous = simulate_workload(run, memoise=False)
    error = abs(memoised.total().cycles - continuous.total().cycles) / continuous.total().cycles
    assert error < 0.05  # README quotes the measured figure for the reference hardware
    baseline = simulate_workload(WorkloadRun(spec=spec, hw=TINY_HW, iterations=4))
    assert baseline.unique == 2  # two distinct layer shapes, every iteration identical


def test_workload_iterations_follow_ffn_reuse() -> None:
    spec, masks = tiny_workload()
    run = WorkloadRun(spec=spec, hw=TINY_HW, layout="hotcold", iterations=3,
                      masks=masks)
    result = simulate_workload(run, jobs=2)
    assert result.rows == simulate_workload(run).rows  # Dask workers: the same numbers
    modes = {(row.iteration, row.mode) for row in result.rows}
    assert modes == {(0, "dense"), (1, "sparse"), (2, "sparse")}
    fixed = [row for row in result.rows if row.iteration > 0]
    for row in fixed:  # the fixed policy computes the iteration-0 hot set
        assert row.computed_columns == int(masks.hot[row.layer][0].sum())
    assert result.per_iteration()[1] == result.per_iteration()[2]
    assert result.total().cycles == sum(s.cycles for _n, s in result.per_layer())


def test_the_dma_in_flight_table_bounds_the_transfers_in_flight() -> None:
    # `dma.transfers_in_flight` is hardware configuration the RTL honours; so must the model.
    layer = FfnLayer("plain", 8, 16, 64, False)
    cycles = []
    for entries in (1, 2, 8):
        hw = TINY_HW.with_overrides({"dma": {"transfers_in_flight": entries}})
        schedule = next(schedules(layer, hw, seed=7))
        run = run_schedule(schedule, hw, MemorySystem(DRAM))
        assert run.end == execute_reference(schedule, hw, DRAM)[0]
        cycles.append(run.stats.cycles)
        if entries == 1:  # each transfer is accepted after the previous one retired
            num, den = clock_ratio(hw, DRAM)
            busy = schedule.tr_count > 0
            first = run.accepted[schedule.tr_first[busy]]
            retired = run.transfer_done[busy]
            assert (first[1:] * den > retired[:-1] * num).all()
    assert cycles[0] > cycles[1] >= cycles[2]


@pytest.mark.parametrize("cap", [1, 2, 5])
def test_the_request_cap_bounds_the_requests_unanswered(cap) -> None:
    # `dma.requests_in_flight` is hardware configuration the RTL honours; so must the model:
    # a request passes the port only once fewer than `cap` requests are unanswered.
    layer = FfnLayer("plain", 8, 16, 64, False)
    hw = TINY_HW.with_overrides({"dma": {"requests_in_flight": cap}})
    uncapped = run_schedule(next(schedules(layer, TINY_HW, seed=7)), TINY_HW,
                            MemorySystem(DRAM))
    for schedule in schedules(layer, hw, seed=7):
        run = run_schedule(schedule, hw, MemorySystem(DRAM))
        assert run.end == execute_reference(schedule, hw, DRAM)[0]
        # Responses are answered one per core cycle in completion order: the request `cap`
        # places later is accepted by the DRAM only after that completion.
        done = np.sort(run.completed)
        assert (run.accepted[cap:] > done[:-cap]).all()
    first = run_schedule(next(schedules(layer, hw, seed=7)), hw, MemorySystem(DRAM))
    assert first.stats.cycles > uncapped.stats.cycles
    if cap == 1:  # one request at a time: each accepted after the previous one completed
        assert (first.accepted[1:] > first.completed[:-1]).all()


def test_a_cap_that_never_binds_keeps_todays_cycles() -> None:
    layer = FfnLayer("gated", 10, 48, 40, True)
    hw = TINY_HW.with_overrides({"dma": {"requests_in_flight": 1 << 20}})
    for schedule in schedules(layer, hw, seed=3):
        capped = run_schedule(schedule, hw, MemorySystem(DRAM))
        today = run_schedule(schedule, TINY_HW, MemorySystem(DRAM))
        assert capped.end == today.end
        assert (capped.accepted == today.accepted).all()


@pytest.mark.parametrize("used", [1, 4])
def test_the_channels_used_take_every_transaction(used) -> None:
    # `dma.channels`: transaction t of the accelerator's space goes to channel t % used.
    from colsim.sim.dram import decode_array
    from colsim.sim.fast.engines import EngineRules

    layer = FfnLayer("plain", 8, 16, 64, False)
    hw = TINY_HW.with_overrides({"dma": {"channels": used}})
    for schedule in schedules(layer, hw, seed=7):
        physical = EngineRules.from_hw(hw).dram_addresses(schedule)
        channel = decode_array(DRAM, physical)[:, 0]
        t = schedule.addr.astype(np.int64) // DRAM.organization.transaction_bytes
        assert (channel == t % used).all()
        run = run_schedule(schedule, hw, MemorySystem(DRAM))
        assert run.end == execute_reference(schedule, hw, DRAM)[0]
    one = run_schedule(next(schedules(layer, hw, seed=7)), hw, MemorySystem(DRAM))
    every = run_schedule(next(schedules(layer, hw, seed=7)), TINY_HW, MemorySystem(DRAM))
    assert one.stats.transactions == every.stats.transactions
    if used == 1:
        assert one.stats.cycles > every.stats.cycles


@pytest.mark.parametrize(("burst", "cap", "used"), [(2, 0, 0), (4, 2, 0), (8, 1, 3),
                                                    (4, 3, 2)])
def test_requests_of_several_transactions(burst, cap, used) -> None:
    # `dma.request_bytes` = burst·T: an aligned block of a transfer's transactions is one
    # request, to one channel and consecutive columns there; the cap counts requests.
    from colsim.hw.dma_port_model import request_starts
    from colsim.sim.dram import decode_array
    from colsim.sim.fast.engines import EngineRules

    size = DRAM.organization.transaction_bytes
    layer = FfnLayer("plain", 8, 16, 64, False)
    hw = TINY_HW.with_overrides({"dma": {"request_bytes": burst * size,
                                         "requests_in_flight": cap, "channels": used}})
    for schedule in schedules(layer, hw, seed=7):
        rules = EngineRules.from_hw(hw)
        coordinates = decode_array(DRAM, rules.dram_addresses(schedule))
        t = schedule.addr.astype(np.int64) // size
        assert (coordinates[:, 0] == t // burst % (used or 6)).all()
        assert (coordinates[:, 4] % burst == t % burst).all()  # consecutive columns
        run = run_schedule(schedule, hw, MemorySystem(DRAM))
        assert run.end == execute_reference(schedule, hw, DRAM)[0]
        if not cap:
            continue
        transfer = schedule.transfer
        starts = request_starts(schedule.addr, np.r_[True, transfer[1:] != transfer[:-1]],
                                burst * size)
        request = np.cumsum(starts) - 1
        assert (rules.request_index(schedule) == request).all()
        assert 1 < (np.bincount(request).max()) <= burst
        # A request opens only once fewer than `cap` earlier ones await their last answer
        # (the DRAM accepts a request's first transaction after that completion).
        answered = np.full(request[-1] + 1, -1)
        np.maximum.at(answered, request, run.completed)
        opened = run.accepted[starts]
        assert (opened[cap:] > np.sort(answered)[:-cap]).all()


def test_one_transaction_per_request_keeps_todays_cycles() -> None:
    layer = FfnLayer("gated", 10, 48, 40, True)
    size = DRAM.organization.transaction_bytes
    for extra in ({}, {"requests_in_flight": 2, "channels": 4}):
        today = TINY_HW.with_overrides({"dma": extra})
        hw = today.with_overrides({"dma": {"request_bytes": size}})
        for schedule in schedules(layer, hw, seed=3):
            one = run_schedule(schedule, hw, MemorySystem(DRAM))
            before = run_schedule(schedule, today, MemorySystem(DRAM))
            assert one.end == before.end
            assert (one.accepted == before.accepted).all()
