"""The FFN engine top's data storage: operand buffers, output buffer, result tiles.

Three Components, each with the row organisation of :mod:`colsim.hw.onchip`, and the small
expression helpers the top's engines share:

* :class:`RowBuffer` — the input or weight buffer: ``slots × rows`` rows of ``lanes`` int16
  in ``banks`` interleaved memories (row g in bank ``g mod banks``), so that the consecutive
  rows one DRAM beat fills are written in one cycle. Its ``write`` port (the DMA engine's
  responses) gathers the taken V-element segments of a beat into consecutive rows
  (``ROWS``) or, with ``columns``, writes E consecutive elements into one lane of E
  consecutive rows (``COLUMN``, needs ``banks = E``); its ``read`` port returns one row
  combinationally (the array consumes it in the same cycle).
* :class:`OutputBuffer` — the output buffer's result and cold regions: per slot C rows of R
  elements (int16 results, int32 cold sums), registers. Its ``dma`` port fills cold rows
  from a response beat and reads the write beat of a result or cold run; its ``simd`` port
  reads and writes SIMD beats (:class:`SimdBeats`: P tile rows of W columns, across the
  region rows of those columns at once).
* :class:`TileStore` — finished systolic tiles (int32 rows) of the result queue's entries,
  one per (entry, part), and which of them hold data: ``i_rows`` takes the array's drained
  rows into the entry and part the result queue names (``drain``), ``simd`` reads SIMD
  beats of the head entry and frees it.

Writes take effect at the clock edge; a region written by both ports in one cycle keeps the
SIMD side's value.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.onchip import COLD, RESULT
from colsim.hw.program import ProgramFormat

ELEMENT = 16


def equals(value, constant: int):
    """Return ``value == constant`` as an AND of bits (lint-clean Verilog for any width)."""
    value = Value.cast(value)
    bits = [value[i] if (constant >> i) & 1 else ~value[i] for i in range(len(value))]
    return Cat(*bits).all()


def materialise(m: Module, value, name: str) -> Signal:
    """Return a signal driven by ``value`` (an expression used many times is built once)."""
    value = Value.cast(value)
    signal = Signal(value.shape(), name=name)
    m.d.comb += signal.eq(value)
    return signal


def select(values: list, index):
    """Return ``values[index]``, padded (with the last value) so every index selects one."""
    index = Value.cast(index)
    padded = list(values) + [values[-1]] * ((1 << len(index)) - len(values))
    return Array(padded)[index] if len(padded) > 1 else padded[0]


def log2(value: int) -> int:
    """Return log2 of a power of two."""
    return value.bit_length() - 1


def popcount_below(mask, index: int):
    """Return the number of set bits of ``mask`` below bit ``index`` (as a Value)."""
    total = Const(0, 1)
    for bit in range(index):
        total = total + mask[bit]
    return total


def pieces(value, width: int) -> list:
    """Return ``value`` cut into consecutive ``width``-bit pieces (least significant first)."""
    value = Value.cast(value)
    return [value[i:i + width] for i in range(0, len(value), width)]


def inside(row, width):
    """Return ``0 <= row < width`` for a signed ``row``."""
    return ~row[-1] & (row < width)


@dataclass(frozen=True)
class SimdBeats:
    """How an R×C tile passes through a SIMD unit of ``lanes`` lanes (powers of two), beat
    by beat: beat ``b`` carries rows ``g·P .. g·P + P - 1`` (``g = b // Q``) of columns
    ``s·W .. s·W + W - 1`` (``s = b mod Q``), lane ``k·W + j`` holding row ``g·P + k``,
    column ``s·W + j``. With lanes >= C a beat takes P = lanes / C rows (at most R: lanes
    beyond a tile's R·C elements would idle and are not built); with lanes < C a row takes
    Q = C / lanes beats.
    """

    rows: int
    cols: int
    lanes: int

    @property
    def rows_per_beat(self) -> int:
        """P: tile rows per beat."""
        return max(1, min(self.lanes, self.rows * self.cols) // self.cols)

    @property
    def slices(self) -> int:
        """Q: beats per row (column slices)."""
        return max(1, self.cols // self.lanes)

    @property
    def width(self) -> int:
        """W: columns per beat."""
        return self.cols // self.slices

    @property
    def used(self) -> int:
        """U = P·W: the lanes a beat fills (the unit's width)."""
        return self.rows_per_beat * self.width

    @property
    def count(self) -> int:
        """B: beats per tile."""
        return self.rows // self.rows_per_beat * self.slices

    def split(self, beat):
        """Return (row group g, column slice s) of a beat index (a Value)."""
        beat = Value.cast(beat)
        q = log2(self.slices)
        return beat[q:], (beat[:q] if q else Const(0, 1))


def buffer_shapes(hw: HardwareConfig, fmt: ProgramFormat
                  ) -> tuple[RowBufferShape, RowBufferShape, OutputShape]:
    """Return the shapes of the input, weight and output buffers of the top for ``hw``."""
    geo, sram = fmt.geometry, hw.sram
    beat = geo.elements * ELEMENT
    common = dict(slot_bits=fmt.slot_bits, row_bits=fmt.row_bits, mask_bits=geo.segments,
                  lane_bits=fmt.lane_bits, beat=beat)
    return (RowBufferShape(slots=sram.input.slots, rows=geo.input_rows, lanes=geo.rows,
                           banks=geo.elements // geo.rows, **common),
            RowBufferShape(slots=sram.weight.slots, rows=geo.weight_rows, lanes=geo.cols,
                           banks=geo.elements, columns=True, **common),
            OutputShape(slots=sram.output.slots, rows=geo.rows, cols=geo.cols,
                        slot_bits=fmt.slot_bits, row_bits=fmt.row_bits,
                        width_bits=fmt.width_bits, beat=beat, lanes=hw.simd.lanes))


@dataclass(frozen=True)
class RowBufferShape:
    """The size of a :class:`RowBuffer` and the widths of its ports.

    ``beat``: bits of a DRAM beat; ``mask_bits``: the tag's segment mask (a beat gathers
    ``beat / (lanes · 16)`` segments); ``columns``: the buffer takes column writes.
    """

    slots: int
    rows: int
    lanes: int
    banks: int
    slot_bits: int
    row_bits: int
    mask_bits: int
    lane_bits: int
    beat: int
    columns: bool = False

    def write_signature(self) -> wiring.Signature:
        """Return the write port as its writer (the DMA engine) sees it."""
        common = {"en": 1, "slot": self.slot_bits, "row": self.row_bits}
        members = {"gather": Out(data.StructLayout({**common, "mask": self.mask_bits,
                                                    "data": self.beat}))}
        if self.columns:
            members["column"] = Out(data.StructLayout({**common, "lane": self.lane_bits,
                                                       "data": self.beat}))
        return wiring.Signature(members)

    def read_signature(self) -> wiring.Signature:
        """Return the read port as its reader (the array engine) sees it."""
        return wiring.Signature({"slot": Out(self.slot_bits), "row": Out(self.row_bits + 1),
                                 "data": In(self.lanes * ELEMENT)})


class RowBuffer(wiring.Component):
    """Banked row memory of the input or weight buffer (see the module docstring).

    Ports: ``write`` (``gather``: {en, slot, row, mask, data}; with ``columns`` also
    ``column``: {en, slot, row, lane, data}), ``read`` ({slot, row} -> data).
    """

    def __init__(self, shape: RowBufferShape) -> None:
        self.shape = shape
        super().__init__({"write": In(shape.write_signature()),
                          "read": In(shape.read_signature())})

    def elaborate(self, platform):
        m = Module()
        shape = self.shape
        self._shift = log2(shape.banks)
        self._total = shape.slots * shape.rows
        depth = self._total // shape.banks
        writes, reads = [], []
        for b in range(shape.banks):
            memory = Memory(shape=unsigned(shape.lanes * ELEMENT), depth=depth, init=[])
            m.submodules[f"bank{b}"] = memory
            writes.append(memory.write_port(granularity=ELEMENT))
            reads.append(memory.read_port(domain="comb"))

        g = self._global_row(m, self.read.slot, self.read.row)
        for port in reads:
            m.d.comb += port.addr.eq(g >> self._shift)
        rows = [port.data for port in reads]
        m.d.comb += self.read.data.eq(select(rows, g[:self._shift]) if shape.banks > 1
                                      else rows[0])

        gather = self.write.gather
        self._gather(m, writes, gather, pieces(gather.data, shape.lanes * ELEMENT))
        if shape.columns:
            column = self.write.column
            self._column(m, writes, column, pieces(column.data, ELEMENT))
        return m

    def _global_row(self, m: Module, slot, row) -> Signal:
        """Return the row index over all slots of ``row`` in ``slot``."""
        g = Signal(range(self._total))
        m.d.comb += g.eq(slot * self.shape.rows + row)
        return g

    def _gather(self, m: Module, writes: list, port, segments: list) -> None:
        """Write the ``mask``-selected ``segments`` to consecutive rows from ``row``.

        The k-th selected segment lands in row ``row + k``, so bank ``b`` receives item
        ``k = (b - row) mod banks`` when ``k`` is below the number selected: one multiplexer
        per bank over the compacted segments (needs ``banks >= len(segments)``: a beat writes
        each bank at most once).
        """
        assert self.shape.banks >= len(segments), "a beat would write one bank twice"
        enable, mask = port.en, port.mask
        g0 = self._global_row(m, port.slot, port.row)
        items = self._compacted(m, mask, segments)
        count = materialise(m, popcount_below(mask, len(segments)), "gather_count")
        for b, bank in enumerate(writes):
            item = Signal(max(1, self._shift), name=f"gather_item_{b}")  # k of bank b
            m.d.comb += item.eq(b - g0[:self._shift])
            with m.If(enable & (item < count)):
                m.d.comb += [bank.addr.eq(self._bank_address(g0, b)),
                             bank.data.eq(select(items, item)),
                             bank.en.eq((1 << self.shape.lanes) - 1)]

    @staticmethod
    def _compacted(m: Module, mask, segments: list) -> list:
        """Return the ``mask``-selected ``segments`` in order (item k = the k-th selected)."""
        prefix = [materialise(m, popcount_below(mask, s), f"gather_prefix_{s}")
                  for s in range(len(segments))]
        items = []
        for k in range(len(segments)):
            item = Signal.like(segments[0], name=f"gather_compact_{k}")
            for s in range(k, len(segments)):  # the k-th selected lies at segment k or later
                with m.If(mask[s] & equals(prefix[s], k)):
                    m.d.comb += item.eq(segments[s])
            items.append(item)
        return items

    def _bank_address(self, g0, bank: int):
        """Return the address in ``bank`` of the first row at or after row ``g0`` it holds."""
        if bank == self.shape.banks - 1:  # every row group reaches the last bank (lint-clean)
            return g0 >> self._shift
        return (g0 >> self._shift) + (g0[:self._shift] > bank)

    def _column(self, m: Module, writes: list, port, elements: list) -> None:
        """Write ``elements`` (one per bank) into ``lane`` of consecutive rows from ``row``."""
        g0 = self._global_row(m, port.slot, port.row)
        lanes = self.shape.lanes
        for b, bank in enumerate(writes):
            offset = Signal(max(1, self._shift))  # which element lands in bank b
            m.d.comb += offset.eq(b - g0[:self._shift])
            with m.If(port.en):
                m.d.comb += [bank.addr.eq(self._bank_address(g0, b)),
                             bank.data.eq(Cat(*[select(elements, offset)] * lanes)),
                             bank.en.eq(select([1 << c for c in range(lanes)], port.lane))]


@dataclass(frozen=True)
class OutputShape:
    """The size of an :class:`OutputBuffer` and the widths of its ports."""

    slots: int
    rows: int  # R: elements per region row
    cols: int  # C: region rows per slot
    slot_bits: int
    row_bits: int
    width_bits: int
    beat: int
    lanes: int  # of the SIMD unit

    @property
    def beats(self) -> SimdBeats:
        """How a tile passes through the SIMD unit."""
        return SimdBeats(self.rows, self.cols, self.lanes)

    def dma_signature(self) -> wiring.Signature:
        """Return the DMA engine's port: cold fills in, write beats out."""
        return wiring.Signature({
            "fill": Out(data.StructLayout({"en": 1, "slot": self.slot_bits,
                                           "row": self.row_bits, "width": self.width_bits,
                                           "data": self.beat})),
            "beat": Out(data.StructLayout({"dest": 2, "slot": self.slot_bits,
                                           "row": self.row_bits, "width": self.width_bits})),
            "data": In(self.beat),
            "strobe": In(self.beat // 8),
        })

    def simd_signature(self) -> wiring.Signature:
        """Return the SIMD engine's port: a cold beat read, result and cold beat writes."""
        beats = self.beats
        beat = range(beats.count + 1)
        return wiring.Signature({
            "slot": Out(self.slot_bits),
            "read_beat": Out(beat),
            "cold": In(beats.used * 32),
            "cold_write": Out(data.StructLayout({"en": 1, "beat": beat,
                                                 "data": beats.used * 32})),
            "result_write": Out(data.StructLayout({"en": 1, "beat": beat,
                                                   "data": beats.used * ELEMENT})),
        })


class _Region:
    """One output region: per slot ``cols`` rows of ``rows`` elements of ``bits`` bits."""

    def __init__(self, name: str, shape: OutputShape, bits: int) -> None:
        self.rows, self.bits = shape.rows, bits
        self.registers = [[Signal(shape.rows * bits, name=f"{name}_{s}_{c}")
                           for c in range(shape.cols)] for s in range(shape.slots)]

    def row(self, slot, index):
        """Return region row ``index`` (a tile column, ``0 <= index < cols``) of ``slot``."""
        return select([select(per_slot, index) for per_slot in self.registers], slot)

    def write_row(self, m: Module, enable, slot, index, value) -> None:
        """Write one whole region row (DMA beat segment)."""
        enable, slot = materialise(m, enable, "row_en"), materialise(m, slot, "row_slot")
        index = materialise(m, index, "row_index")
        for s, per_slot in enumerate(self.registers):
            for c, register in enumerate(per_slot):
                with m.If(enable & equals(slot, s) & equals(index, c)):
                    m.d.sync += register.eq(value)

    def read_beat(self, slot, beat, beats: SimdBeats) -> list:
        """Return the ``beats.used`` elements of SIMD beat ``beat`` (lane order)."""
        group, part = beats.split(beat)
        p, w = beats.rows_per_beat, beats.width
        registers = [select([per_slot[c] for per_slot in self.registers], slot)
                     for c in range(len(self.registers[0]))]

        def cell(column: int, k: int):  # row g·P + k of ``column``, over the row groups g
            return select([registers[column][(g * p + k) * self.bits:][:self.bits]
                           for g in range(self.rows // p)], group)

        return [select([cell(q * w + j, k) for q in range(beats.slices)], part)
                if beats.slices > 1 else cell(j, k)
                for k in range(p) for j in range(w)]

    def write_beat(self, m: Module, enable, slot, beat, values: list,
                   beats: SimdBeats) -> None:
        """Write SIMD beat ``beat`` (``values`` in lane order) into its rows and columns."""
        enable, slot = materialise(m, enable, "beat_en"), materialise(m, slot, "beat_slot")
        beat = materialise(m, beat, "beat_index")
        group, part = beats.split(beat)
        p, w = beats.rows_per_beat, beats.width
        groups = [materialise(m, equals(group, g), f"beat_group_{g}")
                  for g in range(self.rows // p)]
        parts = [materialise(m, equals(part, q), f"beat_part_{q}")
                 for q in range(beats.slices)]
        for s, per_slot in enumerate(self.registers):
            with m.If(enable & equals(slot, s)):
                for c, register in enumerate(per_slot):
                    q, j = divmod(c, w)
                    m.d.sync += register.eq(Cat(*[
                        Mux(groups[r // p] & parts[q], values[(r % p) * w + j],
                            register[r * self.bits:(r + 1) * self.bits])
                        for r in range(self.rows)]))


class OutputBuffer(wiring.Component):
    """The output buffer's result and cold regions (see the module docstring).

    Ports: ``dma`` (``fill``: {en, slot, row, width, data} writes the cold rows ``row ..``
    below ``width`` of a response beat; ``beat``: {dest, slot, row, width} -> ``data``,
    ``strobe``, the write beat of a result or cold run from region row ``row``), ``simd``
    (``slot``, ``read_beat`` -> ``cold``, a SIMD beat of the cold region; ``cold_write``,
    ``result_write``: {en, beat, data}, a SIMD beat into its rows and columns of ``slot``;
    see :class:`SimdBeats`).
    """

    def __init__(self, shape: OutputShape) -> None:
        self.shape = shape
        super().__init__({"dma": In(shape.dma_signature()),
                          "simd": In(shape.simd_signature())})

    def elaborate(self, platform):
        m = Module()
        shape = self.shape
        result = _Region("result", shape, ELEMENT)
        cold = _Region("cold", shape, 32)

        fill = self.dma.fill
        for s, piece in enumerate(pieces(fill.data, shape.rows * 32)):
            row = Signal(signed(shape.row_bits + 1), name=f"cold_in_row_{s}")
            m.d.comb += row.eq(fill.row.as_signed() + s)
            cold.write_row(m, fill.en & inside(row, fill.width), fill.slot, row, piece)
        self._write_beat(m, {RESULT: (result, 2), COLD: (cold, 4)})

        simd, beats = self.simd, shape.beats
        m.d.comb += simd.cold.eq(Cat(*cold.read_beat(simd.slot, simd.read_beat, beats)))
        write = simd.cold_write
        cold.write_beat(m, write.en, simd.slot, write.beat, pieces(write.data, 32), beats)
        write = simd.result_write
        result.write_beat(m, write.en, simd.slot, write.beat, pieces(write.data, ELEMENT),
                          beats)
        return m

    def _write_beat(self, m: Module, regions: dict) -> None:
        """Drive ``dma.data`` / ``dma.strobe``: the beat of ``dma.beat``'s region rows."""
        shape, beat = self.shape, self.dma.beat
        lane_bits = max(1, (shape.cols - 1).bit_length())
        beats = {}
        for dest, (region, element_bytes) in regions.items():
            row_bytes = element_bytes * shape.rows
            parts, strobes = [], []
            for s in range(shape.beat // 8 // row_bytes):
                row = Signal(signed(shape.row_bits + 1), name=f"beat_{dest}_row_{s}")
                m.d.comb += row.eq(beat.row.as_signed() + s)
                valid = inside(row, beat.width)
                parts.append(Mux(valid, region.row(beat.slot, row[:lane_bits]), 0))
                strobes.append(Mux(valid, (1 << row_bytes) - 1, 0))
            beats[dest] = (Cat(*parts), Cat(*strobes))
        with m.If(equals(beat.dest, COLD)):
            m.d.comb += [self.dma.data.eq(beats[COLD][0]), self.dma.strobe.eq(beats[COLD][1])]
        with m.Else():
            m.d.comb += [self.dma.data.eq(beats[RESULT][0]),
                         self.dma.strobe.eq(beats[RESULT][1])]


def tile_rows_layout(cols: int) -> data.StructLayout:
    """Return a drained tile row: C int32 and ``last`` (the systolic engine's ``o_c``)."""
    return data.StructLayout({"data": data.ArrayLayout(signed(32), cols), "last": 1})


def drain_signature(entries: int) -> wiring.Signature:
    """Return the result queue's drain port: where draining rows go, and a tile's end."""
    bits = max(1, (entries - 1).bit_length())
    return wiring.Signature({"entry": Out(bits), "part": Out(1), "drained": In(1)})


def tile_read_signature(entries: int, beats: SimdBeats) -> wiring.Signature:
    """Return the SIMD engine's tile port: beats of an entry's parts, and freeing it."""
    bits = max(1, (entries - 1).bit_length())
    return wiring.Signature({
        "entry": Out(bits), "a_part": Out(1), "beat": Out(range(beats.count + 1)),
        "free": Out(1), "a_data": In(beats.used * 32), "a_holds": In(1),
        "part0_data": In(beats.used * 32), "part0_holds": In(1),
    })


class TileStore(wiring.Component):
    """Systolic result tiles: ``entries × 2 parts × rows`` rows of ``cols`` int32.

    Ports: ``i_rows`` (stream of tile rows, always ready; ``last`` ends a tile), ``drain``
    (the entry and part the rows go to; ``drained`` in the cycle of a tile's last row, which
    then holds data), ``simd`` (``entry`` / ``a_part`` / ``beat`` -> ``a_data`` and
    ``part0_data``, SIMD beats (:class:`SimdBeats`) of part ``a_part`` and of part 0,
    combinational, with whether each part holds a tile; ``free`` clears both parts of
    ``entry``). The rows lie in P banks (row r in bank ``r mod P``), so a beat reads its P
    rows at once.
    """

    def __init__(self, *, entries: int, beats: SimdBeats) -> None:
        self.entries, self.beats = entries, beats
        super().__init__({
            "i_rows": In(stream.Signature(tile_rows_layout(beats.cols))),
            "drain": In(drain_signature(entries)),
            "simd": In(tile_read_signature(entries, beats)),
        })

    def elaborate(self, platform):
        m = Module()
        beats = self.beats
        p, groups = beats.rows_per_beat, beats.rows // beats.rows_per_beat
        shift = log2(p)
        banks = []
        for k in range(p):
            memory = Memory(shape=unsigned(beats.cols * 32), depth=self.entries * 2 * groups,
                            init=[])
            m.submodules[f"bank{k}" if p > 1 else "memory"] = memory
            banks.append((memory.write_port(),
                          [memory.read_port(domain="comb") for _ in range(2)]))
        has = [[Signal(name=f"tile_has_{e}_{p}") for p in range(2)]
               for e in range(self.entries)]

        def address(entry, part, group):
            return (entry * 2 + part) * groups + group

        drain_row = Signal(range(beats.rows))
        incoming, drain = self.i_rows, self.drain
        m.d.comb += incoming.ready.eq(1)
        with m.If(incoming.valid):
            for k, (write, _) in enumerate(banks):
                m.d.comb += [write.addr.eq(address(drain.entry, drain.part, drain_row[shift:])),
                             write.data.eq(incoming.payload.data.as_value()),
                             write.en.eq(equals(drain_row[:shift], k) if p > 1 else 1)]
            m.d.sync += drain_row.eq(Mux(incoming.payload.last, 0, drain_row + 1))
            with m.If(incoming.payload.last):
                m.d.comb += drain.drained.eq(1)
                for e, per_entry in enumerate(has):
                    for part, flag in enumerate(per_entry):
                        with m.If(equals(drain.entry, e) & equals(drain.part, part)):
                            m.d.sync += flag.eq(1)

        simd = self.simd
        group, part = beats.split(simd.beat)
        outputs = ([], [])
        for _, reads in banks:
            for port, (which, out) in zip(reads, ((simd.a_part, outputs[0]),
                                                  (0, outputs[1])), strict=True):
                m.d.comb += port.addr.eq(address(simd.entry, which, group))
                slices = pieces(port.data, beats.width * 32)
                out.append(select(slices, part) if beats.slices > 1 else slices[0])
        m.d.comb += [simd.a_data.eq(Cat(*outputs[0])), simd.part0_data.eq(Cat(*outputs[1]))]
        flags = select([Cat(*per) for per in has], simd.entry)
        m.d.comb += [simd.a_holds.eq(Mux(simd.a_part, flags[1], flags[0])),
                     simd.part0_holds.eq(flags[0])]
        with m.If(simd.free):
            for e, per_entry in enumerate(has):
                with m.If(equals(simd.entry, e)):
                    m.d.sync += [flag.eq(0) for flag in per_entry]
        return m
