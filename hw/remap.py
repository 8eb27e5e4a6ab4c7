"""Hot-cold address remapper: logical column → physical DRAM address and its coordinates.

Behaviour is that of :func:`colsim.hw.remap_model.remap` (read its docstring): the address is
``base + table[column] · stride + offset`` (or ``column`` itself for ``table[column]`` when
``identity`` is set, the row-major layout without programming the table), and its DRAM
coordinates come from the same mixed-radix decode as the DRAM model's
(:func:`colsim.hw.remap_model.decode_stages`).

Ports:

* ``i_table``: stream of {``index``, ``slot``}: writes ``table[index] = slot`` (always ready).
* ``i_col``: stream of {``column``, ``offset`` (bytes), ``last``}: one request each.
* ``o_req``: stream of {``addr``, ``channel``, ``bankgroup``, ``bank``, ``row``, ``column``,
  ``last``}, in request order.
* ``base``, ``stride`` (bytes) and ``identity``: registers of the caller, stable while
  requests are in flight. Addresses at or beyond the DRAM capacity are the caller's error.

Timing: three stages (table read, address arithmetic, decode), one request per cycle.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.hw.remap_model import DecodeStage, address_bits, decode_stages, reciprocal
from colsim.sim.dram.config import LEVELS


class AddressRemapper(wiring.Component):
    """Map columns through a ``depth``-entry permutation table to decoded DRAM addresses."""

    def __init__(self, depth: int, index_bits: int, addr_bits: int, transaction_bytes: int,
                 stages: tuple[DecodeStage, ...]) -> None:
        for name, value in (("depth", depth), ("index_bits", index_bits),
                            ("addr_bits", addr_bits), ("transaction_bytes", transaction_bytes)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise TypeError(f"`{name}` must be a positive integer, not {value!r}")
        if depth > 1 << index_bits:
            raise ColsimError(f"`depth` {depth} needs more than `index_bits` = {index_bits}")
        if transaction_bytes & (transaction_bytes - 1):
            raise ColsimError(
                f"`transaction_bytes` must be a power of two, not {transaction_bytes}"
            )
        if sorted(stage.level for stage in stages) != sorted(LEVELS):
            raise ColsimError(f"decode stages must name each of {', '.join(LEVELS)} once")
        self._depth, self._index_bits, self._addr_bits = depth, index_bits, addr_bits
        self._transaction_bytes, self._stages = transaction_bytes, tuple(stages)
        req_fields = {"addr": addr_bits}
        req_fields.update({s.level: max(1, (s.radix - 1).bit_length()) for s in stages})
        req_fields["last"] = 1
        super().__init__({
            "i_table": In(stream.Signature(data.StructLayout(
                {"index": index_bits, "slot": index_bits}))),
            "i_col": In(stream.Signature(data.StructLayout(
                {"column": index_bits, "offset": addr_bits, "last": 1}))),
            "o_req": Out(stream.Signature(data.StructLayout(req_fields))),
            "base": In(addr_bits),
            "stride": In(addr_bits),
            "identity": In(1),
        })

    @property
    def depth(self) -> int:
        """Entries of the permutation table (the largest N it maps)."""
        return self._depth

    @property
    def stages(self) -> tuple[DecodeStage, ...]:
        """The decode digits, least significant first."""
        return self._stages

    def elaborate(self, platform):
        m = Module()
        out = self.o_req

        # --- Permutation table --------------------------------------------------------------
        m.submodules.table = table = Memory(shape=self._index_bits, depth=self._depth, init=[])
        write = table.write_port()
        m.d.comb += [write.addr.eq(self.i_table.payload.index),
                     write.data.eq(self.i_table.payload.slot),
                     write.en.eq(self.i_table.valid), self.i_table.ready.eq(1)]

        advance = Signal()
        m.d.comb += [advance.eq(~out.valid | out.ready), self.i_col.ready.eq(advance)]

        # --- Stage 1: table read ------------------------------------------------------------
        read = table.read_port()
        m.d.comb += [read.addr.eq(self.i_col.payload.column), read.en.eq(advance)]
        valid1, last1 = Signal(), Signal()
        column1 = Signal(self._index_bits)
        offset1 = Signal(self._addr_bits)
        with m.If(advance):
            m.d.sync += [valid1.eq(self.i_col.valid), last1.eq(self.i_col.payload.last),
                         column1.eq(self.i_col.payload.column),
                         offset1.eq(self.i_col.payload.offset)]

        # --- Stage 2: address arithmetic ----------------------------------------------------
        valid2, last2 = Signal(), Signal()
        address2 = Signal(self._addr_bits)
        slot = Signal(self._index_bits)
        m.d.comb += slot.eq(Mux(self.identity, column1, read.data))
        with m.If(advance):
            m.d.sync += [valid2.eq(valid1), last2.eq(last1),
                         address2.eq(self.base + slot * self.stride + offset1)]

        # --- Stage 3: mixed-radix decode into the output register ---------------------------
        digits = self._decode(m, address2)
        with m.If(advance):
            m.d.sync += [out.valid.eq(valid2), out.payload.addr.eq(address2),
                         out.payload.last.eq(last2)]
            m.d.sync += [getattr(out.payload, level).eq(d) for level, d in digits.items()]
        return m

    def _decode(self, m: Module, address) -> dict[str, Signal]:
        """Return the coordinate digits of ``address`` (the DRAM model's mapping)."""
        rest = address[(self._transaction_bytes - 1).bit_length():]
        digits = {}
        for stage in self._stages:
            name, radix = stage.level, stage.radix
            digit = Signal(max(1, (radix - 1).bit_length()), name=f"digit_{name}")
            width = len(rest)
            if radix & (radix - 1) == 0:  # a power of two: a bit field
                bits = (radix - 1).bit_length()
                m.d.comb += digit.eq(rest[:bits])
                quotient = rest[bits:]
            else:  # divide by multiplying with the exact reciprocal
                multiplier, shift = reciprocal(radix, width)
                quotient = Signal(width, name=f"quotient_{name}")
                m.d.comb += quotient.eq((rest * multiplier) >> shift)
                m.d.comb += digit.eq(rest - quotient * radix)
            digits[name] = digit
            rest = quotient if len(quotient) else Const(0, 1)
        return digits


def remapper_for(hw: HardwareConfig) -> AddressRemapper:
    """Return the remapper of ``hw``: its DRAM's decode and address width, and a table of
    ``hw.layers.max_hidden`` entries (any depth works; columns must be below it)."""
    dram = hw.dram_config
    return AddressRemapper(hw.layers.max_hidden, hw.layers.index_bits, address_bits(dram),
                           dram.organization.transaction_bytes, decode_stages(dram))
