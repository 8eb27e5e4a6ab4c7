"""FFN engine top: the instruction-driven engines of one layer-iteration and their storage.

Three in-order engines execute the programs of :mod:`colsim.hw.program` (compiled from the
schedule, the contract shared with the fast model); each is a Component whose docstring
states its timing rule (the fast model's function for that engine points to it):

* the **DMA engine** (:class:`~colsim.hw.dma_engine.DmaEngine`, with its front end
  :class:`~colsim.hw.dma_front.DmaFront`) drives the DRAM port
  (:class:`~colsim.hw.dram_port.DramPort`) through the DMA port (:mod:`colsim.hw.dma_port`:
  the cap on unanswered requests and the channel interleave ``dma`` sets; none by default)
  and scatters read data into the buffers;
* the **array engine** (:class:`~colsim.hw.array_engine.ArrayEngine`) streams array ops
  through the systolic engine into the result queue;
* the **SIMD engine** (:class:`~colsim.hw.simd_engine.SimdEngine`) turns the queue's tiles
  into int16 rows of the output buffer and hot bits of the mask store, ``simd.lanes``
  elements per cycle (a power of two, like the array's R and C).

They exchange data through the input and weight :class:`~colsim.hw.ffn_datapath.RowBuffer`,
the :class:`~colsim.hw.ffn_datapath.OutputBuffer`, the :class:`~colsim.hw.ffn_datapath.TileStore`
and the :class:`~colsim.hw.result_queue.ResultQueue`, and synchronise through the
:class:`~colsim.hw.ffn_sync.SyncCounters` (fills and releases per buffer slot, SIMD ops ended).

Control/status: ``start`` (one cycle) with the program lengths ``n_dma``/``n_array``/
``n_simd`` and the threshold register ``tau`` begins a layer-iteration; ``busy`` is high
until every instruction has run and every transfer has completed, then ``done`` stays high
until the next start. ``start`` also samples the front end's registers: ``sparse`` (walk
the mask store; else every one of the ``columns`` slots is hot), ``columns`` (N), and the
remapper's ``w1_base`` / ``w1_stride`` / ``remap_identity`` (its table is written through
``i_table``). Counters: ``cycles`` (start to done), ``array_busy`` (cycles an array op ran
unstalled), ``array_stall`` (cycles the array waited for operands, a draining tile or a
result-queue entry; each cycle counts in one of the two), ``simd_busy``, and the skip
logic's ``hot_issued`` / ``hot_skipped``. ``mask_row`` selects a row of the mask store (the
hot bits of slots ``mask_row·C ..``), read on ``mask_bits`` and, while idle, written from
``mask_data`` when ``mask_write`` is high (the host programs the mask of a sparse iteration;
a dense FFN-Reuse iteration derives it).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from colsim.compat import silence_unused
from colsim.config import HardwareConfig
from colsim.errors import ConfigError
from colsim.hw.array_engine import ArrayEngine
from colsim.hw.dma_engine import DmaEngine
from colsim.hw.dma_port import dma_port
from colsim.hw.dram_port import REQUEST, RESPONSE, DramPort
from colsim.hw.ffn_datapath import (
    ELEMENT,
    OutputBuffer,
    RowBuffer,
    TileStore,
    buffer_shapes,
)
from colsim.hw.ffn_sync import SyncCounters, buffer_slots
from colsim.hw.program import Fields, ProgramFormat, program_format
from colsim.hw.remap_model import address_bits
from colsim.hw.result_queue import ResultQueue
from colsim.hw.simd_engine import SimdEngine


def _layout(fields: Fields) -> data.StructLayout:
    return data.StructLayout(dict(fields))


class FfnTop(wiring.Component):
    """The FFN engine top for hardware ``hw`` (its ``dma`` and ``sequencer`` size the control).

    Ports: ``i_dma``/``i_array``/``i_simd`` (instruction streams), ``o_req`` / ``i_resp``
    (the :class:`~colsim.hw.dram_port.DramPort`), control ``start``, ``n_dma``, ``n_array``,
    ``n_simd``, ``tau``, ``sparse``, ``columns``, ``w1_base``, ``w1_stride``,
    ``remap_identity``, ``i_table`` (stream), ``mask_row``, ``mask_write``, ``mask_data``;
    status ``busy``, ``done``, ``cycles``, ``array_busy``, ``array_stall``, ``simd_busy``,
    ``hot_issued``, ``hot_skipped``, ``mask_bits``.
    """

    def __init__(self, hw: HardwareConfig) -> None:
        if not isinstance(hw, HardwareConfig):
            raise TypeError(f"`hw` must be a HardwareConfig, not {hw!r}")
        try:
            self._hw, self._format = hw, program_format(hw)
            self._check_banks()
        except ConfigError:
            silence_unused(self)  # never built, so never "unused"
            raise
        fmt, geo, seq = self._format, self._format.geometry, hw.sequencer
        self._port = DramPort(hw)
        status = seq.status_bits
        super().__init__({
            "i_dma": In(stream.Signature(_layout(fmt.dma_fields))),
            "i_array": In(stream.Signature(_layout(fmt.array_fields))),
            "i_simd": In(stream.Signature(_layout(fmt.simd_fields))),
            **self._port.members,
            "start": In(1),
            "n_dma": In(seq.program_bits),
            "n_array": In(seq.program_bits),
            "n_simd": In(seq.program_bits),
            "tau": In(signed(ELEMENT)),
            "sparse": In(1),
            "columns": In(hw.layers.count_bits),
            "w1_base": In(self.remap_address_bits),
            "w1_stride": In(self.remap_address_bits),
            "remap_identity": In(1),
            "i_table": In(stream.Signature(data.StructLayout(
                {"index": hw.layers.index_bits, "slot": hw.layers.index_bits}))),
            "mask_row": In(fmt.tile_bits),
            "mask_write": In(1),
            "mask_data": In(geo.cols),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(status),
            "array_busy": Out(status),
            "array_stall": Out(status),
            "simd_busy": Out(status),
            "hot_issued": Out(hw.layers.count_bits + 1),
            "hot_skipped": Out(hw.layers.count_bits + 1),
            "mask_bits": Out(geo.cols),
        })

    @property
    def remap_address_bits(self) -> int:
        """Width of the remapper's base and stride registers (DRAM byte addresses)."""
        return address_bits(self._hw.dram_config)

    @property
    def format(self) -> ProgramFormat:
        """The instruction format the top decodes."""
        return self._format

    @property
    def dram_port(self) -> DramPort:
        """The signature of the top's DRAM port (``o_req`` / ``i_resp``)."""
        return self._port

    @property
    def tag_layout(self) -> data.StructLayout:
        """The request tag: in-flight entry and where the beat's data goes on chip."""
        return self._port.tag_layout

    @property
    def slots(self) -> tuple[int, int, int]:
        """Slots of the input, weight and output buffers."""
        return buffer_slots(self._hw)

    def _check_banks(self) -> None:
        geo = self._format.geometry
        for name, value in (("systolic.rows", geo.rows), ("systolic.cols", geo.cols),
                            ("simd.lanes", self._hw.simd.lanes)):
            if value & (value - 1):
                raise ConfigError(f"`{name}` must be a power of two for the FFN top, not {value}")
        for name, rows, banks in (("input", geo.input_rows, geo.elements // geo.rows),
                                  ("weight", geo.weight_rows, geo.elements)):
            if rows % banks:
                raise ConfigError(f"`sram.{name}` slots of {rows} rows must be a multiple of "
                                  f"the {banks} rows one DRAM beat fills")

    def elaborate(self, platform):
        m = Module()
        hw, fmt = self._hw, self._format
        geo, seq = fmt.geometry, hw.sequencer

        # --- Engines, storage and the counters they synchronise through ------------------
        m.submodules.dma = dma = DmaEngine(hw, fmt)
        m.submodules.array = array = ArrayEngine(hw, fmt)
        m.submodules.simd = simd = SimdEngine(hw, fmt)
        m.submodules.sync = sync = SyncCounters(self.slots, sync_bits=seq.sync_bits,
                                                slot_bits=fmt.slot_bits)
        m.submodules.queue = queue = ResultQueue(seq.result_queue)
        input_shape, weight_shape, output_shape = buffer_shapes(hw, fmt)
        m.submodules.input_buffer = input_buffer = RowBuffer(input_shape)
        m.submodules.weight_buffer = weight_buffer = RowBuffer(weight_shape)
        m.submodules.output_buffer = output_buffer = OutputBuffer(output_shape)
        m.submodules.tiles = tiles = TileStore(entries=seq.result_queue,
                                               beats=output_shape.beats)
        m.submodules.mask_store = mask_store = Memory(
            shape=unsigned(geo.cols), depth=1 << fmt.tile_bits, init=[])

        # --- Control: start, running, done, the cycle counter ----------------------------
        running = Signal()
        engines = (dma, array, simd)
        m.d.comb += self.busy.eq(running)
        for engine, count in zip(engines, (self.n_dma, self.n_array, self.n_simd),
                                 strict=True):
            m.d.comb += [engine.start.eq(self.start), engine.running.eq(running),
                         engine.count.eq(count)]
        m.d.comb += [sync.start.eq(self.start), queue.start.eq(self.start)]
        with m.If(self.start):
            m.d.sync += [running.eq(1), self.done.eq(0), self.cycles.eq(0)]
        with m.Elif(running):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(running & dma.idle & array.idle & simd.idle & ~self.start):
            m.d.sync += [running.eq(0), self.done.eq(1)]
        m.d.comb += [self.array_busy.eq(array.busy), self.array_stall.eq(array.stall),
                     self.simd_busy.eq(simd.busy)]

        # --- DMA engine: instructions, DRAM port, front-end registers, buffer writes ------
        wiring.connect(m, wiring.flipped(self.i_dma), dma.i_dma)
        wiring.connect(m, wiring.flipped(self.i_table), dma.i_table)
        requests, responses = dma_port(m, hw, getattr(self, REQUEST), getattr(self, RESPONSE))
        wiring.connect(m, requests, getattr(dma.dram, REQUEST))
        wiring.connect(m, responses, getattr(dma.dram, RESPONSE))
        mask_walk = mask_store.read_port(domain="comb")
        m.d.comb += [dma.sparse.eq(self.sparse), dma.columns.eq(self.columns),
                     dma.w1_base.eq(self.w1_base), dma.w1_stride.eq(self.w1_stride),
                     dma.identity.eq(self.remap_identity),
                     mask_walk.addr.eq(dma.mask_addr), dma.mask_data.eq(mask_walk.data),
                     self.hot_issued.eq(dma.hot_issued), self.hot_skipped.eq(dma.hot_skipped)]
        wiring.connect(m, dma.input, input_buffer.write)
        wiring.connect(m, dma.weight, weight_buffer.write)
        wiring.connect(m, dma.output, output_buffer.dma)

        # --- Array engine: operands, result queue, drained tiles -------------------------
        wiring.connect(m, wiring.flipped(self.i_array), array.i_array)
        wiring.connect(m, array.input, input_buffer.read)
        wiring.connect(m, array.weight, weight_buffer.read)
        wiring.connect(m, array.queue, queue.array)
        wiring.connect(m, array.o_c, tiles.i_rows)
        wiring.connect(m, queue.drain, tiles.drain)

        # --- SIMD engine: tiles, output buffer, mask store -------------------------------
        wiring.connect(m, wiring.flipped(self.i_simd), simd.i_simd)
        wiring.connect(m, simd.queue, queue.simd)
        wiring.connect(m, simd.tiles, tiles.simd)
        wiring.connect(m, simd.output, output_buffer.simd)
        m.d.comb += simd.tau.eq(self.tau)
        mask_write = mask_store.write_port()
        mask_old = mask_store.read_port(domain="comb")
        mask_host = mask_store.read_port(domain="comb")
        m.d.comb += [mask_old.addr.eq(simd.mask.tile), simd.mask.old.eq(mask_old.data),
                     mask_host.addr.eq(self.mask_row), self.mask_bits.eq(mask_host.data)]
        with m.If(simd.mask.write):
            m.d.comb += [mask_write.addr.eq(simd.mask.tile), mask_write.en.eq(1),
                         mask_write.data.eq(simd.mask.data)]
        with m.Elif(self.mask_write & ~running):
            m.d.comb += [mask_write.addr.eq(self.mask_row), mask_write.en.eq(1),
                         mask_write.data.eq(self.mask_data)]

        # --- Synchronisation: engine events -> counters -> engine gates -------------------
        m.d.comb += [sync.retire.eq(dma.retire), sync.array_release.eq(array.release),
                     sync.simd_release.eq(simd.release), sync.simd_end.eq(simd.end)]
        wiring.connect(m, sync.counts, dma.counts, array.counts, simd.counts)
        return m
