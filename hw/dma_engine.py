"""The FFN top's DMA engine: its front end, the in-flight transfer table and the DRAM port.

Timing rule (the fast model's :func:`colsim.sim.fast.engines.dma_take`,
:func:`~colsim.sim.fast.engines.dma_first_request`, :func:`~colsim.sim.fast.engines.entry_free`,
:func:`~colsim.sim.fast.engines.dma_port_free`, :func:`~colsim.sim.fast.engines.response_cycle`
and :func:`~colsim.sim.fast.engines.retire_visible` implement it):

* **Instructions.** The engine takes the next run from the front end
  (:class:`~colsim.hw.dma_front.DmaFront`, whose own rule its docstring gives) in a FETCH
  cycle or in the cycle of its current transfer's last request, and holds it from the next
  cycle. A transfer's first run waits one GATE cycle at least; a continuation run (not
  ``first``) issues at once.
* **Gate.** A transfer passes its gate in the first cycle in which its slot has been
  released ``wait`` times (a read; a write: ``wait`` SIMD ops have ended), (a ``barrier``)
  no transfer is in flight, and an in-flight table entry is free (at most
  ``dma.transfers_in_flight`` transfers between gate and retirement). The gate allocates
  the entry.
* **Requests.** From the cycle after the gate the engine presents one request per cycle
  (a run's ``count`` beats, a transfer's runs back to back; each one DRAM transaction, the
  first marked ``first`` when the port groups them into DMA requests); a request the DRAM
  refuses is presented again until accepted, and the next follows in the cycle after the
  acceptance.
  After a transfer's last request the engine gates the next transfer (an idle cycle
  between transfers).
* **Responses.** The memory agent answers a request completing in DRAM cycle ``d`` in the
  first core cycle that starts after ``d`` began, at most one response per core cycle, in
  completion order (ties: the earlier last command first;
  :mod:`colsim.testbench.ffn_memory`). The response port is registered: a response
  presented in cycle ``t`` is scattered into its buffer slot (:mod:`colsim.hw.ffn_datapath`)
  at the edge ending cycle ``t + 1``, and the transfer's last response retires it then
  (``retire``), so its fill or release count and its free entry are visible from cycle
  ``t + 2``.

Ports: ``i_dma`` (instruction stream), ``i_table`` (remapper table writes), ``dram``
(:class:`~colsim.hw.dram_port.DramPort`), control ``start``, ``running``, ``count`` and the
front end's registers (``sparse``, ``columns``, ``w1_base``, ``w1_stride``, ``identity``;
see :class:`~colsim.hw.dma_front.DmaFront`), mask store read ``mask_addr`` -> ``mask_data``,
``counts`` (:func:`~colsim.hw.ffn_sync.counts_signature`), the event ``retire``, buffer
writes ``input``, ``weight`` (row buffers) and ``output`` (cold fills, write beats), status
``hot_issued``, ``hot_skipped`` and ``idle`` (every instruction taken, none in flight).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.dma_front import DmaFront
from colsim.hw.dram_port import DramPort
from colsim.hw.ffn_datapath import buffer_shapes, equals, materialise, select
from colsim.hw.ffn_sync import (
    BUFFER_NAMES,
    INPUT,
    OUTPUT,
    WEIGHT,
    EngineState,
    InstructionFetch,
    at_least,
    counts_of,
    engine_control,
    in_state,
    retire_layout,
)
from colsim.hw.onchip import COLUMN, ROWS
from colsim.hw.program import ProgramFormat
from colsim.hw.remap_model import address_bits


class DmaEngine(wiring.Component):
    """The DMA engine of the FFN top for ``hw`` (see the module docstring)."""

    def __init__(self, hw: HardwareConfig, fmt: ProgramFormat) -> None:
        self._hw, self._format = hw, fmt
        layers = hw.layers
        self._input, self._weight, self._output = buffer_shapes(hw, fmt)
        remap_bits = address_bits(hw.dram_config)
        super().__init__({
            **engine_control(hw, "i_dma", fmt.dma_fields),
            "i_table": In(stream.Signature(data.StructLayout(
                {"index": layers.index_bits, "slot": layers.index_bits}))),
            "dram": Out(DramPort(hw)),
            "sparse": In(1),
            "columns": In(layers.count_bits),
            "w1_base": In(remap_bits),
            "w1_stride": In(remap_bits),
            "identity": In(1),
            "mask_addr": Out(fmt.tile_bits),
            "mask_data": In(fmt.geometry.cols),
            "retire": Out(retire_layout(fmt.slot_bits)),
            "input": Out(self._input.write_signature()),
            "weight": Out(self._weight.write_signature()),
            "output": Out(self._output.dma_signature()),
            "hot_issued": Out(layers.count_bits + 1),
            "hot_skipped": Out(layers.count_bits + 1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw, fmt = self._hw, self._format
        seq, tag_bits = hw.sequencer, hw.dma.tag_bits
        sync_bits, entries = seq.sync_bits, hw.dma.transfers_in_flight

        # --- Front end: skip walk over the mask store, hot list, remapper ----------------
        m.submodules.front = front = DmaFront(hw, fmt)
        wiring.connect(m, wiring.flipped(self.i_dma), front.i_dma)
        wiring.connect(m, wiring.flipped(self.i_table), front.i_table)
        m.d.comb += [front.start.eq(self.start), front.count.eq(self.count),
                     front.sparse.eq(self.sparse), front.columns.eq(self.columns),
                     front.w1_base.eq(self.w1_base), front.w1_stride.eq(self.w1_stride),
                     front.identity.eq(self.identity),
                     self.mask_addr.eq(front.mask_addr), front.mask_data.eq(self.mask_data),
                     self.hot_issued.eq(front.issued), self.hot_skipped.eq(front.skipped)]
        instructions = front.o_dma
        dma = Signal(instructions.payload.shape())
        state = Signal(EngineState)
        fetch = InstructionFetch(m, instructions, dma, state, start=self.start,
                                 running=self.running, count=self.count)

        # --- In-flight transfer table; responses count it down and deliver data ----------
        t_valid = Signal(entries)
        table = {
            "left": [Signal(seq.count_bits, name=f"t_left_{e}") for e in range(entries)],
            "buffer": [Signal(2, name=f"t_buffer_{e}") for e in range(entries)],
            "slot": [Signal(fmt.slot_bits, name=f"t_slot_{e}") for e in range(entries)],
            "read": [Signal(name=f"t_read_{e}") for e in range(entries)],
            "release": [Signal(name=f"t_release_{e}") for e in range(entries)],
        }
        m.d.comb += self.idle.eq(fetch.idle & ~t_valid.any())

        # Responses are registered at the boundary (one cycle), so the scatter logic below
        # is driven by flip-flops, not by the port.
        port = self.dram.i_resp
        m.d.comb += port.ready.eq(1)
        resp_valid = Signal(name="resp_valid")
        resp = Signal(port.payload.shape(), name="resp")
        m.d.sync += [resp_valid.eq(port.valid), resp.eq(port.payload)]
        resp_tag = resp.tag.entry
        # The responding transfer's table fields.
        t_left, t_buffer, t_slot, t_read, t_release = (
            materialise(m, select(table[key], resp_tag), f"resp_{key}")
            for key in ("left", "buffer", "slot", "read", "release"))
        retire = Signal()  # this response completes its transfer
        m.d.comb += retire.eq(resp_valid & equals(t_left, 1))
        m.d.comb += [self.retire.fill.eq(retire & t_read),
                     self.retire.release.eq(retire & t_release),
                     self.retire.buffer.eq(t_buffer), self.retire.slot.eq(t_slot)]
        free_mask, alloc_mask = Signal(entries), Signal(entries)
        allocate = Signal()  # the DMA engine takes ``free_entry`` for a new transfer
        free_entry, has_free = Signal(tag_bits), Signal()
        for e in reversed(range(entries)):
            with m.If(~t_valid[e]):
                m.d.comb += [free_entry.eq(e), has_free.eq(1)]
        for e in range(entries):
            m.d.comb += free_mask[e].eq(retire & equals(resp_tag, e))
            with m.If(allocate & equals(free_entry, e)):
                m.d.sync += [table["left"][e].eq(dma.total), table["buffer"][e].eq(dma.buffer),
                             table["slot"][e].eq(dma.slot), table["read"][e].eq(~dma.write),
                             table["release"][e].eq(dma.release_on_done)]
            with m.Elif(resp_valid & equals(resp_tag, e)):
                m.d.sync += table["left"][e].eq(table["left"][e] - 1)
        m.d.sync += t_valid.eq((t_valid | alloc_mask) & ~free_mask)

        # --- Scatter: read data into the input, weight or output buffer -------------------
        arriving = materialise(m, resp_valid & t_read, "resp_arriving")
        into = {b: arriving & equals(t_buffer, b) for b in (INPUT, WEIGHT, OUTPUT)}
        for buffer, enable in ((self.input, into[INPUT]), (self.weight, into[WEIGHT])):
            m.d.comb += [buffer.gather.en.eq(enable & equals(resp.tag.dest, ROWS)),
                         buffer.gather.slot.eq(t_slot), buffer.gather.row.eq(resp.tag.row),
                         buffer.gather.mask.eq(resp.tag.mask), buffer.gather.data.eq(resp.data)]
        column = self.weight.column
        m.d.comb += [column.en.eq(into[WEIGHT] & equals(resp.tag.dest, COLUMN)),
                     column.slot.eq(t_slot), column.row.eq(resp.tag.row),
                     column.lane.eq(resp.tag.lane), column.data.eq(resp.data)]
        fill = self.output.fill
        m.d.comb += [fill.en.eq(into[OUTPUT]), fill.slot.eq(t_slot), fill.row.eq(resp.tag.row),
                     fill.width.eq(resp.tag.width), fill.data.eq(resp.data)]

        # --- Issue: FETCH -> GATE -> RUN (one request per cycle) -------------------------
        run_left = Signal(seq.count_bits)
        address = Signal(seq.address_bits)
        dma_row = Signal(fmt.row_bits)
        tag = Signal(tag_bits)
        # The next request is its transfer's first (read by a DMA port grouping requests).
        grouped = "first" in dict(self.dram.o_req.payload.shape().members)
        opening = Signal() if grouped else None
        read_ok = Signal()
        for b in range(len(BUFFER_NAMES)):
            with m.If(equals(dma.buffer, b)):
                m.d.comb += read_ok.eq(at_least(select(counts_of(self.counts, "released", b),
                                                       dma.slot), dma.wait, sync_bits))
        gate_ok = Signal()
        m.d.comb += gate_ok.eq(
            ~dma.first
            | (has_free & (~dma.barrier | ~t_valid.any())
               & Mux(dma.write, at_least(self.counts.simd_done, dma.wait, sync_bits), read_ok))
        )

        def take_next_run():
            """Take the next run; a transfer's continuation run starts issuing at once."""
            fetch.take_next()
            payload = instructions.payload
            with m.If(instructions.valid & fetch.more & ~payload.first):
                m.d.sync += [address.eq(payload.base), run_left.eq(payload.count),
                             dma_row.eq(payload.row), state.eq(EngineState.RUN)]

        with m.If(in_state(state, EngineState.FETCH)):
            m.d.comb += fetch.fetching.eq(1)
            take_next_run()
        with m.If(in_state(state, EngineState.GATE) & gate_ok):
            m.d.sync += [address.eq(dma.base), run_left.eq(dma.count), dma_row.eq(dma.row),
                         state.eq(EngineState.RUN)]
            with m.If(dma.first):
                m.d.comb += [allocate.eq(1), alloc_mask.eq(1 << free_entry)]
                m.d.sync += tag.eq(free_entry)
                if grouped:
                    m.d.sync += opening.eq(1)
        beat = self.output.beat
        m.d.comb += [beat.dest.eq(dma.dest), beat.slot.eq(dma.slot), beat.row.eq(dma_row),
                     beat.width.eq(dma.width)]
        request = self.dram.o_req
        with m.If(in_state(state, EngineState.RUN)):
            payload = request.payload
            m.d.comb += [request.valid.eq(1), payload.addr.eq(address),
                         payload.write.eq(dma.write), payload.tag.entry.eq(tag),
                         payload.tag.dest.eq(dma.dest), payload.tag.row.eq(dma_row),
                         payload.tag.mask.eq(dma.mask), payload.tag.lane.eq(dma.lane),
                         payload.tag.width.eq(dma.width)]
            with m.If(dma.write):
                m.d.comb += [payload.data.eq(self.output.data),
                             payload.strobe.eq(self.output.strobe)]
            if grouped:  # the DMA port writes the request's slot into the tag
                m.d.comb += [payload.first.eq(opening), payload.tag.slot.eq(0)]
            with m.If(request.ready):
                m.d.sync += [address.eq(address + dma.stride), run_left.eq(run_left - 1),
                             dma_row.eq(dma_row + dma.row_step)]
                if grouped:
                    m.d.sync += opening.eq(0)
                with m.If(equals(run_left, 1)):
                    take_next_run()
        return m
