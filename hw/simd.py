"""SIMD element unit: ``lanes`` 16-bit lanes for requantise, GELU, GEGLU, add and τ-compare.

The arithmetic, the number formats and the GELU approximation are those of the bit-exact
reference :mod:`colsim.fixed_arith` (read its docstring); the GELU knots come from it.

Ports:

* ``i_data``: stream of {``op`` (2 bits, :class:`~colsim.fixed_arith.SimdOp`),
  ``a``: lanes × int32, ``b``: lanes × int32, ``last``}. ``a`` carries the accumulators (the
  gate for GEGLU), ``b`` the GEGLU value accumulators or the cold contribution for ADD; it is
  ignored by REQUANT and GELU.
* ``o_data``: stream of {``data``: lanes × int16, ``hot``: lanes bits, ``last``}. ``hot`` is
  the lane-wise OR of ``|data| > tau`` over the beats of the current group, this one included;
  the group ends (and the OR restarts) after a beat with ``last``.
* ``shift`` (5 bits, requantisation shift of the accumulators) and ``tau`` (int16 threshold)
  are registers of the caller, held stable while beats are in flight.

Timing: a two-stage pipeline (operand requantisation; GELU, GEGLU product and compare), one
beat per cycle, a beat appears on ``o_data`` two cycles after it was accepted. A stalled
sink stalls the whole pipeline (``i_data.ready`` follows ``o_data``'s space).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.fixed_arith import (
    INT16_MAX,
    INT16_MIN,
    MAX_SHIFT,
    GeluTable,
    SimdOp,
    gelu_table,
)

ELEMENT = signed(16)
ACCUMULATOR = signed(32)


class SimdUnit(wiring.Component):
    """A ``lanes``-wide fixed-point element unit (see the module docstring for the ports)."""

    def __init__(self, lanes: int, frac_bits: int, segment_bits: int) -> None:
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes <= 0:
            raise TypeError(f"`lanes` must be a positive integer, not {lanes!r}")
        self._lanes = lanes
        self._table = gelu_table(frac_bits, segment_bits)
        in_layout = data.StructLayout({
            "op": unsigned(2),
            "a": data.ArrayLayout(ACCUMULATOR, lanes),
            "b": data.ArrayLayout(ACCUMULATOR, lanes),
            "last": 1,
        })
        out_layout = data.StructLayout({
            "data": data.ArrayLayout(ELEMENT, lanes),
            "hot": lanes,
            "last": 1,
        })
        super().__init__({
            "i_data": In(stream.Signature(in_layout)),
            "o_data": Out(stream.Signature(out_layout)),
            "shift": In(range(MAX_SHIFT + 1)),
            "tau": In(ELEMENT),
        })

    @property
    def lanes(self) -> int:
        """Number of 16-bit lanes."""
        return self._lanes

    @property
    def table(self) -> GeluTable:
        """The GELU knots the unit implements."""
        return self._table

    def elaborate(self, platform):
        m = Module()
        lanes, table = self.lanes, self._table
        op_in = self.i_data.payload.op

        # --- Pipeline control: every stage moves when the output register has room -------
        advance = Signal()
        m.d.comb += [advance.eq(~self.o_data.valid | self.o_data.ready),
                     self.i_data.ready.eq(advance)]

        # --- Stage 1: requantise the operands ---------------------------------------------
        valid1, last1 = Signal(), Signal()
        op1 = Signal(2)
        x1 = [Signal(ELEMENT, name=f"x1_{i}") for i in range(lanes)]
        v1 = [Signal(ELEMENT, name=f"v1_{i}") for i in range(lanes)]
        with m.If(advance):
            m.d.sync += [valid1.eq(self.i_data.valid), last1.eq(self.i_data.payload.last),
                         op1.eq(op_in)]
            for i in range(lanes):
                a, b = self.i_data.payload.a[i], self.i_data.payload.b[i]
                total = Mux(op_in == int(SimdOp.ADD), a + b, a)
                m.d.sync += [x1[i].eq(_requantise(m, total, self.shift, f"x_{i}")),
                             v1[i].eq(_requantise(m, b, self.shift, f"v_{i}"))]

        # --- Stage 2: GELU, GEGLU product, result select, hot bits ------------------------
        results, hot = [], Signal(lanes)
        for i in range(lanes):
            gelu = _gelu(m, x1[i], table, f"gelu_{i}")
            product = _cast(m, v1[i] * gelu, ACCUMULATOR, f"geglu_{i}")
            geglu = _requantise(m, product, Const(table.frac_bits, 4), f"geglu_q_{i}")
            result = Signal(ELEMENT, name=f"y_{i}")
            with m.Switch(op1):
                with m.Case(int(SimdOp.GELU)):
                    m.d.comb += result.eq(gelu)
                with m.Case(int(SimdOp.GEGLU)):
                    m.d.comb += result.eq(geglu)
                with m.Default():  # REQUANT and ADD: the requantised operand itself
                    m.d.comb += result.eq(x1[i])
            magnitude = _magnitude(m, result, f"y_mag_{i}")
            m.d.comb += hot[i].eq(magnitude > _cast(m, self.tau, magnitude.shape(), f"tau_{i}"))
            results.append(result)

        # --- Output register and the group's running OR of hot bits -----------------------
        group_hot = Signal(lanes)  # OR of the hot bits of the group's beats already output
        with m.If(advance):
            m.d.sync += self.o_data.valid.eq(valid1)
            with m.If(valid1):
                m.d.sync += [self.o_data.payload.data[i].eq(results[i]) for i in range(lanes)]
                m.d.sync += [self.o_data.payload.hot.eq(group_hot | hot),
                             self.o_data.payload.last.eq(last1),
                             group_hot.eq(Mux(last1, 0, group_hot | hot))]
        return m


def _cast(m: Module, value, shape, name: str) -> Signal:
    """Return a net of ``shape`` driven by ``value``.

    Arithmetic and comparisons below take operands of one width, so that the generated
    Verilog never relies on implicit extension (Verilator's WIDTHEXPAND).
    """
    net = Signal(shape, name=name)
    m.d.comb += net.eq(value)
    return net


def _magnitude(m: Module, value, name: str) -> Signal:
    """Return ``|value|`` of a signed value as a signed net one bit wider."""
    shape = signed(len(value) + 1)
    wide = _cast(m, value, shape, f"{name}_wide")
    return _cast(m, Mux(value[-1], Const(0, shape) - wide, wide), shape, name)


def _requantise(m: Module, value, shift, name: str) -> Signal:
    """Return ``sat16(floor((value + 2**(shift-1)) / 2**shift))`` (round half up)."""
    shape = signed(len(value) + 1)
    wide = _cast(m, value, shape, f"{name}_wide")
    rounding = _cast(m, (Const(1, shape.width) << shift) >> 1, shape, f"{name}_round")
    total = _cast(m, wide + rounding, shape, f"{name}_total")
    shifted = _cast(m, total >> shift, shape, f"{name}_shifted")
    out = Signal(ELEMENT, name=name)
    with m.If(shifted > Const(INT16_MAX, shape)):
        m.d.comb += out.eq(INT16_MAX)
    with m.Elif(shifted < Const(INT16_MIN, shape)):
        m.d.comb += out.eq(INT16_MIN)
    with m.Else():
        m.d.comb += out.eq(shifted)
    return out


def _gelu(m: Module, x, table: GeluTable, name: str) -> Signal:
    """Return ``relu(x) - h(|x|)``, ``h`` interpolated between the table's knots."""
    sub = table.sub_bits
    magnitude = _magnitude(m, x, f"{name}_mag")
    segment = magnitude[sub:]
    shape = signed(28)  # holds knots, deltas (< 2**12 at Q.14) × fractions (< 2**14), sums
    knot = Signal(shape, name=f"{name}_knot")
    delta = Signal(shape, name=f"{name}_delta")
    inside = Signal(name=f"{name}_inside")
    with m.Switch(segment):
        for k in range(table.segments):
            with m.Case(k):
                m.d.comb += [knot.eq(table.knots[k]), delta.eq(table.deltas[k]), inside.eq(1)]
        with m.Default():  # beyond the table: h = 0
            m.d.comb += [knot.eq(0), delta.eq(0), inside.eq(0)]
    if sub:
        fraction = _cast(m, magnitude[:sub], shape, f"{name}_fraction")
        product = _cast(m, delta * fraction, shape, f"{name}_product")
        rounded = _cast(m, product + Const(1 << (sub - 1), shape), shape, f"{name}_rounded")
        step = _cast(m, rounded >> sub, shape, f"{name}_step")
        tail = _cast(m, knot + step, shape, f"{name}_tail")
    else:
        tail = knot
    relu = _cast(m, Mux(x[-1], 0, x), shape, f"{name}_relu")
    return _cast(m, relu - Mux(inside, tail, Const(0, shape)), ELEMENT, name)
