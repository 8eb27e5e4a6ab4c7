"""A layer's tensors in DRAM: write the operands where the placement puts them, read results.

Every address comes from :class:`~colsim.sim.schedule.DramPlacement`'s element address
functions (the ones the schedule builder uses), so an image and a schedule of the same
placement agree by construction. Elements are little-endian int16 (accumulators int32);
padding (the last token tile's missing tokens, a ragged last W2 panel, record padding) is 0.
"""

from __future__ import annotations

import numpy as np

from colsim.sim.dram.store import BackingStore
from colsim.sim.functional.fixed_point import FfnOperands
from colsim.sim.layout import Layout
from colsim.sim.schedule import DramPlacement
from colsim.sim.schedule.placement import ceil_div

INT16, INT32 = np.dtype("<i2"), np.dtype("<i4")


def new_store(placement: DramPlacement) -> BackingStore:
    """Return an empty (zero-filled) backing store that holds the layer's regions."""
    return BackingStore(placement.end)


def place_operands(store: BackingStore, placement: DramPlacement, layout: Layout,
                   operands: FfnOperands) -> None:
    """Write X, W1 and W2 into ``store`` (columns at their ``layout`` slots)."""
    p = placement
    m, d = operands.x.shape
    n = operands.hidden
    if layout.columns != n:
        raise ValueError(f"layout has {layout.columns} columns, the operands {n}")
    tiles = ceil_div(m, p.rows)
    x = np.zeros((tiles * p.rows, d), dtype=np.int16)
    x[:m] = operands.x
    for i in range(tiles):
        for c in range(p.x_chunks):
            k0, k1 = c * p.chunk, min(d, (c + 1) * p.chunk)
            block = x[i * p.rows:(i + 1) * p.rows, k0:k1].T.astype(INT16)
            store.backdoor_write(int(p.x_address(i, k0)), block.tobytes())
    parts = 2 if operands.gated else 1
    records = np.zeros((n, parts, p.w1_part // p.element), dtype=INT16)
    for part in range(parts):
        records[layout.slot_of, part, :d] = operands.w1_part(part).T
    store.backdoor_write(p.w1, records.tobytes())
    panels = np.zeros((p.panels, p.w2_panel // p.element), dtype=INT16)
    for f in range(p.panels):
        width = min(p.cols, d - f * p.cols)
        rows = np.zeros((n, p.cols), dtype=INT16)
        rows[layout.slot_of, :width] = operands.w2[:, f * p.cols:f * p.cols + width]
        panels[f, :n * p.cols] = rows.ravel()
    store.backdoor_write(p.w2, panels.tobytes())


def _gather16(store: BackingStore, start: int, end: int, addresses: np.ndarray) -> np.ndarray:
    """Return the int16 elements at byte ``addresses`` (all inside ``[start, end)``)."""
    region = np.frombuffer(store.backdoor_read(start, end - start), dtype=INT16)
    return region[(np.asarray(addresses, dtype=np.int64) - start) // 2].astype(np.int64)


def _activations(store: BackingStore, placement: DramPlacement, address, base: int, end: int,
                 tokens: int, positions: int) -> np.ndarray:
    """Return the tokens × positions activation matrix whose (tile, position) start at address."""
    r = np.arange(tokens)
    addr = address(r[:, None] // placement.rows, np.arange(positions)[None, :])
    return _gather16(store, base, end, addr + (r[:, None] % placement.rows) * placement.element)


def read_y(store: BackingStore, placement: DramPlacement, tokens: int, features: int
           ) -> np.ndarray:
    """Return Y (tokens × features, int16 values as int64) from ``store``."""
    return _activations(store, placement, placement.y_address, placement.y, placement.y_cold,
                        tokens, features)


def read_h(store: BackingStore, placement: DramPlacement, tokens: int, positions: int
           ) -> np.ndarray:
    """Return the first ``positions`` H positions (tokens × positions) from ``store``."""
    return _activations(store, placement, placement.h_address, placement.h, placement.y,
                        tokens, positions)


def read_y_cold(store: BackingStore, placement: DramPlacement, tokens: int, features: int
                ) -> np.ndarray:
    """Return the cached cold contribution Y_cold (tokens × features, int32 as int64).

    Each (token tile, panel) tile holds ``width`` columns (C, or what is left of d in the last
    panel) of R int32, position-major like the activations.
    """
    p = placement
    out = np.zeros((tokens, features), dtype=np.int64)
    for i in range(ceil_div(tokens, p.rows)):
        rows = min(p.rows, tokens - i * p.rows)
        for f in range(p.panels):
            width = min(p.cols, features - f * p.cols)
            raw = store.backdoor_read(int(p.y_cold_address(i, f)), p.rows * width * 4)
            tile = np.frombuffer(raw, dtype=INT32).reshape(width, p.rows).T
            out[i * p.rows:i * p.rows + rows, f * p.cols:f * p.cols + width] = tile[:rows]
    return out
