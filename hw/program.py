"""Compile a :class:`~colsim.sim.schedule.Schedule` into the FFN engine top's three programs.

The top (:mod:`colsim.hw.ffn_top`) executes the schedule's rules (``sim/schedule/model.py``)
with three in-order engines, each fed by its own instruction stream:

* **DMA** — one instruction per *run* of a transfer: ``count`` transactions at ``base``,
  ``base + stride``, … (the transfer's transactions compressed into arithmetic runs; the RTL
  expands them). The first run of a transfer carries its gate: a read waits until the
  ``wait``-th earlier occupant of its buffer slot has been released (``released >= wait``),
  a write until ``wait`` SIMD ops have finished, a barrier until no transfer is in flight.
  A run inside one W1 column record is *remapped*: it names the column's position among the
  iteration's computed columns (``column``) and its offset inside the record (``base``); the
  top's front end (:mod:`colsim.hw.dma_front`) finds the slot at that position in the hot
  list its skip logic compacts from the mask store, and the address through its remapper.
* **array** — one instruction per array op: its cycles, the fills it needs (``filled`` of
  an input / weight slot ``>= fill``), which slots it releases when it finishes (it is
  their last reader), and whether it ends a tile whose result the SIMD unit waits for
  ``latency`` cycles after it finished.
* **SIMD** — one instruction per SIMD op: its cycles, the tile result it takes, the cold
  tile it needs, and the release of its output slot's previous occupant it waits for.

Per (buffer, slot) the top keeps two modular counters: ``filled`` (read transfers into the
slot that completed) and ``released`` (occupants of the slot released). Occupants of a slot
are sequential, so waiting for ``released >= n`` is waiting for the n-th occupant's
predecessor; this is the schedule's ``prev`` rule (for a SIMD op's slot wait it is at least
as strict). :func:`expand_requests` is the reference model of the DMA address generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colsim.config import HardwareConfig, SequencerConfig
from colsim.errors import ColsimError
from colsim.fixed_arith import SimdOp
from colsim.hw.onchip import Geometry, geometry, plan_onchip
from colsim.hw.skip_model import mask_from_words, mask_words, skip_columns
from colsim.sim.schedule import ARRAY, BUFFERS, INPUT, OUTPUT, PHASES, SIMD, WEIGHT, Schedule

Fields = tuple[tuple[str, int], ...]
B_ZERO, B_PART0, B_COLD = range(3)  # sources of a SIMD op's ``b`` operand


@dataclass(frozen=True)
class ProgramFormat:
    """Bit widths of the instruction fields (least significant field first)."""

    sequencer: SequencerConfig
    geometry: Geometry
    slot_bits: int
    row_bits: int  # a buffer row index (signed in DMA runs: output tiles start mid-transaction)
    tile_bits: int  # a row of the mask store (hidden tile index)
    column_bits: int  # a hidden position / slot (the hot list and the remapper's table)

    @property
    def lane_bits(self) -> int:
        """Return the width of a tile column index (0 .. C-1)."""
        return max(1, (self.geometry.cols - 1).bit_length())

    @property
    def width_bits(self) -> int:
        """Return the width of a tile width (1 .. C)."""
        return self.geometry.cols.bit_length()

    @property
    def dma_fields(self) -> Fields:
        """Return the fields of a DMA run instruction."""
        t = self.sequencer
        return (("write", 1), ("buffer", 2), ("slot", self.slot_bits), ("first", 1),
                ("barrier", 1), ("release_on_done", 1), ("wait", t.sync_bits),
                ("total", t.count_bits), ("base", t.address_bits), ("stride", t.address_bits),
                ("count", t.count_bits), ("dest", 2), ("row", self.row_bits),
                ("row_step", self.row_bits), ("mask", self.geometry.segments),
                ("lane", self.lane_bits), ("width", self.width_bits), ("remap", 1),
                ("column", self.column_bits))

    @property
    def array_fields(self) -> Fields:
        """Return the fields of an array op instruction."""
        t = self.sequencer
        return (("cycles", t.count_bits), ("steps", t.count_bits), ("has_a", 1),
                ("a_slot", self.slot_bits), ("a_fill", t.sync_bits), ("release_a", 1),
                ("a_row", self.row_bits), ("has_b", 1), ("b_slot", self.slot_bits),
                ("b_fill", t.sync_bits), ("release_b", 1), ("b_row", self.row_bits),
                ("tile_end", 1), ("part", 1), ("emits", 1))

    @property
    def simd_fields(self) -> Fields:
        """Return the fields of a SIMD op instruction."""
        t = self.sequencer
        return (("cycles", t.count_bits), ("has_after", 1), ("has_c", 1),
                ("c_slot", self.slot_bits), ("c_fill", t.sync_bits), ("release_c", 1),
                ("has_wait", 1), ("wait_slot", self.slot_bits),
                ("wait_released", t.sync_bits), ("op", 2), ("out_slot", self.slot_bits),
                ("a_part", 1), ("b_source", 2), ("store_cold", 1), ("threshold", 1),
                ("first_tile", 1), ("tile", self.tile_bits), ("width", self.width_bits))


def program_format(hw: HardwareConfig) -> ProgramFormat:
    """Return the instruction format of a top built for ``hw`` (its sequencer's widths)."""
    slots = max(hw.sram.input.slots, hw.sram.weight.slots, hw.sram.output.slots)
    geo = geometry(hw, hw.dram_config.organization.transaction_bytes)
    rows = max(geo.input_rows, geo.weight_rows, geo.cols)
    return ProgramFormat(sequencer=hw.sequencer, geometry=geo,
                         slot_bits=max(1, (slots - 1).bit_length()),
                         row_bits=rows.bit_length() + 1,
                         tile_bits=max(1, (-(-hw.layers.max_hidden // geo.cols) - 1
                                           ).bit_length()),
                         column_bits=hw.layers.index_bits)


def pack(fields: Fields, values: dict[str, int]) -> int:
    """Pack ``values`` into one instruction word; a value that does not fit is an error."""
    word, offset = 0, 0
    for name, width in fields:
        value = int(values[name])
        if not 0 <= value < (1 << width):
            raise ColsimError(f"instruction field `{name}` = {value} does not fit {width} bits")
        word |= value << offset
        offset += width
    return word


def unpack(fields: Fields, word: int) -> dict[str, int]:
    """Return the field values of an instruction word (inverse of :func:`pack`)."""
    values, offset = {}, 0
    for name, width in fields:
        values[name] = (word >> offset) & ((1 << width) - 1)
        offset += width
    return values


@dataclass(frozen=True)
class Program:
    """The three instruction lists of one layer-iteration, as field dictionaries."""

    format: ProgramFormat
    dma: tuple[dict[str, int], ...]
    array: tuple[dict[str, int], ...]
    simd: tuple[dict[str, int], ...]
    columns: int  # N: hidden slots the skip logic walks
    sparse: bool  # walk the mask store (else every slot is hot)
    mask_rows: tuple[int, ...]  # sparse: the mask store's rows (C slot bits each) to program
    w1_base: int  # the remapper's base and stride registers: W1 records by slot
    w1_stride: int

    def words(self) -> dict[str, list[int]]:
        """Return the packed instruction words of each stream (``dma``, ``array``, ``simd``)."""
        fmt = self.format
        return {
            "dma": [pack(fmt.dma_fields, i) for i in self.dma],
            "array": [pack(fmt.array_fields, i) for i in self.array],
            "simd": [pack(fmt.simd_fields, i) for i in self.simd],
        }

    def registers(self) -> dict[str, int]:
        """Return the top's control registers for this program (set them before ``start``)."""
        return {"n_dma": len(self.dma), "n_array": len(self.array), "n_simd": len(self.simd),
                "sparse": int(self.sparse), "columns": self.columns, "w1_base": self.w1_base,
                "w1_stride": self.w1_stride, "remap_identity": 1}

    def hot_list(self) -> np.ndarray:
        """Return the slots the front end's skip walk lists, in order."""
        return hot_list(self.mask_rows, self.columns, self.format.geometry.cols, self.sparse)


def hot_list(mask_rows, columns: int, cols: int, sparse: bool) -> np.ndarray:
    """Return the hot list of a walk over ``columns`` slots (reference model of the walk).

    ``mask_rows`` are the mask store's rows (slot ``t·cols + j`` in bit j of row t); a dense
    walk (``sparse`` false) lists every slot.
    """
    if not sparse:
        return np.arange(columns, dtype=np.int64)
    walked = skip_columns(mask_from_words(mask_rows, cols, columns), cols)
    return np.array([c.column for c in walked.columns], dtype=np.int64)


def resolve_base(instruction: dict[str, int], hot: np.ndarray, w1_base: int,
                 w1_stride: int) -> int:
    """Return the first address of a DMA run (reference model of the front end's remap).

    A remapped run starts at ``w1_base + slot · w1_stride + base`` for the slot at position
    ``column`` of the hot list (the remapper's identity table); other runs at ``base``.
    """
    if not instruction["remap"]:
        return instruction["base"]
    return w1_base + int(hot[instruction["column"]]) * w1_stride + instruction["base"]


def compile_schedule(schedule: Schedule, hw: HardwareConfig) -> Program:
    """Return the programs that make the top execute ``schedule`` (see the module docstring).

    Raises :class:`~colsim.errors.ColsimError` for schedules the top cannot run (weight
    write-backs of dynamic re-layouts, empty transfers) and for values that exceed the
    configured field widths.
    """
    fmt, seq = program_format(hw), hw.sequencer
    _check_supported(schedule)
    plan = plan_onchip(schedule, hw)
    sync = 1 << seq.sync_bits
    group = schedule.tr_buffer.astype(np.int64) * 64 + schedule.tr_slot
    index_in_group = _rank_within(group, np.ones(group.size, bool))
    read_rank = _rank_within(group, ~schedule.tr_write)
    simd_rank = np.cumsum(schedule.op_unit == SIMD) - 1
    dma = []
    for f in range(schedule.tr_buffer.size):
        write = bool(schedule.tr_write[f])
        head = {
            "write": int(write), "buffer": int(schedule.tr_buffer[f]),
            "slot": int(schedule.tr_slot[f]), "barrier": int(schedule.tr_barrier[f]),
            "release_on_done": int(write or schedule.tr_last_reader[f] < 0),
            "wait": int((simd_rank[schedule.tr_gate_op[f]] + 1 if write else index_in_group[f])
                        % sync),
            "total": int(schedule.tr_count[f]),
        }
        first = int(schedule.tr_first[f])
        tx = slice(first, first + int(schedule.tr_count[f]))
        keys = np.stack([plan.dest[tx], plan.row_step[tx], plan.mask[tx], plan.lane[tx],
                         plan.width[tx]], axis=1)
        runs = _runs(schedule.addr[tx].astype(np.int64), plan.row[tx], plan.row_step[tx], keys,
                     (1 << seq.count_bits) - 1)
        for i, (j, base, stride, count) in enumerate(runs):
            remapped = {"remap": 0, "column": 0, "base": base}
            if not write and schedule.tr_buffer[f] == WEIGHT:
                remapped = _w1_run(schedule, base, stride, count)
            dma.append({**head, "first": int(i == 0), **remapped, "stride": stride,
                        "count": count, "dest": int(plan.dest[first + j]),
                        "row": int(plan.row[first + j]) % (1 << fmt.row_bits),
                        "row_step": int(plan.row_step[first + j]),
                        "mask": int(plan.mask[first + j]), "lane": int(plan.lane[first + j]),
                        "width": int(plan.width[first + j])})
    emits = set(schedule.op_after[schedule.op_after >= 0].tolist())
    array, simd = [], []
    n_ops = schedule.op_unit.size
    for o in range(n_ops):
        a, b, c = (int(f) for f in schedule.op_needs[o])
        if schedule.op_unit[o] == ARRAY:
            ends_tile = (o + 1 == n_ops or schedule.op_unit[o + 1] != ARRAY
                         or schedule.op_part[o + 1] != schedule.op_part[o])
            array.append({
                "cycles": int(schedule.op_cycles[o]), "steps": int(schedule.op_k[o]),
                **_need("a", a, o, schedule, read_rank, sync),
                **_need("b", b, o, schedule, read_rank, sync),
                "a_row": int(plan.a_row[o]), "b_row": int(plan.b_row[o]),
                "tile_end": int(ends_tile), "part": int(schedule.op_part[o]),
                "emits": int(o in emits),
            })
        else:
            wait = int(schedule.op_slot_wait[o])
            simd.append({
                "cycles": int(schedule.op_cycles[o]),
                "has_after": int(schedule.op_after[o] >= 0),
                **_need("c", c, o, schedule, read_rank, sync),
                "has_wait": int(wait >= 0),
                "wait_slot": int(schedule.tr_slot[wait]) if wait >= 0 else 0,
                "wait_released": int(index_in_group[wait] + 1) % sync if wait >= 0 else 0,
                "out_slot": int(simd_rank[o]) % schedule.slots[OUTPUT],
                **_simd_operation(schedule, o, plan.geometry.cols),
            })
    placement, n = schedule.placement, schedule.layer.hidden
    sparse = schedule.mode == "sparse"
    slot_mask = np.zeros(n, dtype=bool)
    slot_mask[schedule.up_columns] = True
    program = Program(fmt, tuple(dma), tuple(array), tuple(simd), columns=n, sparse=sparse,
                      mask_rows=tuple(mask_words(slot_mask, fmt.geometry.cols)) if sparse
                      else (), w1_base=placement.w1, w1_stride=placement.w1_record)
    program.words()  # validates every field against its width
    if not np.array_equal(program.hot_list(), schedule.up_columns):
        raise ColsimError("the schedule's computed columns are not its mask's slots in order")
    return program


def _w1_run(schedule: Schedule, base: int, stride: int, count: int) -> dict[str, int]:
    """Return the ``remap``/``column``/``base`` fields of a weight run at ``base``.

    A run that stays inside one W1 record is remapped: ``column`` is the position of the
    record's slot among ``schedule.up_columns`` and ``base`` the offset inside the record.
    """
    placement = schedule.placement
    slot, offset = divmod(base - placement.w1, placement.w1_record)
    last = offset + (count - 1) * stride
    if not (0 <= slot < schedule.layer.hidden and 0 <= last < placement.w1_record):
        return {"remap": 0, "column": 0, "base": base}
    position = int(np.searchsorted(schedule.up_columns, slot))
    if position == schedule.up_columns.size or schedule.up_columns[position] != slot:
        raise ColsimError(f"W1 slot {slot} is fetched but not computed")
    return {"remap": 1, "column": position, "base": offset}


def _simd_operation(schedule: Schedule, op: int, cols: int) -> dict[str, int]:
    """Return what SIMD op ``op`` computes: the SIMD unit's operation and its operands.

    Tiles of the op's queue entry: part 0 (value / cold / the only part) and part 1 (gate /
    hot). ``b_source``: 0 zero, 1 part 0, 2 the cold tile read into the output slot.
    """
    t, i = int(schedule.op_tile[op]), int(schedule.op_token_tile[op])
    up = schedule.op_phase[op] == PHASES.index("up")
    extent = schedule.up_columns.size if up else schedule.layer.d_model
    fields = {"store_cold": 0, "threshold": 0, "first_tile": int(i == 0), "tile": 0,
              "width": min(cols, extent - t * cols)}
    if up:
        gated = schedule.layer.gated
        return {**fields, "op": int(SimdOp.GEGLU if gated else SimdOp.GELU),
                "a_part": int(gated), "b_source": B_PART0 if gated else B_ZERO,
                "threshold": int(schedule.mode == "dense" and schedule.reuse), "tile": t}
    if schedule.mode == "sparse":
        return {**fields, "op": int(SimdOp.ADD), "a_part": 0, "b_source": B_COLD}
    if schedule.reuse:
        return {**fields, "op": int(SimdOp.ADD), "a_part": 1, "b_source": B_PART0,
                "store_cold": 1}
    return {**fields, "op": int(SimdOp.REQUANT), "a_part": 0, "b_source": B_ZERO}


def _check_supported(schedule: Schedule) -> None:
    weight_writes = schedule.tr_write & (schedule.tr_buffer == WEIGHT)
    if weight_writes.any():
        raise ColsimError(
            "the RTL sequencer does not run re-layout write-backs (dynamic layouts); "
            "use layout 'rowmajor', 'hotcold' or 'perlayer'"
        )
    if (schedule.tr_count == 0).any():
        raise ColsimError("the schedule has a transfer without transactions")
    expected = {0: INPUT, 1: WEIGHT, 2: OUTPUT}
    for j, buffer in expected.items():
        needs = schedule.op_needs[:, j]
        used = needs[needs >= 0]
        if (schedule.tr_buffer[used] != buffer).any() or schedule.tr_write[used].any():
            raise ColsimError(
                f"operand {j} of an op must be a read into the {BUFFERS[buffer]} buffer"
            )
    if (schedule.op_unit[schedule.op_needs[:, 2] >= 0] != SIMD).any():
        raise ColsimError("only SIMD ops may read a cold tile")


def _need(name: str, f: int, op: int, schedule: Schedule, read_rank: np.ndarray,
          sync: int) -> dict[str, int]:
    """Return the ``has_/slot/fill/release_`` fields of operand ``name`` (transfer ``f``)."""
    if f < 0:
        return {f"has_{name}": 0, f"{name}_slot": 0, f"{name}_fill": 0, f"release_{name}": 0}
    return {
        f"has_{name}": 1, f"{name}_slot": int(schedule.tr_slot[f]),
        f"{name}_fill": int(read_rank[f] + 1) % sync,
        f"release_{name}": int(schedule.tr_last_reader[f] == op),
    }


def _rank_within(group: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Return, per element, how many earlier ``member`` elements share its group."""
    rank = np.zeros(group.size, dtype=np.int64)
    seen: dict[int, int] = {}
    for i, g in enumerate(group.tolist()):
        rank[i] = seen.get(g, 0)
        if member[i]:
            seen[g] = rank[i] + 1
    return rank


def _runs(addr: np.ndarray, row: np.ndarray, row_step: np.ndarray, keys: np.ndarray,
          max_count: int) -> list[tuple[int, int, int, int]]:
    """Return maximal DMA runs as (first index, base, stride, count), at most max_count long.

    Within a run the address advances by ``stride`` and the buffer row by ``row_step`` per
    transaction, and every column of ``keys`` (the other per-transaction fields) is constant.
    """
    runs, i = [], 0
    while i < addr.size:
        stride = int(addr[i + 1] - addr[i]) if i + 1 < addr.size else 0
        j = i + 1
        while (j < addr.size and j - i < max_count and int(addr[j] - addr[j - 1]) == stride
               and row[j] - row[j - 1] == row_step[i] and (keys[j] == keys[i]).all()):
            j += 1
        runs.append((i, int(addr[i]), stride if j - i > 1 else 0, j - i))
        i = j
    return runs


def expand_requests(program: Program) -> tuple[np.ndarray, np.ndarray]:
    """Return the (address, is_write) stream the DMA engine issues for ``program``, in order."""
    hot = program.hot_list()
    addr = [resolve_base(i, hot, program.w1_base, program.w1_stride)
            + np.arange(i["count"], dtype=np.int64) * i["stride"] for i in program.dma]
    write = [np.full(i["count"], bool(i["write"])) for i in program.dma]
    if not addr:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    return np.concatenate(addr).astype(np.uint64), np.concatenate(write)
