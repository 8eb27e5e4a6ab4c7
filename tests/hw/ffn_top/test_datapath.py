"""The FFN top's buffers in the Amaranth simulator against Python references.

Row buffer: random gather writes (any segment mask, any start row, including starts that wrap across
bank boundaries and slot ends) and column writes (any lane, any start row) go into a
:class:`RowBuffer`; after each write every row is read back and compared with a list-of-rows
reference that applies the write's contract directly. Output buffer: SIMD beats of units
narrower than, as wide as and wider than a tile row land in the rows and columns
:class:`SimdBeats` names.
"""

from __future__ import annotations

import random

import pytest

from colsim.hw.ffn_datapath import ELEMENT, OutputBuffer, OutputShape, RowBuffer, RowBufferShape
from colsim.hw.onchip import COLD, RESULT
from colsim.testbench.amaranth_streams import simulation


def _row_buffer(*, slots: int, rows: int, lanes: int, banks: int, segments: int) -> RowBuffer:
    """Return a RowBuffer taking gather beats of ``segments`` rows and column writes."""
    return RowBuffer(RowBufferShape(
        slots=slots, rows=rows, lanes=lanes, banks=banks,
        slot_bits=max(1, (slots - 1).bit_length()), row_bits=rows.bit_length(),
        mask_bits=segments, lane_bits=max(1, (lanes - 1).bit_length()),
        beat=max(segments * lanes, banks) * ELEMENT, columns=True))


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
    dut = _row_buffer(**shape)
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
                write = dut.write.gather
                ctx.set(write.en, 1)
                ctx.set(write.mask, mask)
                ctx.set(write.data, beat)
                _reference_gather(reference, slot * rows_per_slot + row, mask, data)
            else:  # column: one element per bank into consecutive rows
                row = rng.randrange(rows_per_slot - banks + 1)
                lane = rng.randrange(lanes)
                data = [element() for _ in range(banks)]
                write = dut.write.column
                ctx.set(write.en, 1)
                ctx.set(write.lane, lane)
                ctx.set(write.data, sum(v << (ELEMENT * k) for k, v in enumerate(data)))
                _reference_column(reference, slot * rows_per_slot + row, lane, data)
            ctx.set(write.slot, slot)
            ctx.set(write.row, row)
            await ctx.tick()
            ctx.set(write.en, 0)
            for g, expected in enumerate(reference):
                ctx.set(dut.read.slot, g // rows_per_slot)
                ctx.set(dut.read.row, g % rows_per_slot)
                word = ctx.get(dut.read.data)
                got = [(word >> (ELEMENT * c)) & 0xFFFF for c in range(lanes)]
                assert got == expected, f"row {g}: {got} != {expected}"

    with simulation(dut, f"row_buffer_{seed}") as sim:
        sim.add_testbench(bench)
        sim.run()


@pytest.mark.parametrize("shape", [(4, 4, 4), (4, 4, 8), (4, 4, 64), (4, 8, 4), (8, 8, 16),
                                   (2, 8, 2)], ids=lambda s: "{}x{}-{}lanes".format(*s))
def test_simd_beats_land_in_their_rows_and_columns(shape):
    """SIMD beats written into the output buffer read back as the tile, column by column
    through the DMA side and beat by beat through the SIMD side (lane k·W + j of beat
    g·Q + s holds row g·P + k, column s·W + j)."""
    rows, cols, lanes = shape
    beat_bits = 1024
    output = OutputShape(slots=2, rows=rows, cols=cols, slot_bits=1, row_bits=6,
                         width_bits=cols.bit_length(), beat=beat_bits, lanes=lanes)
    beats = output.beats
    p, w, q = beats.rows_per_beat, beats.width, beats.slices
    assert beats.count * beats.used == rows * cols
    dut = OutputBuffer(output)
    rng = random.Random(sum(shape))
    tile = [[rng.randrange(1 << 16) for _ in range(cols)] for _ in range(rows)]
    cold = [[rng.randrange(1 << 32) for _ in range(cols)] for _ in range(rows)]

    def lanes_of(values, b: int) -> list[int]:
        g, s = divmod(b, q)
        return [values[g * p + k][s * w + j] for k in range(p) for j in range(w)]

    def pack(values: list[int], bits: int) -> int:
        return sum(v << (bits * i) for i, v in enumerate(values))

    async def bench(ctx):
        ctx.set(dut.simd.slot, 1)
        for b in range(beats.count):
            ctx.set(dut.simd.result_write.en, 1)
            ctx.set(dut.simd.result_write.beat, b)
            ctx.set(dut.simd.result_write.data, pack(lanes_of(tile, b), ELEMENT))
            ctx.set(dut.simd.cold_write.en, 1)
            ctx.set(dut.simd.cold_write.beat, b)
            ctx.set(dut.simd.cold_write.data, pack(lanes_of(cold, b), 32))
            await ctx.tick()
        ctx.set(dut.simd.result_write.en, 0)
        ctx.set(dut.simd.cold_write.en, 0)
        for b in range(beats.count):
            ctx.set(dut.simd.read_beat, b)
            assert ctx.get(dut.simd.cold) == pack(lanes_of(cold, b), 32), b
        ctx.set(dut.dma.beat.slot, 1)
        ctx.set(dut.dma.beat.width, cols)
        for c in range(cols):  # region row c: the tile's column c, rows 0 .. R-1
            ctx.set(dut.dma.beat.row, c)
            for dest, values, bits in ((RESULT, tile, ELEMENT), (COLD, cold, 32)):
                ctx.set(dut.dma.beat.dest, dest)
                column = ctx.get(dut.dma.data) & ((1 << (rows * bits)) - 1)
                assert column == pack([values[r][c] for r in range(rows)], bits), (dest, c)

    with simulation(dut, f"output_buffer_{rows}x{cols}_{lanes}") as sim:
        sim.add_testbench(bench)
        sim.run()
