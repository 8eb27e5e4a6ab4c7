"""The FFN top's SIMD engine: SIMD ops on the result queue's tiles through the SIMD unit.

Timing rule (the fast model's :func:`colsim.sim.fast.engines.simd_op` and
:func:`~colsim.sim.fast.engines.simd_after_ready` implement it):

* **Gate.** An op is taken in a FETCH cycle or in the last cycle of the previous op, and
  waits in GATE (one cycle at least) until the head entry of the result queue has all its
  tiles (``has_after``: visible the cycle after its last tile's last row was written, ``R +
  C`` cycles after that tile's last step), its cold tile has been read (``filled`` of
  ``c_slot`` reaches ``c_fill``) and its output slot has been released ``wait_released``
  times.
* **Run.** From the cycle after the gate it feeds the entry's tiles through the two-stage
  :class:`~colsim.hw.simd.SimdUnit` (GELU / GEGLU / requantise / add cold) of
  ``simd.lanes`` lanes, one beat per cycle: with lanes >= C a beat holds lanes / C tile
  rows, with lanes < C a row takes C / lanes beats, so a tile takes B = max(1, R·C / lanes)
  beats (:class:`~colsim.hw.ffn_datapath.SimdBeats`). It writes each int16 beat into the
  output slot's result region two cycles after feeding it (and, in FFN-Reuse's dense
  iteration, the beat's cold part into the cold region as it is fed), ORs the hot bits of
  each column (over all rows) into the mask store with the last beat, and ends after its
  scheduled ``cycles`` or when its last beat is written, whichever is later: at least
  ``B + 3`` cycles (:func:`colsim.sim.fast.engines.simd_min_cycles`).
* **Result.** In its last cycle it pops the queue entry, releases ``c_slot`` and counts as
  ended (``end``); all visible from the next cycle.
* **Counters.** ``busy`` counts its run cycles.

Ports: ``i_simd`` (instruction stream), control ``start``, ``running``, ``count``, ``tau``,
``counts`` (:func:`~colsim.hw.ffn_sync.counts_signature`), ``queue``
(:func:`~colsim.hw.result_queue.pop_signature`), ``tiles``
(:func:`~colsim.hw.ffn_datapath.tile_read_signature`), ``output`` (the output buffer's SIMD
side), ``mask`` (the mask store: ``tile`` -> ``old``; ``write`` with ``data``), the events
``release`` and ``end``, status ``busy``, ``idle``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.ffn_datapath import (
    ELEMENT,
    buffer_shapes,
    equals,
    materialise,
    select,
    tile_read_signature,
)
from colsim.hw.ffn_sync import (
    OUTPUT,
    EngineState,
    InstructionFetch,
    at_least,
    at_most_one,
    counts_of,
    engine_control,
    in_state,
    simd_release_layout,
)
from colsim.hw.program import B_COLD, B_PART0, ProgramFormat
from colsim.hw.result_queue import pop_signature
from colsim.hw.simd import SimdUnit


def mask_signature(tile_bits: int, cols: int) -> wiring.Signature:
    """Return the SIMD engine's port of the mask store, as the engine sees it."""
    return wiring.Signature({"tile": Out(tile_bits), "old": In(cols), "write": Out(1),
                             "data": Out(cols)})


