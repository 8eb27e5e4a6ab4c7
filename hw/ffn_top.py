"""FFN engine top: the instruction-driven sequencer of one layer-iteration and its datapath.

Three in-order engines execute the programs of :mod:`colsim.hw.program` (compiled from the
schedule, the contract shared with the fast model):

* the **DMA front end** (:mod:`colsim.hw.dma_front`) walks the mask store with the
  column-skip logic into a hot list at ``start`` and resolves the address of every W1
  column run through the hot list and the address remapper;
* the **DMA engine** expands transfer runs into DRAM requests (address, write, tag, and for
  writes the data beat with byte strobes) in the schedule's stream order, after each
  transfer's gate (slot release, producing SIMD op, barrier) and once an in-flight table
  entry is free. The tag names the entry and where the beat's data goes on chip
  (:mod:`colsim.hw.onchip`); every response (one per transaction, any order) carries it
  back with the read data, which is scattered into the buffer slot (in the cycle after the
  response is presented: the port is registered), and counts the transfer down until it
  completes. Requests and responses pass the DMA port (:mod:`colsim.hw.dma_port`: the cap
  on unanswered requests and the channel interleave ``dma`` sets; none by default);
* the **array engine** runs each array op once the input and weight fills it needs have
  completed: it streams its K steps (rows ``a_row + s`` / ``b_row + s`` of its slots) into
  the systolic engine, one per cycle, for the op's scheduled cycles (K plus fill/drain
  overhead) or until its last step is accepted, whichever is later; the last step of a tile
  waits until the previous tile has drained and for a free result-queue entry, whose part
  (0 or 1) the tile's rows fill when the array drains it. An op that ends the last tile of a
  SIMD op pushes the entry;
* the **SIMD engine** runs each SIMD op once its entry's tiles have arrived, its cold tile
  has been read and its output slot has been released: it feeds the entry's R tile rows
  through the SIMD unit (GELU / GEGLU / requantise / add cold; lanes = C), writes the int16
  rows into the output slot's result region (and, in FFN-Reuse's dense iteration, the cold
  part into its cold region), ORs the hot bits of each column into the mask store, and
  finishes after its scheduled cycles or when its last row is written, whichever is later.

Each engine spends at least one cycle gating an instruction and takes the next one in the
last cycle of the current one (the DMA engine continues a transfer's next run at once).
These rules, cycle by cycle, are :mod:`colsim.sim.fast.engines` (the fast model runs them).

Control/status: ``start`` (one cycle) with the program lengths ``n_dma``/``n_array``/
``n_simd`` and the threshold register ``tau`` begins a layer-iteration; ``busy`` is high
until every instruction has run and every transfer has completed, then ``done`` stays high
until the next start. ``start`` also samples the front end's registers: ``sparse`` (walk
the mask store; else every one of the ``columns`` slots is hot), ``columns`` (N), and the
remapper's ``w1_base`` / ``w1_stride`` / ``remap_identity`` (its table is written through
``i_table``). Counters: ``cycles`` (start to done), ``array_busy`` (cycles an array op ran
unstalled), ``array_stall`` (cycles the array waited for operands, a draining tile or a result-queue
entry; each cycle counts in one of the two),
``simd_busy``, and the skip logic's ``hot_issued`` / ``hot_skipped``. ``mask_row`` selects a
row of the mask store (the hot bits of slots ``mask_row·C ..``), read on ``mask_bits`` and,
while idle, written from ``mask_data`` when ``mask_write`` is high (the host programs the
mask of a sparse iteration; a dense FFN-Reuse iteration derives it).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from colsim.compat import silence_unused
from colsim.config import HardwareConfig
from colsim.errors import ConfigError
from colsim.hw.dma_front import DmaFront
from colsim.hw.dma_port import dma_port
from colsim.hw.ffn_datapath import (
    ELEMENT,
    RegionFile,
    RowBuffer,
    TileStore,
    materialise,
    select,
)
from colsim.hw.ffn_datapath import equals as _equals
from colsim.hw.onchip import COLD, COLUMN, RESULT, ROWS
from colsim.hw.program import B_COLD, B_PART0, Fields, ProgramFormat, program_format
from colsim.hw.remap_model import address_bits
from colsim.hw.simd import SimdUnit
from colsim.hw.systolic import SystolicEngine

N_BUFFERS = 3
CLAIMS = 4  # tiles between their last step and their last row (the array holds at most 2)
INPUT, WEIGHT, OUTPUT = range(N_BUFFERS)
FETCH, GATE, RUN = range(3)  # engine states (the DMA engine's RUN issues requests)


def _layout(fields: Fields) -> data.StructLayout:
    return data.StructLayout(dict(fields))


def _at_most_one(value):
    """Return ``value <= 1`` for an unsigned value."""
    return ~value[1:].any() if len(value) > 1 else Const(1, 1)


def _at_least(counter, target, width: int):
    """Return ``counter >= target`` for modular counters that never lag by 2**(width-1)."""
    return ~(counter - target)[width - 1]


class FfnTop(wiring.Component):
    """The FFN engine top for hardware ``hw`` (its ``dma`` and ``sequencer`` size the control).

    Ports: ``i_dma``/``i_array``/``i_simd`` (instruction streams), ``o_req`` (stream of
    {addr, write, tag, data, strobe}), ``i_resp`` (stream of {tag, data}, one beat per
    completed transaction, always ready; ``data`` is read data), control ``start``,
    ``n_dma``, ``n_array``, ``n_simd``, ``tau``, ``sparse``, ``columns``, ``w1_base``,
    ``w1_stride``, ``remap_identity``, ``i_table`` (stream), ``mask_row``, ``mask_write``,
    ``mask_data``; status ``busy``, ``done``, ``cycles``, ``array_busy``, ``array_stall``,
    ``simd_busy``, ``hot_issued``, ``hot_skipped``, ``mask_bits``.
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
        beat = geo.elements * ELEMENT
        request = data.StructLayout({
            "addr": seq.address_bits, "write": 1, "tag": self.tag_layout,
            "data": beat, "strobe": beat // 8,
        })
        status = seq.status_bits
        super().__init__({
            "i_dma": In(stream.Signature(_layout(fmt.dma_fields))),
            "i_array": In(stream.Signature(_layout(fmt.array_fields))),
            "i_simd": In(stream.Signature(_layout(fmt.simd_fields))),
            "o_req": Out(stream.Signature(request)),
            "i_resp": In(stream.Signature(data.StructLayout({"tag": self.tag_layout,
                                                             "data": beat}))),
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
    def tag_layout(self) -> data.StructLayout:
        """The request tag: in-flight entry and where the beat's data goes on chip."""
        fmt = self._format
        return data.StructLayout({
            "entry": self._hw.dma.tag_bits, "dest": 2, "row": fmt.row_bits,
            "mask": fmt.geometry.segments, "lane": fmt.lane_bits, "width": fmt.width_bits,
        })

    @property
    def slots(self) -> tuple[int, int, int]:
        """Slots of the input, weight and output buffers."""
        sram = self._hw.sram
        return (sram.input.slots, sram.weight.slots, sram.output.slots)

    def _check_banks(self) -> None:
        geo = self._format.geometry
        for name, value in (("systolic.rows", geo.rows), ("systolic.cols", geo.cols)):
            if value & (value - 1):
                raise ConfigError(f"`{name}` must be a power of two for the FFN top, not {value}")
        for name, rows, banks in (("input", geo.input_rows, geo.elements // geo.rows),
                                  ("weight", geo.weight_rows, geo.elements)):
            if rows % banks:
                raise ConfigError(f"`sram.{name}` slots of {rows} rows must be a multiple of "
                                  f"the {banks} rows one DRAM beat fills")

    def elaborate(self, platform):
        m = Module()
        geo, hw = self._format.geometry, self._hw
        seq, tag_bits = hw.sequencer, hw.dma.tag_bits
        sync_bits, entries = seq.sync_bits, hw.dma.transfers_in_flight
        rows, cols, elements = geo.rows, geo.cols, geo.elements

        # --- Control: start, instruction counts, status counters ------------------------
        running = Signal()
        m.d.comb += self.busy.eq(running)
        engines = ("dma", "array", "simd")
        taken = {name: Signal(seq.program_bits, name=f"taken_{name}") for name in engines}
        limits = {"dma": self.n_dma, "array": self.n_array, "simd": self.n_simd}
        more = {name: running & (taken[name] != limits[name]) for name in engines}
        fetching = {name: Signal(name=f"{name}_fetching") for name in engines}
        with m.If(self.start):
            m.d.sync += [running.eq(1), self.done.eq(0), self.cycles.eq(0),
                         self.array_busy.eq(0), self.array_stall.eq(0), self.simd_busy.eq(0)]
            m.d.sync += [t.eq(0) for t in taken.values()]
        with m.Elif(running):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        # --- Synchronisation counters per (buffer, slot) ---------------------------------
        def per_slot(prefix, width=1):
            return [[Signal(width, name=f"{prefix}_{b}_{s}") for s in range(n)]
                    for b, n in enumerate(self.slots)]

        # ``released`` = releases on completion + releases by a finishing op (two counters,
        # since both may happen in one cycle).
        filled = per_slot("filled", sync_bits)
        released_done = per_slot("released_done", sync_bits)
        released_op = per_slot("released_op", sync_bits)
        released = per_slot("released", sync_bits)
        fill_inc = per_slot("fill_inc")
        done_release, op_release = per_slot("done_release"), per_slot("op_release")
        for b in range(N_BUFFERS):
            for s in range(self.slots[b]):
                m.d.comb += released[b][s].eq(released_done[b][s] + released_op[b][s])
                counters = ((filled, fill_inc), (released_done, done_release),
                            (released_op, op_release))
                for counter, increment in counters:
                    with m.If(self.start):
                        m.d.sync += counter[b][s].eq(0)
                    with m.Elif(increment[b][s]):
                        m.d.sync += counter[b][s].eq(counter[b][s] + 1)
        simd_done = Signal(sync_bits)
        with m.If(self.start):
            m.d.sync += simd_done.eq(0)
        slot_bits = self._format.slot_bits

        def pick(table, buffer, slot):
            """Return the counter of ``buffer`` (a constant) selected by the ``slot`` signal."""
            return select(table[buffer], slot)

        # --- Storage ----------------------------------------------------------------------
        input_buffer = RowBuffer(m, "input", slots=self.slots[INPUT], rows=geo.input_rows,
                                 lanes=rows, banks=elements // rows)
        weight_buffer = RowBuffer(m, "weight", slots=self.slots[WEIGHT], rows=geo.weight_rows,
                                  lanes=cols, banks=elements)
        result = RegionFile("result", slots=self.slots[OUTPUT], cols=cols, rows=rows,
                            bits=ELEMENT)
        cold = RegionFile("cold", slots=self.slots[OUTPUT], cols=cols, rows=rows, bits=32)
        queue = _ResultQueue(m, seq.result_queue, reset=self.start)
        tiles = TileStore(m, entries=seq.result_queue, rows=rows, cols=cols)
        m.submodules.mask_store = mask_store = Memory(
            shape=unsigned(cols), depth=1 << self._format.tile_bits, init=[])
        mask_write = mask_store.write_port()
        mask_old = mask_store.read_port(domain="comb")
        mask_host = mask_store.read_port(domain="comb")
        mask_walk = mask_store.read_port(domain="comb")
        m.d.comb += [mask_host.addr.eq(self.mask_row), self.mask_bits.eq(mask_host.data)]

        # --- DMA front end: skip walk over the mask store, hot list, remapper ------------
        m.submodules.front = front = DmaFront(hw, self._format)
        wiring.connect(m, wiring.flipped(self.i_dma), front.i_dma)
        wiring.connect(m, wiring.flipped(self.i_table), front.i_table)
        m.d.comb += [front.start.eq(self.start), front.count.eq(self.n_dma),
                     front.sparse.eq(self.sparse), front.columns.eq(self.columns),
                     front.w1_base.eq(self.w1_base), front.w1_stride.eq(self.w1_stride),
                     front.identity.eq(self.remap_identity),
                     mask_walk.addr.eq(front.mask_addr), front.mask_data.eq(mask_walk.data),
                     self.hot_issued.eq(front.issued), self.hot_skipped.eq(front.skipped)]
        instructions = front.o_dma

        # --- In-flight transfer table; responses count it down and deliver data ----------
        dma = Signal(instructions.payload.shape())
        t_valid = Signal(entries)
        table = {
            "left": [Signal(seq.count_bits, name=f"t_left_{e}") for e in range(entries)],
            "buffer": [Signal(2, name=f"t_buffer_{e}") for e in range(entries)],
            "slot": [Signal(slot_bits, name=f"t_slot_{e}") for e in range(entries)],
            "read": [Signal(name=f"t_read_{e}") for e in range(entries)],
            "release": [Signal(name=f"t_release_{e}") for e in range(entries)],
        }

        # Responses are registered at the boundary (one cycle), so the scatter logic below
        # is driven by flip-flops, not by the port.
        dram_req, dram_resp = dma_port(m, hw, self.o_req, self.i_resp)
        m.d.comb += dram_resp.ready.eq(1)
        resp_valid = Signal(name="resp_valid")
        resp = Signal(self.i_resp.payload.shape(), name="resp")
        m.d.sync += [resp_valid.eq(dram_resp.valid), resp.eq(dram_resp.payload)]
        resp_tag = resp.tag.entry
        # The responding transfer's table fields.
        t_left, t_buffer, t_slot, t_read, t_release = (
            materialise(m, select(table[key], resp_tag), f"resp_{key}")
            for key in ("left", "buffer", "slot", "read", "release"))
        retire = Signal()  # this response completes its transfer
        m.d.comb += retire.eq(resp_valid & _equals(t_left, 1))
        free_mask, alloc_mask = Signal(entries), Signal(entries)
        allocate = Signal()  # the DMA engine takes ``free_entry`` for a new transfer
        free_entry, has_free = Signal(tag_bits), Signal()
        for e in reversed(range(entries)):
            with m.If(~t_valid[e]):
                m.d.comb += [free_entry.eq(e), has_free.eq(1)]
        for e in range(entries):
            m.d.comb += free_mask[e].eq(retire & _equals(resp_tag, e))
            with m.If(allocate & _equals(free_entry, e)):
                m.d.sync += [table["left"][e].eq(dma.total), table["buffer"][e].eq(dma.buffer),
                             table["slot"][e].eq(dma.slot), table["read"][e].eq(~dma.write),
                             table["release"][e].eq(dma.release_on_done)]
            with m.Elif(resp_valid & _equals(resp_tag, e)):
                m.d.sync += table["left"][e].eq(table["left"][e] - 1)
        m.d.sync += t_valid.eq((t_valid | alloc_mask) & ~free_mask)
        for b in range(N_BUFFERS):
            for s in range(self.slots[b]):
                here = retire & _equals(t_buffer, b) & _equals(t_slot, s)
                m.d.comb += [fill_inc[b][s].eq(here & t_read),
                             done_release[b][s].eq(here & t_release)]
        arriving = materialise(m, resp_valid & t_read, "resp_arriving")
        input_buffer.gather(arriving & _equals(t_buffer, INPUT) & _equals(resp.tag.dest, ROWS),
                            t_slot, resp.tag.row, resp.tag.mask,
                            _pieces(resp.data, rows * ELEMENT))
        into_weight = arriving & _equals(t_buffer, WEIGHT)
        weight_buffer.gather(into_weight & _equals(resp.tag.dest, ROWS), t_slot, resp.tag.row,
                             resp.tag.mask, _pieces(resp.data, cols * ELEMENT))
        weight_buffer.column(into_weight & _equals(resp.tag.dest, COLUMN), t_slot,
                             resp.tag.row, resp.tag.lane, _pieces(resp.data, ELEMENT))
        for s, piece in enumerate(_pieces(resp.data, rows * 32)):
            row = Signal(signed(self._format.row_bits + 1), name=f"cold_in_row_{s}")
            m.d.comb += row.eq(resp.tag.row.as_signed() + s)
            cold.write_row(m, arriving & _equals(t_buffer, OUTPUT)
                           & _inside(row, resp.tag.width), t_slot, row, piece)

        # --- DMA engine: FETCH -> GATE -> RUN (issue requests) ---------------------------
        dma_state = Signal(2)
        run_left = Signal(seq.count_bits)
        address = Signal(seq.address_bits)
        dma_row = Signal(self._format.row_bits)
        tag = Signal(tag_bits)
        read_ok = Signal()
        for b in range(N_BUFFERS):
            with m.If(_equals(dma.buffer, b)):
                m.d.comb += read_ok.eq(_at_least(pick(released, b, dma.slot), dma.wait,
                                                 sync_bits))
        gate_ok = Signal()
        m.d.comb += gate_ok.eq(
            ~dma.first
            | (has_free & (~dma.barrier | ~t_valid.any())
               & Mux(dma.write, _at_least(simd_done, dma.wait, sync_bits), read_ok))
        )

        def take_next(name, port, register, state):
            """Take the next instruction if one is offered (-> GATE), else go to FETCH."""
            m.d.comb += port.ready.eq(more[name])
            with m.If(port.valid & more[name]):
                m.d.sync += [register.eq(port.payload), taken[name].eq(taken[name] + 1),
                             state.eq(GATE)]
            with m.Else():
                m.d.sync += state.eq(FETCH)

        def take_next_run():
            """Like ``take_next``; a transfer's continuation run starts issuing at once."""
            take_next("dma", instructions, dma, dma_state)
            payload = instructions.payload
            with m.If(instructions.valid & more["dma"] & ~payload.first):
                m.d.sync += [address.eq(payload.base), run_left.eq(payload.count),
                             dma_row.eq(payload.row), dma_state.eq(RUN)]

        with m.If(_equals(dma_state, FETCH)):
            m.d.comb += fetching["dma"].eq(1)
            take_next_run()
        with m.If(_equals(dma_state, GATE) & gate_ok):
            m.d.sync += [address.eq(dma.base), run_left.eq(dma.count), dma_row.eq(dma.row),
                         dma_state.eq(RUN)]
            with m.If(dma.first):
                m.d.comb += [allocate.eq(1), alloc_mask.eq(1 << free_entry)]
                m.d.sync += tag.eq(free_entry)
        beat_data, beat_strobe = self._write_beat(m, dma, dma_row, result, cold)
        with m.If(_equals(dma_state, RUN)):
            request = dram_req.payload
            m.d.comb += [dram_req.valid.eq(1), request.addr.eq(address),
                         request.write.eq(dma.write), request.tag.entry.eq(tag),
                         request.tag.dest.eq(dma.dest), request.tag.row.eq(dma_row),
                         request.tag.mask.eq(dma.mask), request.tag.lane.eq(dma.lane),
                         request.tag.width.eq(dma.width)]
            with m.If(dma.write):
                m.d.comb += [request.data.eq(beat_data), request.strobe.eq(beat_strobe)]
            with m.If(dram_req.ready):
                m.d.sync += [address.eq(address + dma.stride), run_left.eq(run_left - 1),
                             dma_row.eq(dma_row + dma.row_step)]
                with m.If(_equals(run_left, 1)):
                    take_next_run()

        # --- Array engine: FETCH -> GATE (operands filled) -> RUN (stream K steps) --------
        m.submodules.array = array = SystolicEngine(rows, cols)
        op = Signal(self.i_array.payload.shape())
        array_state = Signal(2)
        array_left = Signal(seq.count_bits)
        steps_left = Signal(seq.count_bits)
        step = Signal(self._format.row_bits)
        a_ok = ~op.has_a | _at_least(pick(filled, INPUT, op.a_slot), op.a_fill, sync_bits)
        b_ok = ~op.has_b | _at_least(pick(filled, WEIGHT, op.b_slot), op.b_fill, sync_bits)
        running_op = _equals(array_state, RUN)
        stepping = running_op & steps_left.any()
        final_step = _at_most_one(steps_left)
        ends_tile = op.tile_end & final_step
        m.d.comb += [
            array.i_a.valid.eq(stepping & (~ends_tile | queue.room)),
            array.i_b.valid.eq(stepping & (~ends_tile | queue.room)),
            array.i_a.payload.data.as_value().eq(input_buffer.read(op.a_slot, op.a_row + step)),
            array.i_a.payload.last.eq(ends_tile),
            array.i_b.payload.as_value().eq(weight_buffer.read(op.b_slot, op.b_row + step)),
        ]
        accepted = array.i_a.valid & array.i_a.ready
        stalled = stepping & ~accepted
        array_last = Signal()
        m.d.comb += array_last.eq(running_op & _at_most_one(array_left)
                                  & (~steps_left.any() | accepted))
        with m.If(_equals(array_state, FETCH)):
            m.d.comb += fetching["array"].eq(1)
            take_next("array", self.i_array, op, array_state)
        with m.Elif(_equals(array_state, GATE)):
            with m.If(a_ok & b_ok):
                m.d.sync += [array_left.eq(op.cycles), steps_left.eq(op.steps), step.eq(0),
                             array_state.eq(RUN)]
            with m.Else():
                m.d.sync += self.array_stall.eq(self.array_stall + 1)
        with m.If(running_op):
            # An op occupies the array for its scheduled cycles or until its last step is
            # accepted, whichever is later: a stalled step (the previous tile still drains,
            # or no result-queue entry is free) counts towards both, and as a stall only.
            with m.If(stalled):
                m.d.sync += self.array_stall.eq(self.array_stall + 1)
            with m.Else():
                m.d.sync += self.array_busy.eq(self.array_busy + 1)
            with m.If(~_at_most_one(array_left)):
                m.d.sync += array_left.eq(array_left - 1)
            with m.If(accepted):
                m.d.sync += [steps_left.eq(steps_left - 1), step.eq(step + 1)]
        m.d.comb += queue.claim.eq(accepted & ends_tile)
        m.d.comb += [queue.claim_part.eq(op.part), queue.claim_emits.eq(op.emits)]
        with m.If(array_last):
            m.d.comb += queue.push.eq(op.emits)
            for s in range(self.slots[INPUT]):
                m.d.comb += op_release[INPUT][s].eq(
                    op.has_a & op.release_a & _equals(op.a_slot, s))
            for s in range(self.slots[WEIGHT]):
                m.d.comb += op_release[WEIGHT][s].eq(
                    op.has_b & op.release_b & _equals(op.b_slot, s))
            take_next("array", self.i_array, op, array_state)

        # --- Array results -> tile store (rows of the claimed entry and part) ------------
        drain_row = Signal(range(rows))
        m.d.comb += array.o_c.ready.eq(1)
        with m.If(array.o_c.valid):
            m.d.comb += [tiles.write_port.addr.eq(tiles.address(queue.drain_entry,
                                                                queue.drain_part, drain_row)),
                         tiles.write_port.data.eq(array.o_c.payload.data.as_value()),
                         tiles.write_port.en.eq(1)]
            m.d.sync += drain_row.eq(Mux(array.o_c.payload.last, 0, drain_row + 1))
            with m.If(array.o_c.payload.last):
                m.d.comb += queue.drained.eq(1)
                for e, per_entry in enumerate(tiles.has):
                    for p, flag in enumerate(per_entry):
                        with m.If(_equals(queue.drain_entry, e) & _equals(queue.drain_part, p)):
                            m.d.sync += flag.eq(1)

        # --- SIMD engine: FETCH -> GATE (tiles, cold tile, slot free) -> RUN --------------
        simd = Signal(self.i_simd.payload.shape())
        simd_state = Signal(2)
        simd_left = Signal(seq.count_bits)
        after_ok = ~simd.has_after | queue.due
        c_ok = ~simd.has_c | _at_least(pick(filled, OUTPUT, simd.c_slot), simd.c_fill,
                                       sync_bits)
        wait_ok = ~simd.has_wait | _at_least(pick(released, OUTPUT, simd.wait_slot),
                                             simd.wait_released, sync_bits)
        m.submodules.simd = unit = SimdUnit(cols, hw.simd.frac_bits, hw.simd.gelu_segment_bits)
        m.d.comb += [unit.shift.eq(hw.simd.frac_bits), unit.tau.eq(self.tau)]
        fed, written = Signal(range(rows + 1)), Signal(range(rows + 1))
        simd_running = _equals(simd_state, RUN)
        feeding = simd_running & ~_equals(fed, rows)
        head = queue.head
        a_tile = Mux(simd.has_after & tiles.holds(head, simd.a_part),
                     tiles.read(0, head, simd.a_part, fed), 0)
        part0 = Mux(simd.has_after & tiles.holds(head, 0), tiles.read(1, head, 0, fed), 0)
        cold_row = Cat(*[cold.element(simd.out_slot, c, fed) for c in range(cols)])
        b_tile = Signal(cols * 32)
        with m.Switch(simd.b_source):
            with m.Case(B_PART0):
                m.d.comb += b_tile.eq(part0)
            with m.Case(B_COLD):
                m.d.comb += b_tile.eq(cold_row)
            with m.Default():  # B_ZERO
                m.d.comb += b_tile.eq(0)
        m.d.comb += [unit.i_data.valid.eq(feeding), unit.i_data.payload.op.eq(simd.op),
                     unit.i_data.payload.a.as_value().eq(a_tile),
                     unit.i_data.payload.b.as_value().eq(b_tile),
                     unit.i_data.payload.last.eq(_equals(fed, rows - 1))]
        fed_now = unit.i_data.valid & unit.i_data.ready
        with m.If(fed_now):
            m.d.sync += fed.eq(fed + 1)
        cold.write_element(m, fed_now & simd.store_cold, simd.out_slot, fed,
                           _pieces(b_tile, 32))
        m.d.comb += unit.o_data.ready.eq(1)
        out = unit.o_data.payload
        result.write_element(m, unit.o_data.valid, simd.out_slot, written,
                             _pieces(out.data.as_value(), ELEMENT))
        with m.If(unit.o_data.valid):
            m.d.sync += written.eq(written + 1)
        width_mask = Signal(cols)
        m.d.comb += [width_mask[c].eq(simd.width > c) for c in range(cols)]
        m.d.comb += mask_old.addr.eq(simd.tile)
        with m.If(unit.o_data.valid & out.last & simd.threshold):
            m.d.comb += [mask_write.addr.eq(simd.tile), mask_write.en.eq(1),
                         mask_write.data.eq(Mux(simd.first_tile, 0, mask_old.data)
                                            | (out.hot & width_mask))]
        with m.Elif(self.mask_write & ~running):
            m.d.comb += [mask_write.addr.eq(self.mask_row), mask_write.en.eq(1),
                         mask_write.data.eq(self.mask_data)]
        simd_last = Signal()
        m.d.comb += simd_last.eq(simd_running & _at_most_one(simd_left) & _equals(written, rows))
        with m.If(_equals(simd_state, FETCH)):
            m.d.comb += fetching["simd"].eq(1)
            take_next("simd", self.i_simd, simd, simd_state)
        with m.If(_equals(simd_state, GATE) & after_ok & c_ok & wait_ok):
            m.d.sync += [simd_left.eq(simd.cycles), fed.eq(0), written.eq(0),
                         simd_state.eq(RUN)]
        with m.If(simd_running):
            m.d.sync += self.simd_busy.eq(self.simd_busy + 1)
            with m.If(~_at_most_one(simd_left)):
                m.d.sync += simd_left.eq(simd_left - 1)
        with m.If(simd_last):
            m.d.comb += queue.pop.eq(simd.has_after)
            for s in range(self.slots[OUTPUT]):
                m.d.comb += op_release[OUTPUT][s].eq(
                    simd.has_c & simd.release_c & _equals(simd.c_slot, s))
            m.d.sync += simd_done.eq(simd_done + 1)
            take_next("simd", self.i_simd, simd, simd_state)
        with m.If(queue.pop):
            for e, per_entry in enumerate(tiles.has):
                with m.If(_equals(head, e)):
                    m.d.sync += [flag.eq(0) for flag in per_entry]

        # --- Done: every instruction taken, engines idle, nothing in flight ---------------
        finished = Signal()
        m.d.comb += finished.eq(
            running & ~more["dma"] & ~more["array"] & ~more["simd"] & ~t_valid.any()
            & fetching["dma"] & fetching["array"] & fetching["simd"]
        )
        with m.If(finished & ~self.start):
            m.d.sync += [running.eq(0), self.done.eq(1)]
        return m

    def _write_beat(self, m: Module, dma, dma_row, result: RegionFile, cold: RegionFile):
        """Return (data, strobe) of the write beat at region row ``dma_row`` of ``dma``."""
        geo = self._format.geometry
        beats = {}
        for dest, region, row_bytes in ((RESULT, result, 2 * geo.rows),
                                        (COLD, cold, 4 * geo.rows)):
            pieces, strobes = [], []
            for s in range(geo.elements * 2 // row_bytes):
                row = Signal(signed(self._format.row_bits + 1), name=f"beat_{dest}_row_{s}")
                m.d.comb += row.eq(dma_row.as_signed() + s)
                valid = _inside(row, dma.width)
                pieces.append(Mux(valid, region.row(dma.slot, row[:self._format.lane_bits]),
                                  0))
                strobes.append(Mux(valid, (1 << row_bytes) - 1, 0))
            beats[dest] = (Cat(*pieces), Cat(*strobes))
        data_out, strobe = Signal(geo.elements * ELEMENT), Signal(geo.elements * 2)
        with m.If(_equals(dma.dest, COLD)):
            m.d.comb += [data_out.eq(beats[COLD][0]), strobe.eq(beats[COLD][1])]
        with m.Else():
            m.d.comb += [data_out.eq(beats[RESULT][0]), strobe.eq(beats[RESULT][1])]
        return data_out, strobe


def _pieces(value, width: int) -> list:
    """Return ``value`` cut into consecutive ``width``-bit pieces (least significant first)."""
    return [value[i:i + width] for i in range(0, len(value), width)]


def _inside(row, width):
    """Return ``0 <= row < width`` for a signed ``row``."""
    return ~row[-1] & (row < width)


class _ResultQueue:
    """Result-queue entries of the SIMD ops: a ring of ``depth`` entries of tiles.

    Built inline (no submodule): the array ``claim``s the tail entry for each tile it
    finishes (its ``claim_part``; ``claim_emits`` when the tile completes the entry), a
    small FIFO of claims names the entry and part the draining rows go to (``drain_entry``,
    ``drain_part``; ``drained`` pops it), the array's ``push`` hands the tail entry to the
    SIMD unit, ``due`` says the head entry's tiles have all arrived and ``pop`` frees it.
    ``room``: the tail entry is free. ``reset`` empties it.
    """

    def __init__(self, m: Module, depth: int, *, reset) -> None:
        self.push, self.pop = Signal(name="queue_push"), Signal(name="queue_pop")
        self.claim, self.drained = Signal(name="queue_claim"), Signal(name="queue_drained")
        self.claim_part, self.claim_emits = Signal(name="claim_part"), Signal(name="claim_emits")
        self.room, self.due = Signal(name="queue_room"), Signal(name="queue_due")
        bits = max(1, (depth - 1).bit_length())
        self.head = Signal(bits, name="queue_head")
        tail = Signal(bits, name="queue_tail")
        count = Signal(range(depth + 1), name="queue_count")
        complete = Signal(depth, name="queue_complete")
        # Claims in flight through the array (at most CLAIMS tiles drain at once).
        claims = [Signal(bits + 2, name=f"claim_{i}") for i in range(CLAIMS)]
        claim_count = Signal(range(CLAIMS + 1), name="claim_count")
        front = claims[0]
        self.drain_entry, self.drain_part = front[:bits], front[bits]
        m.d.comb += [self.room.eq(~_equals(count, depth)),
                     self.due.eq(count.any() & select(list(complete), self.head))]

        def advance(pointer):
            return Mux(_equals(pointer, depth - 1), 0, pointer + 1)

        entry_done = Signal(depth)
        for e in range(depth):
            m.d.comb += entry_done[e].eq(self.drained & front[bits + 1]
                                         & _equals(self.drain_entry, e))
        freed = Signal(depth)
        for e in range(depth):
            m.d.comb += freed[e].eq(self.pop & _equals(self.head, e))
        incoming = Cat(tail, self.claim_part, self.claim_emits)
        with m.If(reset):
            m.d.sync += [self.head.eq(0), tail.eq(0), count.eq(0), complete.eq(0),
                         claim_count.eq(0)]
        with m.Else():
            m.d.sync += complete.eq((complete | entry_done) & ~freed)
            with m.If(self.push):
                m.d.sync += tail.eq(advance(tail))
            with m.If(self.pop):
                m.d.sync += self.head.eq(advance(self.head))
            with m.If(self.push & ~self.pop):
                m.d.sync += count.eq(count + 1)
            with m.Elif(self.pop & ~self.push):
                m.d.sync += count.eq(count - 1)
            # Claim FIFO: shift out on ``drained``, append on ``claim``.
            position = Signal(range(CLAIMS + 1), name="claim_position")
            m.d.comb += position.eq(claim_count - self.drained)
            for i in range(CLAIMS):
                shifted = claims[i + 1] if i + 1 < CLAIMS else claims[i]
                with m.If(self.claim & _equals(position, i)):
                    m.d.sync += claims[i].eq(incoming)
                with m.Elif(self.drained):
                    m.d.sync += claims[i].eq(shifted)
            m.d.sync += claim_count.eq(claim_count + self.claim - self.drained)
