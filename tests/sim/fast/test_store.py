"""Layer-iterations shared between runs: the memo key and the store are exact."""

from __future__ import annotations

import numpy as np

from colsim.config import reference_hardware
from colsim.masks import MaskSet
from colsim.models.spec import FfnLayer, WorkloadSpec
from colsim.sim.fast import workload
from colsim.sim.fast.store import LayerIterationStore
from colsim.sim.fast.workload import WorkloadRun, simulate_workload
from colsim.sim.schedule import ComputeModel

TINY_HW = reference_hardware().with_overrides({
    "systolic": {"rows": 4, "cols": 4},
    "simd": {"lanes": 4},
    "sram": {"input": {"kib": 1}, "weight": {"kib": 6}, "output": {"kib": 1}},
})


def tiny_workload(seed: int) -> tuple[WorkloadSpec, MaskSet]:
    layers = tuple(FfnLayer(f"l{i}", 12, 32, 48, i % 2 == 1) for i in range(3))
    spec = WorkloadSpec("tiny", "pure", "test", layers, "test layers")
    rng = np.random.default_rng(seed)
    hot = {layer.name: rng.random((3, layer.hidden)) < 0.4 for layer in layers}
    return spec, MaskSet("tiny", spec.layer_names, hot, {"source": "test"})


def counting(monkeypatch) -> list[int]:
    """Count the layer-iterations simulated (not read from a store)."""
    calls = [0]
    simulate = workload.simulate_sharing

    def counted(hw, dram, compute, items):
        calls[0] += len(items)
        return simulate(hw, dram, compute, items)

    monkeypatch.setattr(workload, "simulate_sharing", counted)
    return calls


def test_hot_first_layouts_share_their_layer_iterations(tmp_path, monkeypatch) -> None:
    spec, masks = tiny_workload(3)
    calls = counting(monkeypatch)
    store = LayerIterationStore(tmp_path, TINY_HW, ComputeModel())
    results = {}
    for layout in ("hotcold", "perlayer", "dynamic"):
        run = WorkloadRun(spec=spec, hw=TINY_HW, layout=layout, iterations=3, masks=masks)
        results[layout] = simulate_workload(run, store=store)
        alone = simulate_workload(run)  # no store: simulated here, the same numbers
        assert [r.stats for r in alone.rows] == [r.stats for r in results[layout].rows]
    # hotcold: 3 layers x (dense, sparse) simulated; each "alone" run simulates them again;
    # perlayer and dynamic (fixed masks: no moves) read every one back from the store.
    assert calls[0] == 6 + 3 * 6
    assert len(list(tmp_path.glob("*.json"))) == 6
    stats = [[r.stats for r in result.rows] for result in results.values()]
    assert stats[0] == stats[1] == stats[2]


def test_a_store_is_bound_to_its_configuration(tmp_path, monkeypatch) -> None:
    spec, masks = tiny_workload(4)
    calls = counting(monkeypatch)
    run = WorkloadRun(spec=spec, hw=TINY_HW, layout="rowmajor", iterations=2, masks=masks)
    simulate_workload(run, store=LayerIterationStore(tmp_path, TINY_HW, ComputeModel()))
    assert calls[0] == 6
    other = TINY_HW.with_overrides({"dma": {"transfers_in_flight": 2}})
    run = WorkloadRun(spec=spec, hw=other, layout="rowmajor", iterations=2, masks=masks)
    simulate_workload(run, store=LayerIterationStore(tmp_path, other, ComputeModel()))
    assert calls[0] == 12  # other hardware: nothing read back
    for entry in tmp_path.glob("*.json"):
        entry.write_text("{not json")
    simulate_workload(run, store=LayerIterationStore(tmp_path, other, ComputeModel()))
    assert calls[0] == 18  # unreadable entries are simulated again
