"""A schedule cut at its down phase's barrier, run as prefix then resumed suffix, equals the
whole run: every op, transfer, transaction and statistic (error 0)."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.config import reference_hardware
from colsim.models.registry import workload_spec
from colsim.models.spec import FfnLayer
from colsim.sim.dram import load_dram_config
from colsim.sim.fast.resume import run_prefix, run_suffix
from colsim.sim.fast.run import MemorySystem, run_schedule
from colsim.sim.fast.workload import (
    LayerIteration,
    sharing_groups,
    simulate_layer_iteration,
    simulate_sharing,
)
from colsim.sim.layout import dynamic_layout, hotcold_layout, rowmajor_layout
from colsim.sim.schedule import ComputeModel, build_schedule, plan_placement
from colsim.sim.schedule.cut import cut_at_barrier

TINY_HW = reference_hardware().with_overrides({
    "systolic": {"rows": 4, "cols": 4},
    "simd": {"lanes": 4},
    "sram": {"input": {"kib": 1}, "weight": {"kib": 6}, "output": {"kib": 1}},
})
REF_HW = reference_hardware()
CAPPED_HW = REF_HW.with_overrides({"dma": {"requests_in_flight": 2, "request_bytes": 256}})
GDDR6 = load_dram_config("gddr6")
NO_REFRESH = load_dram_config("gddr6", controller={"refresh": "off"})
PER_BANK = load_dram_config("gddr6", controller={"refresh": "per-bank"})
TIMELINE = ("op_start", "op_end", "transfer_done", "accepted", "completed")


def _layer(model: str, size: str, index: int = 0) -> FfnLayer:
    return workload_spec(model, size, "public").layers[index]


def _schedule(layer, hw, dram, hot, layout, mode="dense"):
    placement = plan_placement(layer, hw, transaction_bytes=dram.organization.transaction_bytes)
    return build_schedule(layer, hw, hot, layout, placement, mode=mode)


def _masks(layer: FfnLayer, seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(layer.hidden) < share for share in np.linspace(0.1, 0.6, count)]


def assert_resumed_equals_whole(schedules, hw, dram) -> None:
    """Run each schedule whole and as the first one's prefix plus its own suffix."""
    checkpoint = None
    for schedule in schedules:
        whole = run_schedule(schedule, hw, MemorySystem(dram))
        cut = cut_at_barrier(schedule)
        prefix_run, ran = run_prefix(cut.prefix, hw, MemorySystem(dram))
        checkpoint = checkpoint or ran  # later masks resume from the first mask's prefix
        suffix_run, stats = run_suffix(cut, hw, checkpoint)
        for name in TIMELINE:
            joined = np.concatenate([getattr(prefix_run, name), getattr(suffix_run, name)])
            assert joined.tolist() == getattr(whole, name).tolist(), name
        assert stats == whole.stats
        assert suffix_run.end == whole.end


CASES = {
    "tiny-dit": (_layer("tiny-dit", "tiny"), TINY_HW, GDDR6),
    "tiny-motion-no-refresh": (_layer("tiny-motion", "tiny"), TINY_HW, NO_REFRESH),
    "gated-capped": (FfnLayer("gated", 10, 48, 40, True),
                     TINY_HW.with_overrides({"dma": {"requests_in_flight": 1,
                                                     "transfers_in_flight": 2}}), PER_BANK),
    "mdm": (_layer("mdm", "full"), REF_HW, GDDR6),
    "mdm-no-refresh": (_layer("mdm", "full"), REF_HW, NO_REFRESH),
    "mdm-capped": (_layer("mdm", "full"), CAPPED_HW, GDDR6),
    "dit-xl-2": (_layer("dit-xl-2", "full"), REF_HW, GDDR6),
    "sd-v1.4-mid": (_layer("sd-v1.4", "full", 6), REF_HW, GDDR6),
}
MASKS = {"dit-xl-2": 2, "sd-v1.4-mid": 2}


