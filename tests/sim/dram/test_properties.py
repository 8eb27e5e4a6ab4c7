"""Property tests: random request streams obey the protocol, complete once, keep data."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colsim.sim.dram import DramEngine, decode_array, load_dram_config
from colsim.sim.dram import kernel as k
from colsim.sim.dram.checker import check_protocol
from colsim.sim.dram.commands import RD, WR
from colsim.sim.dram.engine import request_table
from colsim.sim.dram.model import DramModel
from colsim.sim.dram.store import BackingStore
from colsim.sim.dram.streams import request_stream


def simulate(config, addr, is_write, arrival, *, every_cycle=False):
    """Run the compiled controller directly; return (completion, log, counters)."""
    state = k.KernelState(config, record_commands=True, every_cycle=every_cycle)
    reqs = request_table(config, addr, is_write)
    reqs[:, k.R_ARRIVAL] = arrival
    state.start_stream()
    while (status := state.run(reqs, len(reqs), k.INF)) == k.RUN_LOG_FULL:
        state.grow_log()
    assert status == k.RUN_DONE
    accept = reqs[:, k.R_ACCEPT]
    assert (np.diff(accept) > 0).all() and (accept >= arrival).all()  # ≤ 1 per cycle, in order
    return reqs[:, k.R_DONE].copy(), state.command_log, state.g.copy()


def assert_stream_properties(config, addr, is_write, arrival):
    completion, log, g = simulate(config, addr, is_write, arrival)
    n = len(addr)
    # The independent checker finds no timing or state violation.
    assert check_protocol(config, log) == []
    # Every request completed, exactly once: its final RD/WR is in the log, one-to-one.
    assert (completion >= 0).all()
    latency = config.timing.read_latency
    issue = np.where(is_write, completion, completion - latency)
    coords = decode_array(config, addr)
    bank = coords[:, 1] * config.organization.banks_per_group + coords[:, 2]
    expected = Counter(zip(issue.tolist(), coords[:, 0].tolist(),
                           np.where(is_write, WR, RD).tolist(), bank.tolist(),
                           coords[:, 3].tolist(), strict=True))
    issued = Counter(tuple(row) for row in log.tolist() if row[2] in (RD, WR))
    assert issued == expected
    assert (issue >= arrival).all()
    # Counters are consistent.
    assert g[k.G_READS] + g[k.G_WRITES] == n
    assert g[k.G_ROW_HITS] + g[k.G_ROW_MISSES] + g[k.G_ROW_CONFLICTS] == n
    # Sleeping through idle cycles changes nothing against ticking every cycle.
    slow = simulate(config, addr, is_write, arrival, every_cycle=True)
    np.testing.assert_array_equal(slow[0], completion)
    np.testing.assert_array_equal(slow[1], log)
    np.testing.assert_array_equal(slow[2], g)


STREAMS = [
    # (pattern, write share, burst, idle gap)
    ("sequential", 0.0, 0, 0),
    ("random", 0.0, 0, 0),
    ("random", 1.0, 0, 0),
    ("hot-rows", 0.3, 0, 0),
    ("conflicts", 0.5, 0, 0),
    ("random", 0.4, 16, 300),
    ("strided", 0.2, 4, 40),
    ("hot-rows", 0.6, 64, 2500),
]


@pytest.mark.parametrize("refresh", ["all-bank", "per-bank", "off"])
@pytest.mark.parametrize("preset", ["gddr6", "hbm2"])
@pytest.mark.parametrize(("pattern", "write_share", "burst", "gap"), STREAMS)
def test_streams(preset, refresh, pattern, write_share, burst, gap):
    config = load_dram_config(preset, organization={"channels": 2},
                              controller={"refresh": refresh})
    stream = request_stream(config, pattern, 1200, seed=len(pattern) * 31 + burst,
                            write_share=write_share, burst=burst, idle_gap=gap)
    assert_stream_properties(config, *stream)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_long_mixed_stream_all_channels(seed):
    config = load_dram_config()
    stream = request_stream(config, "hot-rows", 20_000, seed=seed, write_share=0.35, burst=200,
                            idle_gap=700)
    assert_stream_properties(config, *stream)


FAST_REFRESH = load_dram_config(
    organization={"channels": 2}, timing={"refi": 400, "rfc": 40},
    controller={"read_queue": 4, "write_queue": 6},
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 23),  # index into a small address pool: hits and conflicts
            st.booleans(),
            st.integers(0, 60),  # gap before the request
        ),
        min_size=1,
        max_size=150,
    )
)
def test_small_streams_with_back_pressure_and_refresh(requests):
    org = FAST_REFRESH.organization
    pool = (np.arange(24) % 3 * org.transaction_bytes * org.channels
            + np.arange(24) // 3 * org.row_bytes * org.channels * org.banks)
    addr = pool[[r[0] for r in requests]].astype(np.uint64)
    is_write = np.array([r[1] for r in requests])
    arrival = np.cumsum([r[2] for r in requests]).astype(np.int64)
    assert_stream_properties(FAST_REFRESH, addr, is_write, arrival)


def test_reads_return_the_last_data_written():
    config = load_dram_config(organization={"channels": 2})
    rng = np.random.default_rng(3)
    n, tx = 3000, config.organization.transaction_bytes
    addr = rng.integers(0, 40, n).astype(np.uint64) * np.uint64(tx * 7)
    is_write = rng.random(n) < 0.5
    arrival = np.cumsum(rng.integers(0, 4, n)).astype(np.int64)
    store = BackingStore(config.organization.capacity_bytes)
    store.backdoor_write(0, b"\xab" * tx)  # preloaded contents are visible to reads
    model = DramModel(config, store=store)
    cycle = 0
    for i in range(n):
        cycle = max(cycle, int(arrival[i]))
        data = i.to_bytes(4, "little") * (tx // 4) if is_write[i] else None
        while not model.submit(int(addr[i]), bool(is_write[i]), cycle, tag=i, data=data):
            cycle += 1
        cycle += 1
    done = {c.tag: c for c in model.drain()}
    assert sorted(done) == list(range(n))
    # Reference: replay the batch path's issue order (WR at completion, RD at completion − RL).
    completion = DramEngine(config).run(addr, is_write, arrival)
    issue = np.where(is_write, completion, completion - config.timing.read_latency)
    memory = {0: b"\xab" * tx}
    for i in np.argsort(issue, kind="stable").tolist():
        if is_write[i]:
            memory[int(addr[i])] = i.to_bytes(4, "little") * (tx // 4)
        else:
            assert done[i].data == memory.get(int(addr[i]), bytes(tx)), i
    assert store.backdoor_read(int(addr[-1]), tx) == memory.get(int(addr[-1]), bytes(tx))
