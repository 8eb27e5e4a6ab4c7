"""Where a workload turns from compute-bound to memory-bound: baselines over hardware axes.

A sensitivity grid runs every model's all-dense row-major baseline on every variant of the
hardware configuration: the cartesian product of the values given per dotted configuration
key (``dma.transfers_in_flight``, ``dram.preset``, ...) and of the array sizes. Each row of
the ``sensitivity`` results table is one model on one variant: the variant's values (one
column per key, plus ``array``), cycles, compute / stall / other shares, the row-buffer hit
rate, and ``bound``: ``compute`` when the array streams more cycles than it waits for
memory, else ``memory``; and the variant's resolved configuration and the versions. Every
variant's configuration is validated before the first run.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colsim.analysis.results import write_table
from colsim.analysis.sweep import SweepCell, SweepGrid, run_cell
from colsim.config import HardwareConfig
from colsim.config.loader import to_mapping
from colsim.errors import ColsimError
from colsim.fileio import check_output_dir
from colsim.provenance import package_versions
from colsim.tasks import Task, TaskFailure, run_tasks

TABLE = "sensitivity"


@dataclass(frozen=True)
class Variant:
    """One hardware configuration of the grid: the values it sets, and the config itself."""

    values: dict[str, Any]  # dotted key (and ``array``) -> value
    hw: HardwareConfig

    @property
    def name(self) -> str:
        """Return a file-name-safe id, e.g. ``array32x32_dma.transfers_in_flight8``."""
        return "_".join(f"{key}{value}" for key, value in self.values.items())


def parse_axis(text: str) -> tuple[str, tuple[Any, ...]]:
    """Parse ``KEY=V1,V2,...`` (values as int, float or text, in that order of preference)."""
    key, sep, values = text.partition("=")
    items = [item.strip() for item in values.split(",") if item.strip()]
    if not sep or not key.strip() or not items:
        raise ColsimError(f"a sensitivity axis must read KEY=V1,V2,..., not {text!r}")
    return key.strip(), tuple(_value(item) for item in items)


def parse_arrays(text: str) -> tuple[tuple[int, int], ...]:
    """Parse ``RxC,RxC,...`` array sizes."""
    sizes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        rows, sep, cols = item.partition("x")
        if not sep or not rows.isdigit() or not cols.isdigit():
            raise ColsimError(f"array sizes must read RxC,RxC,..., not {item!r}")
        sizes.append((int(rows), int(cols)))
    if not sizes:
        raise ColsimError(f"array sizes must read RxC,RxC,..., not {text!r}")
    return tuple(sizes)


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def variants(base: HardwareConfig, axes: Mapping[str, Sequence[Any]],
             arrays: Sequence[tuple[int, int]] = (), *,
             scale_buffers: bool = False) -> list[Variant]:
    """Return every variant of ``base``: arrays × the product of the axes' values.

    ``scale_buffers`` scales the three SRAM buffers with an array's area (R·C over the base
    array's), so that they hold the same number of tiles; without it a larger array keeps the
    base buffers (and may not fit them: that run then fails with the reason).
    """
    keys = list(axes)
    out = []
    for array in arrays or (None,):
        for combination in itertools.product(*(axes[key] for key in keys)):
            values: dict[str, Any] = {}
            overrides: dict[str, Any] = {}
            if array is not None:
                values["array"] = f"{array[0]}x{array[1]}"
                overrides["systolic"] = {"rows": array[0], "cols": array[1]}
                if scale_buffers:
                    overrides["sram"] = _scaled_buffers(base, array)
            for key, value in zip(keys, combination, strict=True):
                values[key] = value
                *tables, leaf = key.split(".")
                node = overrides
                for table in tables:
                    node = node.setdefault(table, {})
                node[leaf] = value
            out.append(Variant(values, base.with_overrides(overrides)))
    return out


def _scaled_buffers(base: HardwareConfig, array: tuple[int, int]) -> dict[str, Any]:
    area = array[0] * array[1]
    base_area = base.systolic.rows * base.systolic.cols
    return {name: {"kib": -(-getattr(base.sram, name).kib * area // base_area)}
            for name in ("input", "weight", "output")}


@dataclass(frozen=True)
class SensitivityTable:
    """The rows of a finished sensitivity grid, its table path and its failures."""

    rows: tuple[dict[str, Any], ...]
    path: Path
    failures: tuple[TaskFailure, ...]


def run_sensitivity(
    grid: SweepGrid, variant_list: Sequence[Variant], *, jobs: int = 1,
    executor: str = "dask", scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> SensitivityTable:
    """Run the baseline of every model of ``grid`` on every variant; write the table."""
    out = check_output_dir(grid.out)
    if not variant_list:
        raise ColsimError("a sensitivity grid needs at least one hardware variant")
    tasks = [Task(f"{model}_{variant.name}", run_cell,
                  (SweepCell(model, "rowmajor"), grid, variant.hw))
             for variant in variant_list for model in grid.models]
    found: dict[str, dict[str, Any]] = {}
    run = run_tasks(tasks, on_result=found.__setitem__, jobs=jobs, executor=executor,
                    scheduler=scheduler, progress=progress, announce=announce)
    rows = []
    versions = json.dumps(package_versions(), sort_keys=True)
    for variant in variant_list:
        for model in grid.models:
            record = found.get(f"{model}_{variant.name}")
            if record is None:
                continue
            row = record["sweep"]["row"]
            rows.append({
                "model": model, **variant.values, "cycles": row["cycles"],
                "compute_share": row["compute_share"], "stall_share": row["stall_share"],
                "other_share": row["other_share"], "hit_rate": row["hit_rate"],
                "bound": "compute" if row["compute"] >= row["memory_stall"] else "memory",
                "config": json.dumps(to_mapping(variant.hw), sort_keys=True),
                "versions": versions,
            })
    if rows:
        write_table(rows, out / TABLE)
    return SensitivityTable(tuple(rows), out / f"{TABLE}.parquet", run.failures)