@pytest.mark.parametrize("case", list(CASES))
def test_a_resumed_dense_reuse_iteration_equals_the_whole_run(case: str) -> None:
    layer, hw, dram = CASES[case]
    masks = _masks(layer, seed=len(case), count=MASKS.get(case, 3))
    layouts = [rowmajor_layout(layer.hidden)] * len(masks)
    layouts[-1] = hotcold_layout(masks[-1])  # hot-cold layouts share the up phase too
    schedules = [_schedule(layer, hw, dram, hot, layout)
                 for hot, layout in zip(masks, layouts, strict=True)]
    assert_resumed_equals_whole(schedules, hw, dram)


@pytest.mark.parametrize("seed", range(6))
def test_any_schedule_with_a_barrier_resumes_exactly(seed: int) -> None:
    # Random controllers, DMA limits and buffers; baseline, dense reuse and sparse schedules
    # (a sparse one reads Y_cold), with and without a re-layout phase.
    rng = np.random.default_rng(seed)
    low = float(rng.uniform(0.0, 0.6))
    dram = load_dram_config(
        organization={"channels": int(rng.integers(1, 7))},
        controller={"read_queue": int(rng.integers(1, 33)),
                    "write_queue": int(rng.integers(1, 65)), "write_low_watermark": low,
                    "write_high_watermark": float(rng.uniform(low, 1.0)),
                    "refresh": str(rng.choice(["off", "all-bank", "per-bank"]))})
    hw = TINY_HW.with_overrides({
        "dma": {"transfers_in_flight": int(rng.integers(1, 9)),
                "requests_in_flight": int(rng.choice([0, 1, 3, 8])),
                "channels": int(rng.integers(0, dram.organization.channels + 1)),
                "request_bytes": int(rng.choice([0, 256, 512]))},
        "sram": {"input": {"slots": int(rng.integers(1, 3))},
                 "output": {"slots": int(rng.integers(1, 3))}}})
    layer = FfnLayer("random", int(rng.integers(1, 40)), 32, int(rng.choice([24, 40, 64])),
                     bool(rng.integers(2)))
    hot = rng.random(layer.hidden) < rng.uniform(0.05, 0.95)
    moved = dynamic_layout(dynamic_layout(None, rng.random(layer.hidden) < 0.5), hot)
    for schedule in (_schedule(layer, hw, dram, None, rowmajor_layout(layer.hidden)),
                     _schedule(layer, hw, dram, hot, moved),
                     _schedule(layer, hw, dram, hot, moved, mode="sparse")):
        assert_resumed_equals_whole([schedule], hw, dram)


def test_dense_reuse_iterations_of_one_shape_share_their_prefix() -> None:
    layer = _layer("mdm", "full")
    prefixes = [cut_at_barrier(_schedule(layer, REF_HW, GDDR6, hot, layout)).prefix
                for hot in _masks(layer, seed=1, count=3)
                for layout in (rowmajor_layout(layer.hidden), hotcold_layout(hot))]
    for prefix in prefixes[1:]:
        for name, value in vars(prefixes[0]).items():
            other = getattr(prefix, name)
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, other), name
            else:
                assert value == other, name


def test_sharing_groups_by_prefix_key_and_simulates_each_exactly() -> None:
    layers = [_layer("tiny-dit", "tiny"), FfnLayer("other", 16, 48, 192, True)]
    items = [LayerIteration(0, 0, layer, "dense", hot, layout)
             for layer in layers for hot in _masks(layer, seed=5, count=3)
             for layout in (rowmajor_layout(layer.hidden), hotcold_layout(hot))]
    items.append(LayerIteration(0, 1, layers[0], "sparse", items[0].hot, items[0].layout))
    items.append(LayerIteration(0, 0, layers[0], "dense", None, items[0].layout))
    groups = sharing_groups(items)
    assert groups == [list(range(6)), list(range(6, 12)), [12], [13]]
    compute = ComputeModel()
    for group in groups:
        shared = simulate_sharing(TINY_HW, GDDR6, compute, [items[n] for n in group])
        assert shared == [simulate_layer_iteration(TINY_HW, GDDR6, compute, items[n])
                          for n in group]