class SimdEngine(wiring.Component):
    """The SIMD engine of the FFN top for ``hw`` (see the module docstring)."""

    def __init__(self, hw: HardwareConfig, fmt: ProgramFormat) -> None:
        self._hw, self._format = hw, fmt
        seq, geo = hw.sequencer, fmt.geometry
        _, _, output_shape = buffer_shapes(hw, fmt)
        self._beats = output_shape.beats
        super().__init__({
            **engine_control(hw, "i_simd", fmt.simd_fields),
            "tau": In(signed(ELEMENT)),
            "queue": Out(pop_signature(seq.result_queue)),
            "tiles": Out(tile_read_signature(seq.result_queue, output_shape.beats)),
            "output": Out(output_shape.simd_signature()),
            "mask": Out(mask_signature(fmt.tile_bits, geo.cols)),
            "release": Out(simd_release_layout(fmt.slot_bits)),
            "end": Out(1),
            "busy": Out(seq.status_bits),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw, fmt = self._hw, self._format
        seq, cols, beats = hw.sequencer, fmt.geometry.cols, self._beats
        count, lanes = beats.count, beats.used
        sync_bits = seq.sync_bits
        op = Signal(self.i_simd.payload.shape())
        state = Signal(EngineState)
        fetch = InstructionFetch(m, self.i_simd, op, state, start=self.start,
                                 running=self.running, count=self.count)
        m.d.comb += self.idle.eq(fetch.idle)
        with m.If(self.start):
            m.d.sync += self.busy.eq(0)

        left = Signal(seq.count_bits)
        after_ok = ~op.has_after | self.queue.due
        filled = select(counts_of(self.counts, "filled", OUTPUT), op.c_slot)
        released = select(counts_of(self.counts, "released", OUTPUT), op.wait_slot)
        c_ok = ~op.has_c | at_least(filled, op.c_fill, sync_bits)
        wait_ok = ~op.has_wait | at_least(released, op.wait_released, sync_bits)
        m.submodules.unit = unit = SimdUnit(lanes, hw.simd.frac_bits, hw.simd.gelu_segment_bits)
        m.d.comb += [unit.shift.eq(hw.simd.frac_bits), unit.tau.eq(self.tau)]

        # --- Feed: beats of the tiles (and of the cold tile) into the unit, one per cycle --
        fed, written = Signal(range(count + 1)), Signal(range(count + 1))
        running_op = in_state(state, EngineState.RUN)
        feeding = running_op & ~equals(fed, count)
        tiles, output = self.tiles, self.output
        m.d.comb += [tiles.entry.eq(self.queue.head), tiles.a_part.eq(op.a_part),
                     tiles.beat.eq(fed), output.slot.eq(op.out_slot), output.read_beat.eq(fed)]
        a_tile = Mux(op.has_after & tiles.a_holds, tiles.a_data, 0)
        part0 = Mux(op.has_after & tiles.part0_holds, tiles.part0_data, 0)
        b_tile = Signal(lanes * 32)
        with m.Switch(op.b_source):
            with m.Case(B_PART0):
                m.d.comb += b_tile.eq(part0)
            with m.Case(B_COLD):
                m.d.comb += b_tile.eq(output.cold)
            with m.Default():  # B_ZERO
                m.d.comb += b_tile.eq(0)
        m.d.comb += [unit.i_data.valid.eq(feeding), unit.i_data.payload.op.eq(op.op),
                     unit.i_data.payload.a.as_value().eq(a_tile),
                     unit.i_data.payload.b.as_value().eq(b_tile),
                     unit.i_data.payload.last.eq(1)]  # hot bits per beat (ORed below)
        fed_now = unit.i_data.valid & unit.i_data.ready
        with m.If(fed_now):
            m.d.sync += fed.eq(fed + 1)
        m.d.comb += [output.cold_write.en.eq(fed_now & op.store_cold),
                     output.cold_write.beat.eq(fed), output.cold_write.data.eq(b_tile)]

        # --- Results: int16 beats into the result region, hot bits into the mask store ---
        m.d.comb += unit.o_data.ready.eq(1)
        out = unit.o_data.payload
        m.d.comb += [output.result_write.en.eq(unit.o_data.valid),
                     output.result_write.beat.eq(written),
                     output.result_write.data.eq(out.data.as_value())]
        with m.If(unit.o_data.valid):
            m.d.sync += written.eq(written + 1)
        hot = materialise(m, self._column_hot(out.hot, written), "beat_hot")  # per column
        hot_so_far = Signal(cols)  # the op's earlier beats
        with m.If(unit.o_data.valid):
            m.d.sync += hot_so_far.eq(hot_so_far | hot)
        width_mask = Signal(cols)
        m.d.comb += [width_mask[c].eq(op.width > c) for c in range(cols)]
        mask = self.mask
        m.d.comb += [mask.tile.eq(op.tile),
                     mask.write.eq(unit.o_data.valid & equals(written, count - 1)
                                   & op.threshold),
                     mask.data.eq(Mux(op.first_tile, 0, mask.old)
                                  | ((hot_so_far | hot) & width_mask))]

        # --- Sequencing: FETCH -> GATE -> RUN ---------------------------------------------
        last = Signal()
        m.d.comb += last.eq(running_op & at_most_one(left) & equals(written, count))
        fetch.fetch()
        with m.If(in_state(state, EngineState.GATE) & after_ok & c_ok & wait_ok):
            m.d.sync += [left.eq(op.cycles), fed.eq(0), written.eq(0), hot_so_far.eq(0),
                         state.eq(EngineState.RUN)]
        with m.If(running_op):
            m.d.sync += self.busy.eq(self.busy + 1)
            with m.If(~at_most_one(left)):
                m.d.sync += left.eq(left - 1)
        with m.If(last):
            m.d.comb += [self.queue.pop.eq(op.has_after), tiles.free.eq(op.has_after),
                         self.release.c.eq(op.has_c & op.release_c),
                         self.release.c_slot.eq(op.c_slot), self.end.eq(1)]
            fetch.take_next()
        return m

    def _column_hot(self, lanes_hot, beat):
        """Return the hot bits of a beat's lanes ORed per tile column (C bits)."""
        beats = self._beats
        _, part = beats.split(beat)
        w = beats.width
        per_column = [Const(0, 1)] * (beats.slices * w)
        for c in range(beats.cols):
            q, j = divmod(c, w)
            lanes = [lanes_hot[k * w + j] for k in range(beats.rows_per_beat)]
            here = equals(part, q) if beats.slices > 1 else Const(1, 1)
            per_column[c] = Cat(*lanes).any() & here
        return Cat(*per_column)
