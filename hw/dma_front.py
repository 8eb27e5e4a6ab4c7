"""DMA front end of the FFN top: the column-skip walk, the hot list and the address remapper.

Between the DMA instruction stream and the DMA engine sit the two column blocks of the
engine (DESIGN.md, hardware):

* at ``start`` the **column-skip logic** (:class:`~colsim.hw.skip.ColumnSkip`) walks the mask
  store over ``columns`` (N) hidden slots — in a sparse iteration the stored mask words, in a
  dense one all-hot words — and its compacted hot columns are written in order into the
  **hot list** (position k holds the slot of the k-th issued column), so that every array
  tile is filled by hot columns only; ``issued`` / ``skipped`` count them;
* each DMA instruction passes through a lookup stage and the **address remapper**
  (:class:`~colsim.hw.remap.AddressRemapper`). A run with ``remap`` set (a W1 column fill)
  names a *position* in ``column`` and the byte offset inside that column's record in
  ``base``; the front replaces ``base`` by ``w1_base + table[hot_list[column]] · w1_stride +
  offset`` (``identity``: the slot itself). A lookup waits until the walk has written that
  position. Other runs keep their ``base``.

Timing rule (the fast model's :func:`colsim.sim.fast.engines.front_waits` and
:func:`~colsim.sim.fast.engines.front_deliver` implement it): the column-skip walk reads one
mask word per cycle and pops one hot column per cycle; hot-list position ``p`` is written
two cycles after the walk popped column ``p + 1`` (or ran out of mask). The lookup stage
accepts one instruction per cycle (a W1 column run once its position is written, and not
while it still holds the previous one) and hands it to the three-stage remapper in the next
cycle the remapper moves; the remapper moves in every cycle except those in which its
output holds an instruction the DMA engine has not taken, and delivers after two more moves.

Static layouts place the columns in DRAM by their slots and the mask store holds the mask
by slot (the order the dense iteration computes), so the table is the identity for them;
it is programmable through ``i_table`` all the same.

Ports: ``i_dma`` / ``o_dma`` (instruction streams of the same layout), ``i_table``
(remapper table writes), control ``start`` (one cycle; samples ``count`` instructions to
accept, ``sparse`` and ``columns``), registers ``w1_base``, ``w1_stride``, ``identity``
(stable while instructions flow), mask store read ``mask_addr`` → ``mask_data`` (combinational),
status ``issued``, ``skipped``. Reference model: :func:`colsim.hw.program.expand_requests`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.program import ProgramFormat, program_format
from colsim.hw.remap import remapper_for
from colsim.hw.skip import skip_for

REMAP_LATENCY = 3  # stages of the address remapper


class DmaFront(wiring.Component):
    """Resolve the W1 column runs of a DMA instruction stream through skip logic + remapper."""

    def __init__(self, hw: HardwareConfig, fmt: ProgramFormat) -> None:
        if not isinstance(hw, HardwareConfig):
            raise TypeError(f"`hw` must be a HardwareConfig, not {hw!r}")
        self._hw, self._format = hw, fmt
        self._remap = remapper_for(hw)
        layers, seq = hw.layers, fmt.sequencer
        address = len(self._remap.base)  # DRAM byte addresses
        instruction = data.StructLayout(dict(fmt.dma_fields))
        super().__init__({
            "i_dma": In(stream.Signature(instruction)),
            "o_dma": Out(stream.Signature(instruction)),
            "i_table": In(stream.Signature(data.StructLayout(
                {"index": layers.index_bits, "slot": layers.index_bits}))),
            "start": In(1),
            "count": In(seq.program_bits),
            "sparse": In(1),
            "columns": In(layers.count_bits),
            "w1_base": In(address),
            "w1_stride": In(address),
            "identity": In(1),
            "mask_addr": Out(fmt.tile_bits),
            "mask_data": In(fmt.geometry.cols),
            "issued": Out(layers.count_bits + 1),
            "skipped": Out(layers.count_bits + 1),
        })

    def elaborate(self, platform):
        m = Module()
        hw, fmt = self._hw, self._format
        cols, bits = fmt.geometry.cols, hw.layers.count_bits

        # --- Walk: mask store (or all hot) -> skip logic -> hot list ---------------------
        m.submodules.skip = skip = skip_for(hw)
        sparse = Signal()
        word = Signal(fmt.tile_bits)
        with m.If(self.start):
            m.d.sync += [sparse.eq(self.sparse), word.eq(0)]
        m.d.comb += [skip.start.eq(self.start), skip.columns.eq(self.columns),
                     self.mask_addr.eq(word),
                     skip.i_mask.valid.eq(~self.start),
                     skip.i_mask.payload.eq(Mux(sparse, self.mask_data, (1 << cols) - 1)),
                     self.issued.eq(skip.issued), self.skipped.eq(skip.skipped)]
        with m.If(skip.i_mask.valid & skip.i_mask.ready):
            m.d.sync += word.eq(word + 1)
        m.submodules.hot_list = hot_list = Memory(
            shape=hw.layers.index_bits, depth=hw.layers.max_hidden, init=[])
        written = Signal(bits + 1)
        listing = hot_list.write_port()
        m.d.comb += [skip.o_col.ready.eq(1), listing.addr.eq(written),
                     listing.data.eq(skip.o_col.payload.column),
                     listing.en.eq(skip.o_col.valid)]
        with m.If(self.start):
            m.d.sync += written.eq(0)
        with m.Elif(skip.o_col.valid):
            m.d.sync += written.eq(written + 1)

        # --- Accept ``count`` instructions per start --------------------------------------
        left = Signal(fmt.sequencer.program_bits)
        with m.If(self.start):
            m.d.sync += left.eq(self.count)
        with m.Elif(self.i_dma.valid & self.i_dma.ready):
            m.d.sync += left.eq(left - 1)

        # --- Stage 1: hot list lookup (a remapped run waits for its position) ------------
        m.submodules.remap = remap = self._remap
        m.submodules.pending = pending = SyncFIFOBuffered(
            width=self.i_dma.payload.shape().size, depth=REMAP_LATENCY + 1)
        held = Signal(self.i_dma.payload.shape())
        held_valid = Signal()
        lookup = hot_list.read_port()
        incoming = self.i_dma.payload
        listed = ~incoming.remap | (written > incoming.column)
        handing = held_valid & remap.i_col.ready & pending.w_rdy
        advance = ~held_valid | handing
        m.d.comb += [self.i_dma.ready.eq(advance & left.any() & listed & ~self.start),
                     lookup.addr.eq(incoming.column), lookup.en.eq(advance)]
        with m.If(advance):
            m.d.sync += [held.eq(incoming), held_valid.eq(self.i_dma.valid & self.i_dma.ready)]

        # --- Stage 2: remapper, the instruction waiting beside it in a FIFO -------------
        m.d.comb += [
            remap.i_table.valid.eq(self.i_table.valid),
            remap.i_table.payload.eq(self.i_table.payload),
            self.i_table.ready.eq(remap.i_table.ready),
            remap.base.eq(self.w1_base), remap.stride.eq(self.w1_stride),
            remap.identity.eq(self.identity),
            remap.i_col.valid.eq(handing), pending.w_en.eq(handing),
            remap.i_col.payload.column.eq(lookup.data),
            remap.i_col.payload.offset.eq(held.base),
            pending.w_data.eq(held.as_value()),
        ]

        # --- Output: the instruction, its base replaced for a remapped run --------------
        out = data.View(self.i_dma.payload.shape(), pending.r_data)
        leaving = self.o_dma.valid & self.o_dma.ready
        m.d.comb += [
            self.o_dma.valid.eq(pending.r_rdy & remap.o_req.valid),
            self.o_dma.payload.eq(out),
            pending.r_en.eq(leaving), remap.o_req.ready.eq(leaving),
        ]
        with m.If(out.remap):
            m.d.comb += self.o_dma.payload.base.eq(remap.o_req.payload.addr)
        return m


def front_for(hw: HardwareConfig) -> DmaFront:
    """Return the front end of the top built for ``hw``."""
    return DmaFront(hw, program_format(hw))
