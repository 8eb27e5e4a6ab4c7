"""Where a schedule's data lands on chip: the buffer row of every transaction and operand.

The FFN engine top's buffers hold one vector per row (per slot):

* **input** rows of R int16 — one A vector (the R tokens of a K position);
* **weight** rows of C int16 — one B vector (the C tile columns' weights of a K position);
* **output** a *result* region of C rows of R int16 (a tile column each, position-major like
  H and Y in DRAM) and a *cold* region of C rows of R int32 (the cold contribution, also
  position-major in DRAM).

A DRAM read transaction (``E = T/2`` int16) is scattered into a slot in one of two ways:

* ``ROWS`` (X, H, W2): the transaction holds ``E/V`` aligned V-element vectors; the ones an op
  of the fill needs (bit s of ``mask``) go to consecutive rows from ``row`` on, so a fill's
  rows are exactly its needed vectors in address order (gather on fill: a scattered hot
  column costs a transaction of DRAM bandwidth but only its own row of SRAM);
* ``COLUMN`` (W1): the transaction holds E consecutive K positions of one column; they go to
  lane ``lane`` (the column's place in the tile) of E consecutive rows from ``row`` on.

Output transfers move region rows: ``RESULT`` / ``COLD`` transaction rows ``row .. row +
T/row_bytes - 1`` (``row`` may be negative: a tile smaller than a transaction starts inside
it), of which rows ``0 .. width-1`` belong to the tile (the byte strobes).

Every array op then reads rows ``a_row + s`` / ``b_row + s`` at its step s: a fill is
consumed in address order, which :func:`plan_onchip` checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError, ConfigError
from colsim.sim.schedule import ARRAY, INPUT, OUTPUT, PHASES, WEIGHT, Schedule
from colsim.sim.schedule.placement import round_up

ROWS, COLUMN, RESULT, COLD = range(4)
DESTINATIONS = ("rows", "column", "result", "cold")
UP = PHASES.index("up")


@dataclass(frozen=True)
class Geometry:
    """Row shapes of the buffers for a hardware config and transaction size."""

    rows: int  # R
    cols: int  # C
    elements: int  # E = int16 elements per transaction
    input_rows: int  # rows of one input slot
    weight_rows: int  # rows of one weight slot

    @property
    def segments(self) -> int:
        """Return the most V-element vectors a transaction holds (``E / min(R, C)``)."""
        return self.elements // min(self.rows, self.cols)


def geometry(hw: HardwareConfig, transaction_bytes: int) -> Geometry:
    """Return the buffer geometry; raise ConfigError for shapes the datapath cannot hold."""
    r, c = hw.systolic.rows, hw.systolic.cols
    t = transaction_bytes
    if t % (4 * r) or t % (2 * c):
        raise ConfigError(
            f"a {t}-byte DRAM transaction must hold whole R-token int32 columns and C-wide "
            f"int16 rows (systolic {r}×{c})"
        )
    return Geometry(rows=r, cols=c, elements=t // 2,
                    input_rows=hw.sram.input.slot_bytes // (2 * r),
                    weight_rows=hw.sram.weight.slot_bytes // (2 * c))


@dataclass(frozen=True)
class OnChipPlan:
    """Per transaction (issue order): ``dest``, ``row``, ``row_step``, ``mask``, ``lane``,
    ``width``; per op (program order, array ops only meaningful): ``a_row``, ``b_row``."""

    geometry: Geometry
    dest: np.ndarray
    row: np.ndarray
    row_step: np.ndarray
    mask: np.ndarray
    lane: np.ndarray
    width: np.ndarray
    a_row: np.ndarray
    b_row: np.ndarray


def plan_onchip(schedule: Schedule, hw: HardwareConfig) -> OnChipPlan:
    """Return the on-chip rows of ``schedule``'s transactions and array operands."""
    p = schedule.placement
    geo = geometry(hw, schedule.transaction_bytes)
    n = schedule.n_transactions
    plan = {key: np.zeros(n, dtype=np.int64) for key in
            ("dest", "row", "row_step", "mask", "lane", "width")}
    a_row = np.zeros(schedule.op_unit.size, dtype=np.int64)
    b_row = np.zeros(schedule.op_unit.size, dtype=np.int64)
    vectors: dict[int, list[np.ndarray]] = {}  # rows-mode fill -> needed vector addresses
    reads: list[tuple[int, int, str, np.ndarray]] = []  # (op, fill, operand, addresses)
    columns: dict[int, dict] = {}  # column-mode fill -> k range, parts, tile slots
    for o in np.flatnonzero(schedule.op_unit == ARRAY):
        t, i, part = (int(schedule.op_tile[o]), int(schedule.op_token_tile[o]),
                      int(schedule.op_part[o]))
        ks = np.arange(schedule.op_k0[o], schedule.op_k0[o] + schedule.op_k[o])
        need_a, need_b = (int(v) for v in schedule.op_needs[o, :2])
        if schedule.op_phase[o] == UP:
            a = p.x_address(i, ks)
            info = columns.setdefault(need_b, {"lo": ks[0], "hi": ks[-1] + 1, "parts": set(),
                                               "slots": schedule.up_columns[
                                                   t * geo.cols:(t + 1) * geo.cols]})
            info["lo"], info["hi"] = min(info["lo"], ks[0]), max(info["hi"], ks[-1] + 1)
            info["parts"].add(part)
            reads.append((o, need_b, "b", np.array([part, ks[0]])))
        else:
            a = p.h_address(i, schedule.down_positions[ks])
            b = p.w2_address(t, schedule.down_slots[ks])
            vectors.setdefault(need_b, []).append(b)
            reads.append((o, need_b, "b", b))
        vectors.setdefault(need_a, []).append(a)
        reads.append((o, need_a, "a", a))
    needed = {f: np.unique(np.concatenate(v)) for f, v in vectors.items()}
    size = schedule.transaction_bytes
    for f in range(schedule.tr_buffer.size):
        first, count = int(schedule.tr_first[f]), int(schedule.tr_count[f])
        tx = slice(first, first + count)
        addr = schedule.addr[tx].astype(np.int64)
        if schedule.tr_buffer[f] == OUTPUT:
            _output_rows(schedule, geo, f, addr, plan, tx)
        elif f in columns:
            _column_rows(schedule, geo, columns[f], addr, plan, tx)
        elif f in needed:
            vector = geo.rows if schedule.tr_buffer[f] == INPUT else geo.cols
            _gather_rows(geo, needed[f], vector, addr, plan, tx, size, f)
    for o, f, operand, addresses in reads:
        if f in columns:
            info, (part, k0) = columns[f], addresses
            row = (part - min(info["parts"])) * round_up(info["hi"] - info["lo"],
                                                        geo.elements) + k0 - info["lo"]
        else:
            rank = np.searchsorted(needed[f], addresses)
            row = int(rank[0])
            if not np.array_equal(rank, row + np.arange(rank.size)):
                raise ColsimError(f"op {o} does not read fill {f} in address order")
        (a_row if operand == "a" else b_row)[o] = row
    _check_capacity(schedule, plan, {INPUT: geo.input_rows, WEIGHT: geo.weight_rows})
    return OnChipPlan(geometry=geo, a_row=a_row, b_row=b_row, **plan)


