"""Column layouts: permutations, hot-cold order, dynamic swaps (checked by brute force)."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.errors import ColsimError
from colsim.sim.layout import Layout, dynamic_layout, hotcold_layout, rowmajor_layout


def random_masks(seed: int, columns: int, iterations: int, hot_share: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((iterations, columns)) < hot_share


def test_rowmajor_is_identity() -> None:
    layout = rowmajor_layout(7)
    assert layout.kind == "rowmajor"
    assert layout.slot_of.tolist() == list(range(7))
    assert layout.swaps.shape == (0, 2)


@pytest.mark.parametrize("seed", range(5))
def test_hotcold_puts_hot_columns_first_in_index_order(seed: int) -> None:
    hot = random_masks(seed, 50, 1, 0.3)[0]
    layout = hotcold_layout(hot)
    column_at = np.argsort(layout.slot_of)
    n_hot = int(hot.sum())
    assert column_at[:n_hot].tolist() == np.flatnonzero(hot).tolist()
    assert column_at[n_hot:].tolist() == np.flatnonzero(~hot).tolist()
    assert layout.physical_order(hot).tolist() == list(range(n_hot))


@pytest.mark.parametrize("seed", range(8))
def test_dynamic_layout_moves_only_swapped_columns(seed: int) -> None:
    masks = random_masks(seed, 64, 6, 0.4)
    previous = None
    for hot in masks:
        layout = dynamic_layout(previous, hot)
        n_hot = int(hot.sum())
        # The iteration's hot columns occupy the slot prefix.
        assert sorted(layout.slot_of[hot].tolist()) == list(range(n_hot))
        if previous is None:
            assert layout.swaps.shape == (0, 2)
            assert np.array_equal(layout.slot_of, hotcold_layout(hot).slot_of)
        else:
            outside = int((previous.slot_of[hot] >= n_hot).sum())
            assert layout.swaps.shape == (outside, 2)
            moved = previous.slot_of != layout.slot_of
            assert sorted(previous.slot_of[moved].tolist()) == sorted(
                layout.swaps.ravel().tolist()
            )
            # Each swap exchanges the contents of its two slots.
            for a, b in layout.swaps:
                column_a = int(np.flatnonzero(previous.slot_of == a)[0])
                assert layout.slot_of[column_a] == b
        previous = layout


def test_physical_order_of_indices_and_masks_agree() -> None:
    layout = hotcold_layout(np.array([False, True, False, True, True]))
    assert layout.physical_order(np.array([1, 3])).tolist() == [0, 1]
    mask = np.array([True, False, False, False, True])
    assert layout.physical_order(mask).tolist() == [2, 3]


def test_layout_errors_name_the_bad_value() -> None:
    with pytest.raises(ColsimError, match="unknown layout 'zigzag'"):
        Layout("zigzag", np.arange(3))
    with pytest.raises(ColsimError, match="must be a permutation"):
        Layout("rowmajor", np.array([0, 0, 1]))
    with pytest.raises(ColsimError, match=r"hot mask must have shape \(3,\)"):
        rowmajor_layout(3).physical_order(np.ones(4, dtype=bool))
    with pytest.raises(ColsimError, match="1-D bool array"):
        hotcold_layout(np.ones(4, dtype=int))
    with pytest.raises(ColsimError, match="previous layout has 4"):
        dynamic_layout(rowmajor_layout(4), np.ones(5, dtype=bool))
