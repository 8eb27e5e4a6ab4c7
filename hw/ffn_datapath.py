"""The FFN engine top's data storage: operand buffers, output regions, result tiles.

Built inline into the top's module (like its sequencer), each with the row organisation of
:mod:`colsim.hw.onchip`:

* :class:`RowBuffer` — the input or weight buffer: ``slots × rows`` rows of ``lanes`` int16
  in ``banks`` interleaved memories (row g in bank ``g mod banks``), so that the consecutive
  rows one DRAM beat fills are written in one cycle. ``gather`` writes the taken V-element
  segments of a beat to consecutive rows (``ROWS``), ``column`` writes E consecutive
  elements into one lane of E consecutive rows (``COLUMN``, needs ``banks = E``);
  ``read`` returns one row, asynchronously (the array consumes it in the same cycle).
* :class:`RegionFile` — the output buffer's result or cold region: per slot C rows of R
  elements, registers (the SIMD unit writes a tile row across all C rows at once, DMA beats
  move whole rows).
* :class:`TileStore` — finished systolic tiles (int32 rows) of the result queue's entries,
  one per (entry, part), and which of them hold data.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib.memory import Memory

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


class RowBuffer:
    """Banked row memory of the input or weight buffer (see the module docstring)."""

    def __init__(self, m: Module, name: str, *, slots: int, rows: int, lanes: int,
                 banks: int) -> None:
        self.rows, self.lanes, self.banks = rows, lanes, banks
        self.total = slots * rows
        self._shift = log2(banks)
        depth = slots * rows // banks
        self._writes, self._reads = [], []
        for b in range(banks):
            memory = Memory(shape=unsigned(lanes * ELEMENT), depth=depth, init=[])
            m.submodules[f"{name}_bank{b}"] = memory
            self._writes.append(memory.write_port(granularity=ELEMENT))
            self._reads.append(memory.read_port(domain="comb"))
        self._m = m

    def global_row(self, slot, row) -> Signal:
        """Return the row index over all slots of ``row`` in ``slot``."""
        g = Signal(range(self.total))
        self._m.d.comb += g.eq(slot * self.rows + row)
        return g

    def read(self, slot, row):
        """Return row ``row`` of ``slot`` (``lanes`` int16 as one value), combinationally."""
        g = self.global_row(slot, row)
        for port in self._reads:
            self._m.d.comb += port.addr.eq(g >> self._shift)
        data = [port.data for port in self._reads]
        return select(data, g[:self._shift]) if self.banks > 1 else data[0]

    def gather(self, enable, slot, row, mask, segments: list) -> None:
        """Write the ``mask``-selected ``segments`` to consecutive rows from ``row``.

        The k-th selected segment lands in row ``row + k``, so bank ``b`` receives item
        ``k = (b - row) mod banks`` when ``k`` is below the number selected: one multiplexer
        per bank over the compacted segments (needs ``banks >= len(segments)``: a beat writes
        each bank at most once).
        """
        assert self.banks >= len(segments), "a beat would write one bank twice"
        m = self._m
        enable, mask = materialise(m, enable, "gather_en"), materialise(m, mask, "gather_mask")
        g0 = self.global_row(slot, row)
        items = self._compacted(mask, segments)
        count = materialise(m, popcount_below(mask, len(segments)), "gather_count")
        for b, port in enumerate(self._writes):
            item = Signal(max(1, self._shift), name=f"gather_item_{b}")  # k of bank b
            m.d.comb += item.eq(b - g0[:self._shift])
            with m.If(enable & (item < count)):
                m.d.comb += [port.addr.eq(self._bank_address(g0, b)),
                             port.data.eq(select(items, item)),
                             port.en.eq((1 << self.lanes) - 1)]

    def _compacted(self, mask, segments: list) -> list:
        """Return the ``mask``-selected ``segments`` in order (item k = the k-th selected)."""
        m = self._m
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
        if bank == self.banks - 1:  # every row group reaches the last bank (lint-clean)
            return g0 >> self._shift
        return (g0 >> self._shift) + (g0[:self._shift] > bank)

    def column(self, enable, slot, row, lane, elements: list) -> None:
        """Write ``elements`` (one per bank) into ``lane`` of consecutive rows from ``row``."""
        m = self._m
        enable, lane = materialise(m, enable, "column_en"), materialise(m, lane, "column_lane")
        g0 = self.global_row(slot, row)
        for b, port in enumerate(self._writes):
            offset = Signal(max(1, self._shift))  # which element lands in bank b
            m.d.comb += offset.eq(b - g0[:self._shift])
            with m.If(enable):
                m.d.comb += [port.addr.eq(self._bank_address(g0, b)),
                             port.data.eq(Cat(*[select(elements, offset)] * self.lanes)),
                             port.en.eq(select([1 << c for c in range(self.lanes)], lane))]


class RegionFile:
    """One output region: per slot ``cols`` rows of ``rows`` elements of ``bits`` bits."""

    def __init__(self, name: str, *, slots: int, cols: int, rows: int, bits: int) -> None:
        self.rows, self.bits, self.cols = rows, bits, cols
        self.registers = [[Signal(rows * bits, name=f"{name}_{s}_{c}") for c in range(cols)]
                          for s in range(slots)]

    def row(self, slot, index):
        """Return region row ``index`` (a tile column, ``0 <= index < cols``) of ``slot``."""
        return select([select(per_slot, index) for per_slot in self.registers], slot)

    def element(self, slot, column: int, index):
        """Return element ``index`` of row ``column`` of ``slot``."""
        register = select([per_slot[column] for per_slot in self.registers], slot)
        return select([register[r * self.bits:(r + 1) * self.bits] for r in range(self.rows)],
                      index)

    def write_row(self, m: Module, enable, slot, index, value) -> None:
        """Write one whole region row (DMA beat segment)."""
        enable, slot = materialise(m, enable, "row_en"), materialise(m, slot, "row_slot")
        index = materialise(m, index, "row_index")
        for s, per_slot in enumerate(self.registers):
            for c, register in enumerate(per_slot):
                with m.If(enable & equals(slot, s) & equals(index, c)):
                    m.d.sync += register.eq(value)

    def write_element(self, m: Module, enable, slot, element, values: list) -> None:
        """Write element ``element`` of every row (one tile row from the SIMD side)."""
        enable, slot = materialise(m, enable, "element_en"), materialise(m, slot, "element_slot")
        element = materialise(m, element, "element_index")
        hits = [materialise(m, equals(element, r), f"element_hit_{r}") for r in range(self.rows)]
        for s, per_slot in enumerate(self.registers):
            with m.If(enable & equals(slot, s)):
                for c, register in enumerate(per_slot):
                    m.d.sync += register.eq(Cat(*[
                        Mux(hit, values[c], register[r * self.bits:(r + 1) * self.bits])
                        for r, hit in enumerate(hits)]))


class TileStore:
    """Systolic result tiles: ``entries × 2 parts × rows`` rows of ``cols`` int32."""

    def __init__(self, m: Module, *, entries: int, rows: int, cols: int) -> None:
        self.rows = rows
        memory = Memory(shape=unsigned(cols * 32), depth=entries * 2 * rows, init=[])
        m.submodules.tile_store = memory
        self.write_port = memory.write_port()
        self._reads = [memory.read_port(domain="comb") for _ in range(2)]
        self.has = [[Signal(name=f"tile_has_{e}_{p}") for p in range(2)]
                    for e in range(entries)]
        self._m = m

    def address(self, entry, part, row):
        """Return the memory row of ``row`` of (``entry``, ``part``)."""
        return (entry * 2 + part) * self.rows + row

    def read(self, port: int, entry, part, row):
        """Return a tile row (C int32) through read port ``port`` (0 or 1)."""
        reader = self._reads[port]
        self._m.d.comb += reader.addr.eq(self.address(entry, part, row))
        return reader.data

    def holds(self, entry, part):
        """Return whether (``entry``, ``part``) holds a finished tile."""
        flags = select([Cat(*per) for per in self.has], entry)
        return Mux(part, flags[1], flags[0])
