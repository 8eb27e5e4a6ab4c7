"""FFN engine top: the instruction-driven sequencer of one layer-iteration and its DRAM port.

Three in-order engines execute the programs of :mod:`colsim.hw.program` (compiled from the
schedule, the contract shared with the fast model):

* the **DMA engine** expands transfer runs into DRAM requests (address, write, tag) in the
  schedule's stream order, after each transfer's gate (slot release, producing SIMD op,
  barrier) and once an in-flight table entry is free; the tag names the entry, and every
  response (one per transaction, any order) counts it down until the transfer completes;
* the **array engine** runs each array op for its cycles once the input and weight fills it
  needs have completed, then releases the slots it read last and, at the end of a tile,
  queues the time its result reaches the SIMD unit (``latency`` cycles later);
* the **SIMD engine** runs each SIMD op once its tile result is due, its cold tile has
  arrived and its output slot has been released by the previous occupant.

Each engine spends at least one cycle gating an instruction and takes the next one in the
last cycle of the current one.

Control/status: ``start`` (one cycle) with the program lengths ``n_dma``/``n_array``/
``n_simd`` begins a layer-iteration; ``busy`` is high until every instruction has run and
every transfer has completed, then ``done`` stays high until the next start. Counters:
``cycles`` (start to done), ``array_busy`` (cycles an array op ran), ``array_stall`` (cycles
the array waited for operands or for room in the result queue) and ``simd_busy``.

Scope: the engines time compute ops by their scheduled cycles; operand buffers, the
systolic datapath and read/write data beats are not part of this top yet (the DRAM port
carries tags, not data).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.ffn_config import FfnTopConfig
from colsim.hw.program import Fields, ProgramFormat, program_format

N_BUFFERS = 3
INPUT, WEIGHT, OUTPUT = range(N_BUFFERS)
FETCH, GATE, RUN, FINISH = range(4)  # engine states (the DMA engine's RUN issues requests)


def _layout(fields: Fields) -> data.StructLayout:
    return data.StructLayout(dict(fields))


def _equals(value, constant: int):
    """Return ``value == constant`` with operands of equal width (lint-clean Verilog)."""
    bits = [value[i] if (constant >> i) & 1 else ~value[i] for i in range(len(value))]
    return Cat(*bits).all()


def _at_most_one(value):
    """Return ``value <= 1`` for an unsigned value."""
    return ~value[1:].any() if len(value) > 1 else Const(1, 1)


def _at_least(counter, target, width: int):
    """Return ``counter >= target`` for modular counters that never lag by 2**(width-1)."""
    return ~(counter - target)[width - 1]


class FfnTop(wiring.Component):
    """The FFN engine top for hardware ``hw`` with sequencer parameters ``top``.

    Ports: ``i_dma``/``i_array``/``i_simd`` (instruction streams), ``o_req`` (stream of
    {addr, write, tag}), ``i_resp`` (stream of {tag}, one beat per completed transaction,
    always ready), control ``start``, ``n_dma``, ``n_array``, ``n_simd``, status ``busy``,
    ``done``, ``cycles``, ``array_busy``, ``array_stall``, ``simd_busy``.
    """

    def __init__(self, hw: HardwareConfig, top: FfnTopConfig | None = None) -> None:
        if not isinstance(hw, HardwareConfig):
            raise TypeError(f"`hw` must be a HardwareConfig, not {hw!r}")
        top = FfnTopConfig() if top is None else top
        if not isinstance(top, FfnTopConfig):
            raise TypeError(f"`top` must be an FfnTopConfig, not {top!r}")
        self._hw, self._format = hw, program_format(hw, top)
        request = data.StructLayout({
            "addr": top.address_bits, "write": 1, "tag": top.tag_bits,
        })
        status = top.status_bits
        super().__init__({
            "i_dma": In(stream.Signature(_layout(self._format.dma_fields))),
            "i_array": In(stream.Signature(_layout(self._format.array_fields))),
            "i_simd": In(stream.Signature(_layout(self._format.simd_fields))),
            "o_req": Out(stream.Signature(request)),
            "i_resp": In(stream.Signature(data.StructLayout({"tag": top.tag_bits}))),
            "start": In(1),
            "n_dma": In(top.program_bits),
            "n_array": In(top.program_bits),
            "n_simd": In(top.program_bits),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(status),
            "array_busy": Out(status),
            "array_stall": Out(status),
            "simd_busy": Out(status),
        })

    @property
    def format(self) -> ProgramFormat:
        """The instruction format the top decodes."""
        return self._format

    @property
    def slots(self) -> tuple[int, int, int]:
        """Slots of the input, weight and output buffers."""
        sram = self._hw.sram
        return (sram.input.slots, sram.weight.slots, sram.output.slots)

    def elaborate(self, platform):
        m = Module()
        top = self._format.top
        sync_bits, entries = top.sync_bits, top.transfers_in_flight

        # --- Control: start, instruction counts, status counters ------------------------
        running = Signal()
        m.d.comb += self.busy.eq(running)
        engines = ("dma", "array", "simd")
        taken = {name: Signal(top.program_bits, name=f"taken_{name}") for name in engines}
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
            return _array(table[buffer], slot_bits)[slot]

        # --- In-flight transfer table; responses count it down ---------------------------
        dma = Signal(self.i_dma.payload.shape())
        t_valid = Signal(entries)
        table = {
            "left": [Signal(top.count_bits, name=f"t_left_{e}") for e in range(entries)],
            "buffer": [Signal(2, name=f"t_buffer_{e}") for e in range(entries)],
            "slot": [Signal(slot_bits, name=f"t_slot_{e}") for e in range(entries)],
            "read": [Signal(name=f"t_read_{e}") for e in range(entries)],
            "release": [Signal(name=f"t_release_{e}") for e in range(entries)],
        }
        t_left, t_buffer, t_slot, t_read, t_release = (
            _array(table[key], top.tag_bits)
            for key in ("left", "buffer", "slot", "read", "release"))
        m.d.comb += self.i_resp.ready.eq(1)
        resp_tag = self.i_resp.payload.tag
        retire = Signal()  # this response completes its transfer
        m.d.comb += retire.eq(self.i_resp.valid & _equals(t_left[resp_tag], 1))
        free_mask, alloc_mask = Signal(entries), Signal(entries)
        allocate = Signal()  # the DMA engine takes ``free_entry`` for a new transfer
        free_entry, has_free = Signal(top.tag_bits), Signal()
        for e in reversed(range(entries)):
            with m.If(~t_valid[e]):
                m.d.comb += [free_entry.eq(e), has_free.eq(1)]
        for e in range(entries):
            m.d.comb += free_mask[e].eq(retire & _equals(resp_tag, e))
            with m.If(allocate & _equals(free_entry, e)):
                m.d.sync += [table["left"][e].eq(dma.total), table["buffer"][e].eq(dma.buffer),
                             table["slot"][e].eq(dma.slot), table["read"][e].eq(~dma.write),
                             table["release"][e].eq(dma.release_on_done)]
            with m.Elif(self.i_resp.valid & _equals(resp_tag, e)):
                m.d.sync += table["left"][e].eq(table["left"][e] - 1)
        m.d.sync += t_valid.eq((t_valid | alloc_mask) & ~free_mask)
        for b in range(N_BUFFERS):
            for s in range(self.slots[b]):
                here = retire & _equals(t_buffer[resp_tag], b) & _equals(t_slot[resp_tag], s)
                m.d.comb += [fill_inc[b][s].eq(here & t_read[resp_tag]),
                             done_release[b][s].eq(here & t_release[resp_tag])]

        # --- DMA engine: FETCH -> GATE -> RUN (issue requests) ---------------------------
        dma_state = Signal(2)
        run_left = Signal(top.count_bits)
        address = Signal(top.address_bits)
        tag = Signal(top.tag_bits)
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

        with m.If(_equals(dma_state, FETCH)):
            m.d.comb += fetching["dma"].eq(1)
            take_next("dma", self.i_dma, dma, dma_state)
        with m.If(_equals(dma_state, GATE) & gate_ok):
            m.d.sync += [address.eq(dma.base), run_left.eq(dma.count), dma_state.eq(RUN)]
            with m.If(dma.first):
                m.d.comb += [allocate.eq(1), alloc_mask.eq(1 << free_entry)]
                m.d.sync += tag.eq(free_entry)
        with m.If(_equals(dma_state, RUN)):
            m.d.comb += [self.o_req.valid.eq(1), self.o_req.payload.addr.eq(address),
                         self.o_req.payload.write.eq(dma.write), self.o_req.payload.tag.eq(tag)]
            with m.If(self.o_req.ready):
                m.d.sync += [address.eq(address + dma.stride), run_left.eq(run_left - 1)]
                with m.If(_equals(run_left, 1)):
                    take_next("dma", self.i_dma, dma, dma_state)

        # --- Array engine: FETCH -> GATE (operands filled) -> RUN [-> FINISH] -------------
        queue = _ResultQueue(m, top.result_queue, top.count_bits, reset=self.start)
        op = Signal(self.i_array.payload.shape())
        array_state = Signal(2)
        array_left = Signal(top.count_bits)
        a_ok = ~op.has_a | _at_least(pick(filled, INPUT, op.a_slot), op.a_fill, sync_bits)
        b_ok = ~op.has_b | _at_least(pick(filled, WEIGHT, op.b_slot), op.b_fill, sync_bits)
        # An op finishes in its last RUN cycle, or later in FINISH while the queue is full.
        array_last = Signal()
        m.d.comb += array_last.eq((_equals(array_state, RUN) & _at_most_one(array_left))
                                  | _equals(array_state, FINISH))
        array_blocked = op.emits & ~queue.room
        with m.If(_equals(array_state, FETCH)):
            m.d.comb += fetching["array"].eq(1)
            take_next("array", self.i_array, op, array_state)
        with m.Elif(_equals(array_state, GATE)):
            with m.If(a_ok & b_ok):
                m.d.sync += [array_left.eq(op.cycles), array_state.eq(RUN)]
            with m.Else():
                m.d.sync += self.array_stall.eq(self.array_stall + 1)
        with m.If(_equals(array_state, RUN)):
            m.d.sync += [array_left.eq(array_left - 1),
                         self.array_busy.eq(self.array_busy + 1)]
        with m.If(array_last & array_blocked):
            m.d.sync += array_state.eq(FINISH)
            with m.If(_equals(array_state, FINISH)):
                m.d.sync += self.array_stall.eq(self.array_stall + 1)
        with m.If(array_last & ~array_blocked):
            m.d.comb += [queue.push_delay.eq(op.latency), queue.push.eq(op.emits)]
            for s in range(self.slots[INPUT]):
                m.d.comb += op_release[INPUT][s].eq(
                    op.has_a & op.release_a & _equals(op.a_slot, s))
            for s in range(self.slots[WEIGHT]):
                m.d.comb += op_release[WEIGHT][s].eq(
                    op.has_b & op.release_b & _equals(op.b_slot, s))
            take_next("array", self.i_array, op, array_state)

        # --- SIMD engine: FETCH -> GATE (result due, cold tile, slot free) -> RUN ---------
        simd = Signal(self.i_simd.payload.shape())
        simd_state = Signal(2)
        simd_left = Signal(top.count_bits)
        due = queue.due
        after_ok = ~simd.has_after | due
        c_ok = ~simd.has_c | _at_least(pick(filled, OUTPUT, simd.c_slot), simd.c_fill,
                                       sync_bits)
        wait_ok = ~simd.has_wait | _at_least(pick(released, OUTPUT, simd.wait_slot),
                                             simd.wait_released, sync_bits)
        with m.If(_equals(simd_state, FETCH)):
            m.d.comb += fetching["simd"].eq(1)
            take_next("simd", self.i_simd, simd, simd_state)
        with m.If(_equals(simd_state, GATE) & after_ok & c_ok & wait_ok):
            m.d.comb += queue.pop.eq(simd.has_after)
            m.d.sync += [simd_left.eq(simd.cycles), simd_state.eq(RUN)]
        with m.If(_equals(simd_state, RUN)):
            m.d.sync += [simd_left.eq(simd_left - 1), self.simd_busy.eq(self.simd_busy + 1)]
            with m.If(_at_most_one(simd_left)):
                for s in range(self.slots[OUTPUT]):
                    m.d.comb += op_release[OUTPUT][s].eq(
                        simd.has_c & simd.release_c & _equals(simd.c_slot, s))
                m.d.sync += simd_done.eq(simd_done + 1)
                take_next("simd", self.i_simd, simd, simd_state)

        # --- Done: every instruction taken, engines idle, nothing in flight ---------------
        finished = Signal()
        m.d.comb += finished.eq(
            running & ~more["dma"] & ~more["array"] & ~more["simd"] & ~t_valid.any()
            & fetching["dma"] & fetching["array"] & fetching["simd"]
        )
        with m.If(finished & ~self.start):
            m.d.sync += [running.eq(0), self.done.eq(1)]
        return m


def _array(signals: list, index_bits: int) -> Array:
    """Return an Array of ``signals`` padded (with the last one) to ``2**index_bits`` entries.

    Padding makes every index value select something, so the generated case statements are
    complete (lint-clean); the padded indices never occur.
    """
    return Array(signals + [signals[-1]] * ((1 << index_bits) - len(signals)))


class _ResultQueue:
    """Finished tiles on their way to the SIMD unit, each with the cycles until it arrives.

    Built inline (no submodule, so the top is one Verilog module): a ring of ``depth``
    countdown registers with ``push`` (and its ``push_delay``) / ``pop`` strobes, ``room``
    (not full) and ``due`` (the oldest tile has arrived). ``reset`` empties it.
    """

    def __init__(self, m: Module, depth: int, width: int, *, reset) -> None:
        self.push, self.pop = Signal(name="queue_push"), Signal(name="queue_pop")
        self.push_delay = Signal(width, name="queue_push_delay")
        self.room, self.due = Signal(name="queue_room"), Signal(name="queue_due")
        pointer_bits = max(1, (depth - 1).bit_length())
        delays = [Signal(width, name=f"queue_delay_{i}") for i in range(depth)]
        head = Signal(pointer_bits, name="queue_head")
        tail = Signal(pointer_bits, name="queue_tail")
        count = Signal(range(depth + 1), name="queue_count")
        m.d.comb += [self.room.eq(~_equals(count, depth)),
                     self.due.eq(count.any() & ~_array(delays, pointer_bits)[head].any())]

        def advance(pointer):
            return Mux(_equals(pointer, depth - 1), 0, pointer + 1)

        for i, delay in enumerate(delays):
            with m.If(self.push & _equals(tail, i)):
                m.d.sync += delay.eq(self.push_delay)
            with m.Elif(delay.any()):
                m.d.sync += delay.eq(delay - 1)
        with m.If(reset):
            m.d.sync += [head.eq(0), tail.eq(0), count.eq(0)]
        with m.Else():
            with m.If(self.push):
                m.d.sync += tail.eq(advance(tail))
            with m.If(self.pop):
                m.d.sync += head.eq(advance(head))
            with m.If(self.push & ~self.pop):
                m.d.sync += count.eq(count + 1)
            with m.Elif(self.pop & ~self.push):
                m.d.sync += count.eq(count - 1)
