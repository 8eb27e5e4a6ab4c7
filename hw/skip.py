"""Column-mask skip logic: issue only hot columns, compacted into tiles of the array's width.

Behaviour is that of :func:`colsim.hw.skip_model.skip_columns` (read its docstring).

Ports:

* ``start`` (strobe) begins a layer: it samples ``columns`` (N) and clears the counters.
* ``i_mask``: stream of ``mask_width``-bit words; word w holds columns ``w·W .. w·W+W-1``
  (column ``w·W + j`` in bit j). The block reads ``ceil(N / W)`` words after ``start`` and
  ignores the bits beyond N of the last one.
* ``o_col``: stream of {``column`` (index), ``slot`` (position in the array tile),
  ``tile_last``, ``last``}: the hot columns in increasing order. A layer with no hot column
  issues nothing.
* ``busy`` is high from ``start`` until the last issued column has been transferred;
  ``issued`` and ``skipped`` count the layer's hot and cold columns (final when ``busy`` is
  low; ``issued + skipped = N``).

Timing: one hot column per cycle and one all-cold word per cycle. An issued column waits in a
holding register until the next hot column is found (or the mask ends), which is how
``last`` and the ragged last tile's ``tile_last`` are known without look-ahead.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig


class ColumnSkip(wiring.Component):
    """Issue the hot columns of a ``mask_width``-bit-word mask in tiles of ``tile`` columns."""

    def __init__(self, mask_width: int, tile: int, index_bits: int) -> None:
        for name, value in (("mask_width", mask_width), ("tile", tile),
                            ("index_bits", index_bits)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise TypeError(f"`{name}` must be a positive integer, not {value!r}")
        self._mask_width, self._tile, self._index_bits = mask_width, tile, index_bits
        col_layout = data.StructLayout({
            "column": index_bits,
            "slot": range(max(tile, 2)),
            "tile_last": 1,
            "last": 1,
        })
        super().__init__({
            "start": In(1),
            "columns": In(index_bits),
            "i_mask": In(stream.Signature(mask_width)),
            "o_col": Out(stream.Signature(col_layout)),
            "busy": Out(1),
            "issued": Out(index_bits + 1),
            "skipped": Out(index_bits + 1),
        })

    @property
    def mask_width(self) -> int:
        """Bits per mask word."""
        return self._mask_width

    @property
    def tile(self) -> int:
        """Columns per array tile (C)."""
        return self._tile

    @property
    def index_bits(self) -> int:
        """Width of column indices (N < 2**index_bits)."""
        return self._index_bits

    def elaborate(self, platform):
        m = Module()
        width, tile, bits = self.mask_width, self.tile, self.index_bits
        out = self.o_col

        columns = Signal(bits)             # N of the current layer
        base = Signal(bits + 1)            # first column of the next mask word to read
        word = Signal(width)               # hot bits of the current word not issued yet
        word_base = Signal(bits + 1)       # column of the current word's bit 0
        held_valid = Signal()              # a found hot column waits for its end markers
        held_column = Signal(bits)
        held_slot = Signal(range(max(tile, 2)))
        consumed = Signal(bits + 1)        # columns of the mask read so far
        m.d.comb += [self.skipped.eq(consumed - self.issued)]

        # --- Lowest set bit of the current word -----------------------------------------
        found = Signal()
        lowest = Signal(range(max(width, 2)))
        m.d.comb += found.eq(word.any())
        for j in reversed(range(width)):
            with m.If(word[j]):
                m.d.comb += lowest.eq(j)

        out_free = Signal()
        m.d.comb += out_free.eq(~out.valid | out.ready)
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)
        mask_done = Signal()
        m.d.comb += mask_done.eq((base >= columns) & ~found)
        m.d.comb += self.busy.eq(~mask_done | held_valid | out.valid)

        # --- Issue: a found column replaces the held one, which goes out -------------------
        with m.If(found & (~held_valid | out_free)):
            m.d.sync += [
                word.eq(word & (word - 1)),  # clear the lowest set bit
                held_valid.eq(1),
                held_column.eq(word_base + lowest),
                held_slot.eq(Mux(held_valid & (held_slot != tile - 1), held_slot + 1, 0)),
                self.issued.eq(self.issued + 1),
            ]
            with m.If(held_valid):
                m.d.sync += [out.valid.eq(1), out.payload.column.eq(held_column),
                             out.payload.slot.eq(held_slot),
                             out.payload.tile_last.eq(held_slot == tile - 1),
                             out.payload.last.eq(0)]
        # --- Flush: the mask is exhausted, the held column is the layer's last --------------
        with m.Elif(mask_done & held_valid & out_free):
            m.d.sync += [held_valid.eq(0), out.valid.eq(1),
                         out.payload.column.eq(held_column), out.payload.slot.eq(held_slot),
                         out.payload.tile_last.eq(1), out.payload.last.eq(1)]

        # --- Read the next mask word when the current one is used up ------------------------
        remaining = Signal(bits + 1)
        m.d.comb += remaining.eq(columns - base)
        in_word = Signal(range(width + 1))
        m.d.comb += in_word.eq(Mux(remaining >= width, width, remaining))
        keep = Signal(width)
        m.d.comb += keep.eq((Const(1, width + 1) << in_word) - 1)
        m.d.comb += self.i_mask.ready.eq(~found & (base < columns))
        with m.If(self.i_mask.valid & self.i_mask.ready):
            m.d.sync += [word.eq(self.i_mask.payload & keep), word_base.eq(base),
                         base.eq(base + width), consumed.eq(consumed + in_word)]

        # --- Start of a layer ---------------------------------------------------------------
        with m.If(self.start):
            m.d.sync += [columns.eq(self.columns), base.eq(0), word.eq(0), held_valid.eq(0),
                         consumed.eq(0), self.issued.eq(0)]
        return m


def skip_for(hw: HardwareConfig) -> ColumnSkip:
    """Return the skip logic of ``hw``: mask words and tiles of the array's width, column
    indices and counters wide enough for ``hw.layers.max_hidden`` columns."""
    return ColumnSkip(hw.systolic.cols, hw.systolic.cols, hw.layers.count_bits)
