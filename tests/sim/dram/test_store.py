"""Backing store: sparse blocks, backdoor access across block edges, bounds."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.errors import ColsimError
from colsim.sim.dram import BackingStore, DramModel, load_dram_config


def test_backdoor_round_trip_against_a_flat_array():
    rng = np.random.default_rng(0)
    size = 1 << 16
    store = BackingStore(size, block_bytes=256, fill=0x5A)
    flat = bytearray([0x5A]) * size
    for _ in range(300):
        addr = int(rng.integers(0, size - 600))
        data = rng.integers(0, 256, int(rng.integers(0, 600)), dtype=np.uint8).tobytes()
        store.backdoor_write(addr, data)
        flat[addr : addr + len(data)] = data
        probe = int(rng.integers(0, size - 700))
        assert store.backdoor_read(probe, 700) == bytes(flat[probe : probe + 700])
    assert store.backdoor_read(0, size) == bytes(flat)


def test_bounds_and_fill():
    store = BackingStore(1024)
    assert store.backdoor_read(1000, 24) == bytes(24)
    with pytest.raises(ColsimError, match="outside the memory"):
        store.backdoor_write(1020, b"12345")
    with pytest.raises(ColsimError, match="outside the memory"):
        store.backdoor_read(-1, 2)
    with pytest.raises(ColsimError, match="`fill` must be a byte value, not 256"):
        BackingStore(16, fill=256)


def test_model_writes_need_one_transaction_of_data():
    config = load_dram_config()
    model = DramModel(config, store=BackingStore(config.organization.capacity_bytes))
    with pytest.raises(ColsimError, match="one transaction of 128 bytes, not no data"):
        model.submit(0, True, 0)
    with pytest.raises(ColsimError, match="not 4 bytes"):
        model.submit(0, True, 0, data=b"abcd")
    assert model.submit(256, True, 0, data=bytes(range(128)))
    model.drain()
    assert model.store.backdoor_read(256, 128) == bytes(range(128))
