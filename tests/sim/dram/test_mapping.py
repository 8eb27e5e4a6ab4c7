"""Address mapping: RoBaRaCoCh against a brute-force reference, capacity, inverse."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colsim.errors import ColsimError
from colsim.sim.dram import decode, decode_array, load_dram_config
from colsim.sim.dram.mapping import encode_array

GDDR6 = load_dram_config()


def reference_robaracoch(addr: int, channels=6, columns=64, groups=4, banks=4, tx=128):
    """Hand-written RoBaRaCoCh: byte offset, channel, column, bank group, bank, row."""
    t = addr // tx
    channel, t = t % channels, t // channels
    column, t = t % columns, t // columns
    group, t = t % groups, t // groups
    bank, row = t % banks, t // banks
    return channel, group, bank, row, column


def test_decode_matches_reference_on_random_addresses():
    rng = np.random.default_rng(7)
    addr = rng.integers(0, GDDR6.organization.capacity_bytes, 2000, dtype=np.uint64)
    coords = decode_array(GDDR6, addr)
    for a, got in zip(addr.tolist(), coords.tolist(), strict=True):
        assert tuple(got) == reference_robaracoch(a)
        assert decode(GDDR6, a) == tuple(got)


def test_consecutive_transactions_use_all_six_channels():
    addr = np.arange(12, dtype=np.uint64) * 128
    assert decode_array(GDDR6, addr)[:, 0].tolist() == [0, 1, 2, 3, 4, 5] * 2
    # Bytes of one transaction share its coordinates.
    assert decode(GDDR6, 128 * 7 + 127) == decode(GDDR6, 128 * 7)


def test_last_byte_fits_and_capacity_is_an_error():
    capacity = GDDR6.organization.capacity_bytes
    assert decode(GDDR6, capacity - 1) == (5, 3, 3, 16383, 63)
    with pytest.raises(ColsimError, match=f"address {capacity:#x} is beyond the DRAM capacity"):
        decode(GDDR6, capacity)
    with pytest.raises(ColsimError, match="non-negative"):
        decode(GDDR6, -128)


def test_other_mapping_order():
    config = load_dram_config(mapping=["column", "channel", "bankgroup", "bank", "row"])
    # Consecutive transactions stay in one row of channel 0 until the row is full.
    coords = decode_array(config, np.arange(65, dtype=np.uint64) * 128)
    assert set(coords[:64, 0].tolist()) == {0}
    assert coords[:64, 4].tolist() == list(range(64))
    assert coords[64].tolist() == [1, 0, 0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=GDDR6.organization.capacity_bytes // 128 - 1))
def test_encode_inverts_decode(transaction):
    addr = np.array([transaction * 128], dtype=np.uint64)
    assert encode_array(GDDR6, decode_array(GDDR6, addr)).tolist() == addr.tolist()


def test_encode_rejects_out_of_range_coordinates():
    with pytest.raises(ColsimError, match=r"`row` coordinates must be in \[0, 16384\)"):
        encode_array(GDDR6, [[0, 0, 0, 16384, 0]])
