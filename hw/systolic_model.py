"""Pure-Python reference model of the systolic matrix engine (no Amaranth import).

The engine computes output tiles ``C_tile = A_tile · B_tile`` where ``A_tile`` is R×K int16,
``B_tile`` is K×C int16 and the R×C result is int32 with two's-complement wrap-around, exactly
like ``numpy.matmul`` on ``int32`` arrays. Operands arrive as K *steps*: step k carries column k
of ``A_tile`` (an R-vector, with ``last`` set on the final step) and row k of ``B_tile`` (a
C-vector). Results leave as R *row beats*: beat i carries row i of the tile (a C-vector of
int32, with ``last`` set on row R-1).

This module also holds the operand/result packing shared by every bench of the engine:
:func:`tile_steps` cuts an M×K by K×N product into those steps (zero-padding ragged edges)
and :func:`assemble_tiles` rebuilds the M×N product from the row beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


@dataclass(frozen=True)
class OperandStep:
    """One accepted input step: column k of A (length R), row k of B (length C)."""

    a: tuple[int, ...]
    b: tuple[int, ...]
    last: bool


@dataclass(frozen=True)
class ResultRow:
    """One output beat: row ``index`` of a result tile (length C, int32)."""

    data: tuple[int, ...]
    last: bool


def wrap_int32(value: int) -> int:
    """Return ``value`` reduced to the int32 range with two's-complement wrap-around."""
    return ((value + (1 << 31)) % (1 << 32)) - (1 << 31)


class SystolicEngineModel:
    """Transaction-level model: feed :class:`OperandStep` objects, collect :class:`ResultRow`.

    ``rows`` × ``cols`` is the array size. The model is exact for results; it does not model
    timing.
    """

    def __init__(self, rows: int, cols: int) -> None:
        if not isinstance(rows, int) or rows <= 0:
            raise ValueError(f"`rows` must be a positive integer, not {rows!r}")
        if not isinstance(cols, int) or cols <= 0:
            raise ValueError(f"`cols` must be a positive integer, not {cols!r}")
        self.rows, self.cols = rows, cols
        self._acc = [[0] * cols for _ in range(rows)]
        self.results: list[ResultRow] = []

    def step(self, step: OperandStep) -> None:
        """Accumulate one operand step; on ``last`` emit the tile's R result rows."""
        if len(step.a) != self.rows or len(step.b) != self.cols:
            raise ValueError(
                f"step must carry {self.rows} A values and {self.cols} B values, "
                f"not {len(step.a)} and {len(step.b)}"
            )
        for i, a in enumerate(step.a):
            row = self._acc[i]
            for j, b in enumerate(step.b):
                row[j] += a * b
        if step.last:
            for i, row in enumerate(self._acc):
                self.results.append(
                    ResultRow(tuple(wrap_int32(v) for v in row), last=i == self.rows - 1)
                )
            self._acc = [[0] * self.cols for _ in range(self.rows)]


def ideal_cycles(tiles: int, k: int, rows: int, cols: int) -> int:
    """Return the engine's cycles for ``tiles`` back-to-back tiles of ``k`` steps, no stalls.

    Counted from the first accepted step to the cycle after the last result row leaves. A tile's
    last step may enter only once the previous tile has fully drained, which takes ``rows +
    cols`` cycles after that tile's last step; the final tile's rows then need ``rows + cols -
    1`` cycles to appear and drain. This is the RTL's exact timing (tested) and the compute-time
    model of one tile op: ``k`` cycles for the first tile, then ``max(k, rows + cols)`` each.
    """
    if tiles <= 0:
        return 0
    return k + (tiles - 1) * max(k, rows + cols) + rows + cols - 1


def reference_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``a @ b`` for int16 operands with int32 wrap-around accumulation."""
    _check_operands(a, b)
    return np.matmul(a.astype(np.int32), b.astype(np.int32))


def tile_steps(a: np.ndarray, b: np.ndarray, rows: int, cols: int) -> list[OperandStep]:
    """Cut ``a`` (M×K) · ``b`` (K×N) into operand steps for an ``rows``×``cols`` engine.

    Output tiles are visited row-tile-major (all column tiles of token rows 0..R-1 first).
    Ragged edges are padded with zeros; :func:`assemble_tiles` drops the padding again.
    """
    _check_operands(a, b)
    m, k = a.shape
    n = b.shape[1]
    steps = []
    for m0 in range(0, m, rows):
        a_tile = np.zeros((rows, k), dtype=np.int64)
        a_tile[: min(rows, m - m0)] = a[m0 : m0 + rows]
        for n0 in range(0, n, cols):
            b_tile = np.zeros((k, cols), dtype=np.int64)
            b_tile[:, : min(cols, n - n0)] = b[:, n0 : n0 + cols]
            for kk in range(k):
                steps.append(
                    OperandStep(
                        a=tuple(int(v) for v in a_tile[:, kk]),
                        b=tuple(int(v) for v in b_tile[kk]),
                        last=kk == k - 1,
                    )
                )
    return steps


def assemble_tiles(
    rows_out: list[ResultRow], m: int, n: int, rows: int, cols: int
) -> np.ndarray:
    """Rebuild the M×N int32 product from row beats produced in :func:`tile_steps` order."""
    tiles_m, tiles_n = -(-m // rows), -(-n // cols)
    expected = tiles_m * tiles_n * rows
    if len(rows_out) != expected:
        raise ValueError(f"expected {expected} result rows, got {len(rows_out)}")
    out = np.zeros((tiles_m * rows, tiles_n * cols), dtype=np.int32)
    beat = 0
    for tm in range(tiles_m):
        for tn in range(tiles_n):
            for i in range(rows):
                row = rows_out[beat]
                if row.last != (i == rows - 1):
                    raise ValueError(
                        f"result row {beat} has last={row.last}, expected {i == rows - 1}"
                    )
                out[tm * rows + i, tn * cols : (tn + 1) * cols] = row.data
                beat += 1
    return out[:m, :n]


def _check_operands(a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or a.shape[1] == 0:
        raise ValueError(f"operand shapes {a.shape} and {b.shape} do not form a matrix product")
    for name, arr in (("a", a), ("b", b)):
        if arr.size and (arr.min() < INT16_MIN or arr.max() > INT16_MAX):
            raise ValueError(f"`{name}` holds values outside int16")
