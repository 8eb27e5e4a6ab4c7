"""The FFN top's array engine: array ops streamed through the systolic engine.

Timing rule (the fast model's :func:`colsim.sim.fast.engines.array_op` implements it):

* **Gate.** An op is taken in a FETCH cycle or in the last cycle of the previous op, and
  waits in GATE (one cycle at least) until the input and weight fills it needs are visible
  (``filled`` counts of its slots reach ``a_fill`` / ``b_fill``).
* **Run.** From the cycle after the gate it streams its K steps (rows ``a_row + s`` /
  ``b_row + s`` of its slots) into the :class:`~colsim.hw.systolic.SystolicEngine`, one per
  cycle, and occupies the array for its scheduled ``cycles`` (K plus the fill/drain overhead
  of a short tile) or until its last step is accepted, whichever is later.
* **Stalls.** The last step of a tile (``tile_end``) is not accepted until the previous
  tile has drained out of the array (``R + C`` cycles after that tile's last step) and a
  result-queue entry is free (``queue.room``); the accepted last step claims the entry.
  An op that ends the last tile of a SIMD op (``emits``) pushes the entry in its last cycle.
* **Result.** The tile's row i leaves on ``o_c`` ``i + C`` cycles after its last step (the
  systolic engine's rule), so its last row is written ``R + C`` cycles after it.
* **Counters.** ``busy`` counts the run cycles the array advanced (or idled out its
  scheduled cycles); ``stall`` counts the cycles it waited: in GATE for operands, or with a
  step refused. Each cycle of an op counts in one of them, the gate cycle that passes in
  neither.

Ports: ``i_array`` (instruction stream), control ``start``, ``running``, ``count``,
``counts`` (:func:`~colsim.hw.ffn_sync.counts_signature`), buffer reads ``input`` and
``weight``, ``queue`` (:func:`~colsim.hw.result_queue.claim_signature`), ``o_c`` (the drained
tile rows), the event ``release`` (in an op's last cycle: the slots it releases), status
``busy``, ``stall``, ``idle``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

from colsim.config import HardwareConfig
from colsim.hw.ffn_datapath import buffer_shapes, select, tile_rows_layout
from colsim.hw.ffn_sync import (
    INPUT,
    WEIGHT,
    EngineState,
    InstructionFetch,
    array_release_layout,
    at_least,
    at_most_one,
    counts_of,
    engine_control,
    in_state,
)
from colsim.hw.program import ProgramFormat
from colsim.hw.result_queue import claim_signature
from colsim.hw.systolic import SystolicEngine


class ArrayEngine(wiring.Component):
    """The array engine of the FFN top for ``hw`` (see the module docstring)."""

    def __init__(self, hw: HardwareConfig, fmt: ProgramFormat) -> None:
        self._hw, self._format = hw, fmt
        seq = hw.sequencer
        input_shape, weight_shape, _ = buffer_shapes(hw, fmt)
        super().__init__({
            **engine_control(hw, "i_array", fmt.array_fields),
            "input": Out(input_shape.read_signature()),
            "weight": Out(weight_shape.read_signature()),
            "queue": Out(claim_signature()),
            "o_c": Out(stream.Signature(tile_rows_layout(fmt.geometry.cols))),
            "release": Out(array_release_layout(fmt.slot_bits)),
            "busy": Out(seq.status_bits),
            "stall": Out(seq.status_bits),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        fmt, seq = self._format, self._hw.sequencer
        sync_bits = seq.sync_bits
        m.submodules.systolic = array = SystolicEngine(fmt.geometry.rows, fmt.geometry.cols)
        wiring.connect(m, array.o_c, wiring.flipped(self.o_c))
        op = Signal(self.i_array.payload.shape())
        state = Signal(EngineState)
        fetch = InstructionFetch(m, self.i_array, op, state, start=self.start,
                                 running=self.running, count=self.count)
        m.d.comb += self.idle.eq(fetch.idle)
        with m.If(self.start):
            m.d.sync += [self.busy.eq(0), self.stall.eq(0)]

        left = Signal(seq.count_bits)  # cycles of the op still to run
        steps_left = Signal(seq.count_bits)
        step = Signal(fmt.row_bits)
        filled_input = select(counts_of(self.counts, "filled", INPUT), op.a_slot)
        filled_weight = select(counts_of(self.counts, "filled", WEIGHT), op.b_slot)
        a_ok = ~op.has_a | at_least(filled_input, op.a_fill, sync_bits)
        b_ok = ~op.has_b | at_least(filled_weight, op.b_fill, sync_bits)
        running_op = in_state(state, EngineState.RUN)
        stepping = running_op & steps_left.any()
        final_step = at_most_one(steps_left)
        ends_tile = op.tile_end & final_step
        offered = stepping & (~ends_tile | self.queue.room)
        m.d.comb += [
            self.input.slot.eq(op.a_slot), self.input.row.eq(op.a_row + step),
            self.weight.slot.eq(op.b_slot), self.weight.row.eq(op.b_row + step),
            array.i_a.valid.eq(offered), array.i_b.valid.eq(offered),
            array.i_a.payload.data.as_value().eq(self.input.data),
            array.i_a.payload.last.eq(ends_tile),
            array.i_b.payload.as_value().eq(self.weight.data),
        ]
        accepted = array.i_a.valid & array.i_a.ready
        stalled = stepping & ~accepted
        last = Signal()  # the op's last cycle
        m.d.comb += last.eq(running_op & at_most_one(left) & (~steps_left.any() | accepted))
        fetch.fetch()
        with m.If(in_state(state, EngineState.GATE)):
            with m.If(a_ok & b_ok):
                m.d.sync += [left.eq(op.cycles), steps_left.eq(op.steps), step.eq(0),
                             state.eq(EngineState.RUN)]
            with m.Else():
                m.d.sync += self.stall.eq(self.stall + 1)
        with m.If(running_op):
            # An op occupies the array for its scheduled cycles or until its last step is
            # accepted, whichever is later: a stalled step (the previous tile still drains,
            # or no result-queue entry is free) counts towards both, and as a stall only.
            with m.If(stalled):
                m.d.sync += self.stall.eq(self.stall + 1)
            with m.Else():
                m.d.sync += self.busy.eq(self.busy + 1)
            with m.If(~at_most_one(left)):
                m.d.sync += left.eq(left - 1)
            with m.If(accepted):
                m.d.sync += [steps_left.eq(steps_left - 1), step.eq(step + 1)]
        m.d.comb += [self.queue.claim.eq(accepted & ends_tile), self.queue.part.eq(op.part),
                     self.queue.emits.eq(op.emits)]
        with m.If(last):
            m.d.comb += [self.queue.push.eq(op.emits),
                         self.release.a.eq(op.has_a & op.release_a),
                         self.release.a_slot.eq(op.a_slot),
                         self.release.b.eq(op.has_b & op.release_b),
                         self.release.b_slot.eq(op.b_slot)]
            fetch.take_next()
        return m
