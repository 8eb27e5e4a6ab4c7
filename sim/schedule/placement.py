"""DRAM data placement of one FFN layer: the byte address of every tensor it touches.

All regions start at multiples of ``align`` bytes and every unit a schedule transfers starts
at a multiple of the DRAM transaction size ``T`` (see ``sim/README.md`` for the picture):

* **W1**: one *record* per physical column slot, ``g`` parts (value; gate for GEGLU) of the
  slot's d weights, each part contiguous and padded to ``T`` — a hot column is one burst.
* **W2**: ``ceil(d / C)`` *panels* of C output features; panel ``f`` holds, for every slot
  ``p``, the C weights ``W2[p, fC:(f+1)C]`` contiguously (row stride ``C`` elements), so a
  run of consecutive slots is one burst per panel.
* **X**, **Y** (d features) and **H** (hidden positions): *activation blocks* of R tokens ×
  ``chunk`` positions (``chunk`` = what one input-buffer slot holds), stored position-major
  (the R tokens of one position are contiguous: the order the array streams them), block
  ``(i, c)`` of token tile ``i`` at ``base + (i·n_chunks + c)·block_bytes``.
* **Y_cold**: the cached cold contribution, one int32 R×C tile per (token tile, panel),
  position-major like the activations (the R tokens of a feature are contiguous).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ConfigError
from colsim.models.spec import FfnLayer

DEFAULT_ALIGN = 1 << 20


def ceil_div(a: int, b: int) -> int:
    """Return ``ceil(a / b)`` for non-negative integers."""
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    """Return the smallest multiple of ``b`` that is ``>= a``."""
    return ceil_div(a, b) * b


def input_chunk(hw: HardwareConfig) -> int:
    """Return the positions per input-buffer fill: R × chunk operands fill one slot.

    The chunk is a multiple of C so that an R×C output tile never straddles two blocks.
    """
    rows, cols = hw.systolic.rows, hw.systolic.cols
    element = hw.systolic.operand_bits // 8
    chunk = hw.sram.input.slot_bytes // (rows * element) // cols * cols
    if chunk < cols:
        raise ConfigError(
            f"`sram.input` slot of {hw.sram.input.slot_bytes} bytes cannot hold an R×C tile "
            f"of operands ({rows}×{cols}×{element} bytes)"
        )
    return chunk


@dataclass(frozen=True)
class DramPlacement:
    """Base addresses and strides (bytes) of one layer's tensors in DRAM."""

    transaction_bytes: int
    w1: int
    w2: int
    x: int
    h: int
    y: int
    y_cold: int
    end: int  # first byte after the layer's regions
    w1_part: int  # bytes between a record's value and gate parts
    w1_record: int  # bytes between consecutive slots' records
    w2_panel: int  # bytes between consecutive W2 panels
    block: int  # bytes of one activation block
    chunk: int  # positions per activation block
    y_cold_tile: int  # bytes of one cached cold-contribution tile
    rows: int  # R: tokens per token tile (activation blocks, output tiles)
    cols: int  # C: features per W2 panel and Y_cold tile
    element: int  # bytes of an operand (int16)
    x_chunks: int  # activation blocks per token tile of X and Y (d positions)
    h_chunks: int  # activation blocks per token tile of H (N positions)
    panels: int  # W2 panels (ceil(d / C))

    def to_dict(self) -> dict[str, int]:
        """Return the placement as plain integers (for result files)."""
        return asdict(self)

    # Byte addresses of single elements. Every argument may be an integer or an integer
    # numpy array (broadcast together); the schedule builder and the functional executor
    # both address DRAM through these, so they agree by construction.

    def _block(self, base: int, chunks: int, tile, position):
        """Return the address of token 0 of ``position`` in token tile ``tile``'s blocks."""
        position = np.asarray(position, dtype=np.int64)
        return (base + (np.asarray(tile, dtype=np.int64) * chunks + position // self.chunk)
                * self.block + position % self.chunk * self.rows * self.element)

    def x_address(self, tile, feature):
        """Return the address of X[tile·R, feature] (the R tokens follow contiguously)."""
        return self._block(self.x, self.x_chunks, tile, feature)

    def h_address(self, tile, position):
        """Return the address of H[tile·R, position] for a hidden position (computed index)."""
        return self._block(self.h, self.h_chunks, tile, position)

    def y_address(self, tile, feature):
        """Return the address of Y[tile·R, feature] (the R tokens follow contiguously)."""
        return self._block(self.y, self.x_chunks, tile, feature)

    def w1_address(self, slot, part, k):
        """Return the address of W1[k, column in ``slot``] of ``part`` (0 value, 1 gate)."""
        return (self.w1 + np.asarray(slot, dtype=np.int64) * self.w1_record
                + np.asarray(part, dtype=np.int64) * self.w1_part
                + np.asarray(k, dtype=np.int64) * self.element)

    def w2_address(self, panel, slot):
        """Return the address of W2[row in ``slot``, panel·C] (C features follow)."""
        return (self.w2 + np.asarray(panel, dtype=np.int64) * self.w2_panel
                + np.asarray(slot, dtype=np.int64) * self.cols * self.element)

    def y_cold_address(self, tile, panel):
        """Return the address of the int32 cold tile of (token tile, panel)."""
        return self.y_cold + (np.asarray(tile, dtype=np.int64) * self.panels
                              + np.asarray(panel, dtype=np.int64)) * self.y_cold_tile


def plan_placement(
    layer: FfnLayer,
    hw: HardwareConfig,
    *,
    transaction_bytes: int,
    base: int = 0,
    align: int = DEFAULT_ALIGN,
) -> DramPlacement:
    """Return the placement of ``layer``'s tensors from ``base`` on (see the module docstring)."""
    if transaction_bytes <= 0 or transaction_bytes % 2:
        raise ConfigError(
            f"`transaction_bytes` must be a positive even number, not {transaction_bytes}"
        )
    if align <= 0 or align % transaction_bytes:
        raise ConfigError(
            f"`align` must be a positive multiple of {transaction_bytes}, not {align}"
        )
    rows, cols = hw.systolic.rows, hw.systolic.cols
    element = hw.systolic.operand_bits // 8
    accumulator = hw.systolic.accumulator_bits // 8
    parts = 2 if layer.gated else 1
    chunk = input_chunk(hw)
    block = round_up(rows * chunk * element, transaction_bytes)
    token_tiles = ceil_div(layer.tokens, rows)
    panels = ceil_div(layer.d_model, cols)
    w1_part = round_up(layer.d_model * element, transaction_bytes)
    w1_record = parts * w1_part
    w2_panel = round_up(layer.hidden * cols * element, transaction_bytes)
    y_cold_tile = round_up(rows * cols * accumulator, transaction_bytes)
    sizes = {
        "w1": layer.hidden * w1_record,
        "w2": panels * w2_panel,
        "x": token_tiles * ceil_div(layer.d_model, chunk) * block,
        "h": token_tiles * ceil_div(layer.hidden, chunk) * block,
        "y": token_tiles * ceil_div(layer.d_model, chunk) * block,
        "y_cold": token_tiles * panels * y_cold_tile,
    }
    bases = {}
    cursor = round_up(base, align)
    for name, size in sizes.items():
        bases[name] = cursor
        cursor = round_up(cursor + size, align)
    return DramPlacement(
        transaction_bytes=transaction_bytes,
        end=cursor,
        w1_part=w1_part,
        w1_record=w1_record,
        w2_panel=w2_panel,
        block=block,
        chunk=chunk,
        y_cold_tile=y_cold_tile,
        rows=rows,
        cols=cols,
        element=element,
        x_chunks=ceil_div(layer.d_model, chunk),
        h_chunks=ceil_div(layer.hidden, chunk),
        panels=panels,
        **bases,
    )
