"""The FFN top's banked row buffer in the Amaranth simulator against a Python reference.

Random gather writes (any segment mask, any start row, including starts that wrap across
bank boundaries and slot ends) and column writes (any lane, any start row) go into a
:class:`RowBuffer`; after each write every row is read back and compared with a list-of-rows
reference that applies the write's contract directly.
"""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Elaboratable, Module, Signal

from colsim.hw.ffn_datapath import ELEMENT, RowBuffer
from colsim.testbench.amaranth_streams import simulation


class _Harness(Elaboratable):
    """A RowBuffer with its gather, column and read inputs as signals."""

    def __init__(self, *, slots: int, rows: int, lanes: int, banks: int, segments: int):
        self.shape = dict(slots=slots, rows=rows, lanes=lanes, banks=banks)
        self.segments = segments
        self.gather_en, self.column_en = Signal(), Signal()
        self.slot, self.row = Signal(range(slots)), Signal(range(rows))
        self.mask, self.lane = Signal(segments), Signal(range(lanes))
        self.beat = Signal(segments * lanes * ELEMENT)  # a gather beat (``segments`` rows)
        self.column_beat = Signal(banks * ELEMENT)  # a column beat (one element per bank)
        self.read_slot, self.read_row = Signal(range(slots)), Signal(range(rows))
        self.read_data = Signal(lanes * ELEMENT)

    def elaborate(self, platform):
        m = Module()
        buffer = RowBuffer(m, "buffer", **self.shape)
        width = self.shape["lanes"] * ELEMENT
        buffer.gather(self.gather_en, self.slot, self.row, self.mask,
                      [self.beat[i:i + width] for i in range(0, len(self.beat), width)])
        buffer.column(self.column_en, self.slot, self.row, self.lane,
                      [self.column_beat[i:i + ELEMENT]
                       for i in range(0, len(self.column_beat), ELEMENT)])
        m.d.comb += self.read_data.eq(buffer.read(self.read_slot, self.read_row))
        return m


def _reference_gather(rows: list[list[int]], start: int, mask: int, segments: list[list[int]]):
    """Write the mask-selected ``segments`` (lists of lanes) to rows ``start``, ``start+1``..."""
    target = start
    for s, segment in enumerate(segments):
        if mask >> s & 1:
            rows[target] = list(segment)
            target += 1


def _reference_column(rows: list[list[int]], start: int, lane: int, elements: list[int]):
    """Write ``elements`` into ``lane`` of rows ``start``, ``start+1``..."""
    for k, element in enumerate(elements):
        rows[start + k][lane] = element


@pytest.mark.parametrize("shape", [
    dict(slots=2, rows=12, lanes=4, banks=8, segments=2),  # weight-like: banks > segments
    dict(slots=2, rows=8, lanes=2, banks=4, segments=4),  # input-like: banks == segments
    dict(slots=2, rows=4, lanes=2, banks=1, segments=1),  # one bank
], ids=["banks8_seg2", "banks4_seg4", "banks1"])
@pytest.mark.parametrize("seed", [0, 1])
def test_row_buffer_matches_reference(shape, seed):
    rng = random.Random(seed)
    dut = _Harness(**shape)
    slots, rows_per_slot, lanes, banks = (shape[k] for k in ("slots", "rows", "lanes", "banks"))
    segments = shape["segments"]
    reference = [[0] * lanes for _ in range(slots * rows_per_slot)]

    def element() -> int:
        return rng.choice([0, 1, 0x7FFF, 0x8000, 0xFFFF, rng.randrange(1 << ELEMENT)])

    async def bench(ctx):
        for _ in range(60):
            slot = rng.randrange(slots)
            if rng.random() < 0.6:  # gather: the selected segments must fit the slot
                mask = rng.choice([0, (1 << segments) - 1, rng.randrange(1 << segments)])
                row = rng.randrange(rows_per_slot - bin(mask).count("1") + 1)
                data = [[element() for _ in range(lanes)] for _ in range(segments)]
                beat = sum(value << (ELEMENT * (s * lanes + c))
                           for s, segment in enumerate(data) for c, value in enumerate(segment))
                ctx.set(dut.gather_en, 1)
                ctx.set(dut.mask, mask)
                ctx.set(dut.beat, beat)
                _reference_gather(reference, slot * rows_per_slot + row, mask, data)
            else:  # column: one element per bank into consecutive rows
                row = rng.randrange(rows_per_slot - banks + 1)
                lane = rng.randrange(lanes)
                data = [element() for _ in range(banks)]
                ctx.set(dut.column_en, 1)
                ctx.set(dut.lane, lane)
                ctx.set(dut.column_beat, sum(v << (ELEMENT * k) for k, v in enumerate(data)))
                _reference_column(reference, slot * rows_per_slot + row, lane, data)
            ctx.set(dut.slot, slot)
            ctx.set(dut.row, row)
            await ctx.tick()
            ctx.set(dut.gather_en, 0)
            ctx.set(dut.column_en, 0)
            for g, expected in enumerate(reference):
                ctx.set(dut.read_slot, g // rows_per_slot)
                ctx.set(dut.read_row, g % rows_per_slot)
                word = ctx.get(dut.read_data)
                got = [(word >> (ELEMENT * c)) & 0xFFFF for c in range(lanes)]
                assert got == expected, f"row {g}: {got} != {expected}"

    with simulation(dut, f"row_buffer_{seed}") as sim:
        sim.add_testbench(bench)
        sim.run()