def _gather_rows(geo: Geometry, needed: np.ndarray, vector: int, addr: np.ndarray,
                 plan: dict, tx: slice, size: int, f: int) -> None:
    """Fill ``plan`` for a ROWS-mode fill: which segments each transaction gives, where."""
    per = size // (2 * vector)
    segments = addr[:, None] + 2 * vector * np.arange(per)[None, :]
    take = np.isin(segments, needed)
    if int(take.sum()) != needed.size:
        raise ColsimError(f"fill {f} does not fetch every vector its ops read")
    plan["dest"][tx] = ROWS
    plan["row"][tx] = np.searchsorted(needed, addr)
    plan["mask"][tx] = (take * (1 << np.arange(per))[None, :]).sum(axis=1)
    plan["row_step"][tx] = take.sum(axis=1)


def _column_rows(schedule: Schedule, geo: Geometry, info: dict, addr: np.ndarray,
                 plan: dict, tx: slice) -> None:
    """Fill ``plan`` for a COLUMN-mode (W1) fill."""
    p = schedule.placement
    rel = addr - p.w1
    slot, part = rel // p.w1_record, rel % p.w1_record // p.w1_part
    k = rel % p.w1_part // p.element
    lane = np.searchsorted(info["slots"], slot)
    if not np.array_equal(info["slots"][np.minimum(lane, info["slots"].size - 1)], slot):
        raise ColsimError("a W1 fill fetches a column outside its tile")
    span = round_up(info["hi"] - info["lo"], geo.elements)
    plan["dest"][tx] = COLUMN
    plan["row"][tx] = (part - min(info["parts"])) * span + k - info["lo"]
    plan["row_step"][tx] = geo.elements
    plan["lane"][tx] = lane


def _output_rows(schedule: Schedule, geo: Geometry, f: int, addr: np.ndarray, plan: dict,
                 tx: slice) -> None:
    """Fill ``plan`` for an output-buffer transfer (a result or cold tile, read or write)."""
    p = schedule.placement
    if schedule.tr_write[f]:
        op = int(schedule.tr_gate_op[f])
    else:
        op = int(np.flatnonzero(schedule.op_needs[:, 2] == f)[0])
    t, i = int(schedule.op_tile[op]), int(schedule.op_token_tile[op])
    extent = schedule.up_columns.size if schedule.op_phase[op] == UP else schedule.layer.d_model
    cold = addr[0] >= p.y_cold
    if cold:
        start, row_bytes = int(p.y_cold_address(i, t)), 4 * geo.rows
    elif schedule.op_phase[op] == UP:
        start, row_bytes = int(p.h_address(i, t * geo.cols)), 2 * geo.rows
    else:
        start, row_bytes = int(p.y_address(i, t * geo.cols)), 2 * geo.rows
    plan["dest"][tx] = COLD if cold else RESULT
    plan["row"][tx] = (addr - start) // row_bytes
    plan["row_step"][tx] = schedule.transaction_bytes // row_bytes
    plan["width"][tx] = min(geo.cols, extent - t * geo.cols)


def _check_capacity(schedule: Schedule, plan: dict, limit: dict[int, int]) -> None:
    """Raise if a fill writes past its slot's rows."""
    buffer = schedule.buffer
    last = plan["row"] + plan["row_step"]
    for b, rows in limit.items():
        sel = (buffer == b) & ~schedule.is_write
        if sel.any() and last[sel].max() > rows:
            raise ColsimError(f"a fill needs {int(last[sel].max())} rows of a "
                              f"{rows}-row slot")
