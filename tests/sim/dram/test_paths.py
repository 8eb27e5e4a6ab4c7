"""Event path, batch path and stateful engine give identical cycles; API contracts."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.errors import ColsimError
from colsim.sim.dram import DramEngine, load_dram_config, simulate_batch
from colsim.sim.dram import kernel as k
from colsim.sim.dram.model import ClockRatio, DramModel
from colsim.sim.dram.streams import request_stream


def drive_event_model(config, addr, is_write, arrival):
    """Feed a stream through DramModel like the batch front end: one offer per cycle."""
    model = DramModel(config)
    cycle, rejected = 0, 0
    for i in range(len(addr)):
        cycle = max(cycle, int(arrival[i]))
        while not model.submit(int(addr[i]), bool(is_write[i]), cycle, tag=i):
            rejected += 1
            cycle += 1
        cycle += 1
    completion = np.full(len(addr), -1, dtype=np.int64)
    for done in model.drain():
        assert completion[done.tag] == -1
        completion[done.tag] = done.cycle
    return completion, model.stats(), rejected


@pytest.mark.parametrize(
    ("preset", "pattern", "write_share", "burst", "gap"),
    [
        ("gddr6", "random", 0.4, 0, 0),
        ("gddr6", "hot-rows", 0.3, 32, 400),
        ("hbm2", "conflicts", 0.5, 0, 0),
        ("hbm2", "sequential", 0.2, 8, 30),
    ],
)
def test_event_and_batch_paths_agree(preset, pattern, write_share, burst, gap):
    config = load_dram_config(preset)
    stream = request_stream(config, pattern, 2500, seed=11, write_share=write_share,
                            burst=burst, idle_gap=gap)
    batch = simulate_batch(config, *stream)
    completion, stats, rejected = drive_event_model(config, *stream)
    np.testing.assert_array_equal(completion, batch.completion)
    assert stats == batch.stats
    if burst == 0:
        assert rejected > 0  # saturating streams exercise back-pressure


def test_engine_chunks_equal_one_stream():
    config = load_dram_config()
    addr, is_write, _ = request_stream(config, "hot-rows", 3000, seed=2, write_share=0.3)
    whole_arrival = np.zeros(3000, dtype=np.int64)
    engine = DramEngine(config)
    pieces = []
    for lo in range(0, 3000, 500):
        # Each chunk arrives once the previous one has issued (the engine clock).
        arrival = np.full(500, engine.clock, dtype=np.int64)
        whole_arrival[lo : lo + 500] = arrival
        pieces.append(engine.run(addr[lo : lo + 500], is_write[lo : lo + 500], arrival))
    one_shot = simulate_batch(config, addr, is_write, whole_arrival)
    np.testing.assert_array_equal(np.concatenate(pieces), one_shot.completion)
    assert engine.stats() == one_shot.stats
    engine.reset()
    assert engine.clock == 0
    again = engine.run(addr[:500], is_write[:500], np.zeros(500, dtype=np.int64))
    np.testing.assert_array_equal(again, simulate_batch(config, addr[:500], is_write[:500],
                                                        np.zeros(500, np.int64)).completion)


def test_queue_depth_and_one_acceptance_per_cycle():
    config = load_dram_config(organization={"channels": 1}, controller={"refresh": "off"})
    model = DramModel(config)
    row_bytes = config.organization.row_bytes * config.organization.banks
    accepted = []
    for i in range(40):
        accepted.append(model.submit(i * row_bytes, False, i, tag=i))
        assert model._state.chs[0, k.S_QUEUE_LEN + k.Q_READ] <= 32
    # Bank 0, a new row each time: conflicts pile up in the 32-entry read queue.
    assert accepted[:32] == [True] * 32
    assert not all(accepted)
    fresh = DramModel(config)
    assert fresh.submit(0, False, 10)
    with pytest.raises(ColsimError, match="already accepted at cycle 10"):
        fresh.submit(128, False, 10)
    with pytest.raises(ColsimError, match="is in the past"):
        fresh.submit(0, False, 3)


def test_pop_completed_and_next_event():
    config = load_dram_config(controller={"refresh": "off"})
    model = DramModel(config)
    assert model.next_event_cycle() is None
    assert model.submit(0, False, 0, tag="a")
    model.advance(58)
    assert model.pop_completed() == []  # data returns at cycle 58
    assert model.next_event_cycle() == 58  # popped once cycle 58 has been simulated
    model.advance(59)
    [done] = model.pop_completed()
    assert (done.tag, done.cycle, done.is_write) == ("a", 58, False)
    assert model.next_event_cycle() is None


def test_clock_ratio():
    ratio = ClockRatio(800.0, 1000.0)
    assert [ratio.to_dram(c) for c in (0, 1, 4, 5)] == [0, 2, 5, 7]  # ceil(c × 1.25)
    assert [ratio.to_core(d) for d in (0, 1, 5, 58)] == [0, 1, 4, 47]  # ceil(d × 0.8)
    for d in range(40):  # the first core cycle whose DRAM cycle lies after d
        after = ratio.core_after(d)
        assert ratio.to_dram(after) > d >= ratio.to_dram(after - 1)
    for core in range(200):
        assert ratio.to_core(ratio.to_dram(core)) >= core
    with pytest.raises(ColsimError, match="must be positive"):
        ClockRatio(0, 1000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 128], [False], [0, 0]), "must be 1-D arrays of one length"),
        (([0, 128], [False, True], [5, 4]), "`arrival` must be non-decreasing"),
        (([-128], [False], [0]), "`addr` must be non-negative"),
        (([0.5], [False], [0]), "`addr` must hold integers"),
        (([1 << 40], [False], [0]), "beyond the DRAM capacity"),
    ],
)
def test_batch_input_errors(args, message):
    config = load_dram_config()
    with pytest.raises(ColsimError, match=message):
        simulate_batch(config, *(np.asarray(a) for a in args))
