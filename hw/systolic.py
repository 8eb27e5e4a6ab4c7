"""Output-stationary systolic matrix engine: R×C int16 multiply-accumulate array.

Dataflow: **output-stationary**. Processing element (i, j) owns the int32 accumulator of
output element (i, j) of the current tile. Each accepted step injects column k of the A tile
(one int16 per row) at the left edge and row k of the B tile (one int16 per column) at the top
edge; A values move right and B values move down one PE per cycle, so the input skew (row i
delayed by i cycles, column j by j cycles) makes A[i, k] meet B[k, j] in PE (i, j).

Why output-stationary: the FFN's reduction dimension K (d for X·W1, the hot hidden width for
H·W2) is long and varies per layer and iteration, while an output tile is small and fixed. With
accumulators held in the PEs a tile of any K streams through without moving partial sums, the
int32 sums never leave the array until they are final, and a tile of hot columns is simply the
set of B columns streamed in, which is what the column-skip logic produces.

Protocol:

* ``i_a`` (R int16 values + ``last``) and ``i_b`` (C int16 values) are consumed together: a
  step is accepted when both are valid and the engine is ready. ``last`` marks the final step of
  a tile; the next accepted step starts a new tile (its accumulators restart from zero).
* ``o_c`` emits the tile as R beats of C int32 values (row 0 first), ``last`` on row R-1.
* Back-pressure: the engine holds one finished tile in a result buffer while it drains; the
  *last* step of the following tile is not accepted until that buffer is empty, so a stalled
  sink stalls the sources without losing data. Other steps are always accepted.
* Accumulation wraps modulo 2**32 (two's complement), as ``numpy.matmul`` on int32.

Timing without stalls: a tile of K steps occupies the array for K cycles; its row i is ready
``i + C`` cycles after its last step was accepted, so tiles stream at one step per cycle when
K ≥ R + C and pay ``R + C - K`` idle cycles each otherwise (see
:func:`colsim.hw.systolic_model.SystolicEngineModel`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

OPERAND = signed(16)
ACCUMULATOR = signed(32)


class SystolicEngine(wiring.Component):
    """An ``rows`` × ``cols`` output-stationary int16×int16→int32 systolic array.

    Ports: ``i_a`` (stream of {data: rows × int16, last}), ``i_b`` (stream of cols × int16),
    ``o_c`` (stream of {data: cols × int32, last}).
    """

    def __init__(self, rows: int, cols: int) -> None:
        if not isinstance(rows, int) or isinstance(rows, bool) or rows <= 0:
            raise TypeError(f"`rows` must be a positive integer, not {rows!r}")
        if not isinstance(cols, int) or isinstance(cols, bool) or cols <= 0:
            raise TypeError(f"`cols` must be a positive integer, not {cols!r}")
        self._rows, self._cols = rows, cols
        a_layout = data.StructLayout({"data": data.ArrayLayout(OPERAND, rows), "last": 1})
        b_layout = data.ArrayLayout(OPERAND, cols)
        c_layout = data.StructLayout({"data": data.ArrayLayout(ACCUMULATOR, cols), "last": 1})
        super().__init__({
            "i_a": In(stream.Signature(a_layout)),
            "i_b": In(stream.Signature(b_layout)),
            "o_c": Out(stream.Signature(c_layout)),
        })

    @property
    def rows(self) -> int:
        """Number of PE rows (output tile height, R)."""
        return self._rows

    @property
    def cols(self) -> int:
        """Number of PE columns (output tile width, C)."""
        return self._cols

    def elaborate(self, platform):
        m = Module()
        rows, cols = self.rows, self.cols

        # --- Step acceptance -------------------------------------------------------------
        tile_pending = Signal()        # a finished tile occupies (or is filling) the result buffer
        expect_first = Signal(init=1)  # the next accepted step opens a new tile
        both_valid = self.i_a.valid & self.i_b.valid
        accept = Signal()
        m.d.comb += accept.eq(both_valid & ~(self.i_a.payload.last & tile_pending))
        m.d.comb += [self.i_a.ready.eq(accept), self.i_b.ready.eq(accept)]
        with m.If(accept):
            m.d.sync += expect_first.eq(self.i_a.payload.last)

        # Injected values: the accepted step, or a zero bubble (adds nothing, carries no tags).
        inject_a = [Signal(OPERAND, name=f"inject_a{i}") for i in range(rows)]
        inject_b = [Signal(OPERAND, name=f"inject_b{j}") for j in range(cols)]
        inject_first, inject_last = Signal(), Signal()
        with m.If(accept):
            m.d.comb += [inject_a[i].eq(self.i_a.payload.data[i]) for i in range(rows)]
            m.d.comb += [inject_b[j].eq(self.i_b.payload[j]) for j in range(cols)]
            m.d.comb += [inject_first.eq(expect_first), inject_last.eq(self.i_a.payload.last)]

        # --- Input skew: row i and column j are delayed by i and j cycles ---------------
        row_in = [self._delay(m, (inject_a[i], inject_first, inject_last), i, f"skew_a{i}")
                  for i in range(rows)]
        col_in = [self._delay(m, (inject_b[j],), j, f"skew_b{j}")[0] for j in range(cols)]

        # --- Processing elements ---------------------------------------------------------
        results = [[Signal(ACCUMULATOR, name=f"result_{i}_{j}") for j in range(cols)]
                   for i in range(rows)]
        row_done = Signal(rows)          # row i of the result buffer holds a final tile row
        row_final = Signal(rows)         # the last step is in the row's final PE this cycle
        for i in range(rows):
            a_value, first, last = row_in[i]
            for j in range(cols):
                acc = Signal(ACCUMULATOR, name=f"acc_{i}_{j}")
                total = Signal(ACCUMULATOR, name=f"total_{i}_{j}")
                m.d.comb += total.eq(Mux(first, 0, acc) + a_value * col_in[j])
                m.d.sync += acc.eq(total)
                with m.If(last):
                    m.d.sync += results[i][j].eq(total)
                if j == cols - 1:
                    m.d.comb += row_final[i].eq(last)
                # Pass operands and tags on to the right and downward neighbours.
                if j < cols - 1:
                    a_next = Signal(OPERAND, name=f"a_{i}_{j}")
                    first_next = Signal(name=f"first_{i}_{j}")
                    last_next = Signal(name=f"last_{i}_{j}")
                    m.d.sync += [a_next.eq(a_value), first_next.eq(first), last_next.eq(last)]
                    a_value, first, last = a_next, first_next, last_next
                if i < rows - 1:
                    b_next = Signal(OPERAND, name=f"b_{i}_{j}")
                    m.d.sync += b_next.eq(col_in[j])
                    col_in[j] = b_next

        # --- Result drain: rows leave in order as soon as they are final ----------------
        drain_row = Signal(range(max(rows, 2)))  # at least one bit, even for a single row
        with m.Switch(drain_row):
            for i in range(rows):
                with m.Default() if i == rows - 1 else m.Case(i):
                    m.d.comb += [
                        self.o_c.valid.eq(row_done[i]),
                        self.o_c.payload.data.eq(Cat(*results[i])),
                    ]
        m.d.comb += self.o_c.payload.last.eq(drain_row == rows - 1)
        drained = Signal(rows)
        with m.If(self.o_c.valid & self.o_c.ready):
            m.d.comb += drained.eq(1 << drain_row)
            with m.If(drain_row == rows - 1):
                m.d.sync += [drain_row.eq(0), tile_pending.eq(0)]
            with m.Else():
                m.d.sync += drain_row.eq(drain_row + 1)
        m.d.sync += row_done.eq((row_done | row_final) & ~drained)
        with m.If(accept & self.i_a.payload.last):
            m.d.sync += tile_pending.eq(1)
        return m

    @staticmethod
    def _delay(m: Module, values: tuple, cycles: int, name: str) -> tuple:
        """Return ``values`` delayed by ``cycles`` register stages."""
        for stage in range(cycles):
            regs = tuple(Signal.like(v, name=f"{name}_{stage}_{k}") for k, v in enumerate(values))
            m.d.sync += [r.eq(v) for r, v in zip(regs, values, strict=True)]
            values = regs
        return values
