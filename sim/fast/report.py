"""Result records of workload simulations: JSON with every input, CSV tables, text tables.

A record holds the full hardware, DRAM and compute configuration, the workload spec, the
mask source, and the measured totals, per-layer, per-iteration and per layer-iteration
statistics, so any figure can be traced back to how it was produced. Files are written
through :mod:`colsim.fileio`, so a run that dies leaves no half-written file.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from colsim import __version__
from colsim.config.loader import to_mapping
from colsim.fileio import write_text
from colsim.provenance import package_versions
from colsim.sim.fast.run import IterationStats
from colsim.sim.fast.workload import WorkloadResult


def shares(stats: IterationStats) -> dict[str, float]:
    """Return compute / memory-stall / other as shares of the total cycles."""
    total = stats.cycles or 1
    return {
        "compute_share": stats.compute / total,
        "stall_share": stats.memory_stall / total,
        "other_share": stats.other / total,
    }


def summary(stats: IterationStats) -> dict[str, Any]:
    """Return the statistics with their shares and hit rate, as plain values."""
    return {**stats.as_dict(), **shares(stats)}


def result_record(
    result: WorkloadResult,
    *,
    inputs: dict[str, Any],
    baseline: WorkloadResult | None = None,
    runtime_s: float | None = None,
) -> dict[str, Any]:
    """Return the JSON-able record of a workload simulation (see the module docstring)."""
    run = result.run
    total = result.total()
    record: dict[str, Any] = {
        "format": "colsim-simulation",
        "version": 1,
        "colsim_version": __version__,
        "versions": package_versions(),
        "inputs": {
            **inputs,
            "layout": run.layout,
            "iterations": run.iterations,
            "mask_policy": run.mask_policy if run.masks is not None else None,
            "masks_meta": run.masks.meta if run.masks is not None else None,
            "memoised": result.memoised,
        },
        "hardware": to_mapping(run.hw),
        "dram": to_mapping(run.dram),
        "compute_model": to_mapping(run.compute),
        "workload": {
            "name": run.spec.name,
            "group": run.spec.group,
            "modality": run.spec.modality,
            "source": run.spec.source,
            "layers": [asdict(layer) for layer in run.spec.layers],
        },
        "unique_layer_iterations": result.unique,
        "total": summary(total),
        "per_layer": [{"layer": name, **summary(s)} for name, s in result.per_layer()],
        "per_iteration": [
            {"iteration": t, **summary(s)} for t, s in enumerate(result.per_iteration())
        ],
        "layer_iterations": layer_iteration_rows(result),
    }
    if baseline is not None:
        base = baseline.total()
        record["baseline"] = summary(base)
        record["cycle_reduction"] = 1 - total.cycles / base.cycles if base.cycles else 0.0
    if runtime_s is not None:
        record["runtime_s"] = runtime_s
    return record


def layer_iteration_rows(result: WorkloadResult) -> list[dict[str, Any]]:
    """Return one flat dict per layer-iteration (the tidy per-layer-iteration table)."""
    return [
        {
            "layer_index": row.layer_index,
            "layer": row.layer,
            "iteration": row.iteration,
            "mode": row.mode,
            "computed_columns": row.computed_columns,
            "relayout_swaps": row.relayout_swaps,
            **summary(row.stats),
        }
        for row in result.rows
    ]


def format_table(result: WorkloadResult, baseline: WorkloadResult | None = None) -> str:
    """Return the per-layer table and the summary as text."""
    out = io.StringIO()
    header = (
        f"{'layer':<58} {'M':>6} {'d':>5} {'N':>5} {'Mcycles':>9} {'comp%':>6} "
        f"{'stall%':>6} {'oth%':>5} {'MB':>9} {'hit%':>6}"
    )
    print(header, file=out)
    for layer, (name, stats) in zip(result.run.spec.layers, result.per_layer(), strict=True):
        share = shares(stats)
        print(
            f"{name[-58:]:<58} {layer.tokens:>6} {layer.d_model:>5} {layer.hidden:>5} "
            f"{stats.cycles / 1e6:>9.3f} {100 * share['compute_share']:>6.1f} "
            f"{100 * share['stall_share']:>6.1f} {100 * share['other_share']:>5.1f} "
            f"{(stats.bytes_read + stats.bytes_written) / 1e6:>9.1f} "
            f"{100 * stats.hit_rate:>6.2f}",
            file=out,
        )
    total = result.total()
    share = shares(total)
    core_mhz = result.run.hw.clock.core_mhz
    print(
        f"total: {total.cycles:,} core cycles ({total.cycles / core_mhz / 1e3:.3f} ms at "
        f"{core_mhz:g} MHz) over {result.run.iterations} iterations; compute "
        f"{100 * share['compute_share']:.1f}%, memory stall {100 * share['stall_share']:.1f}%, "
        f"other {100 * share['other_share']:.1f}%; "
        f"{(total.bytes_read + total.bytes_written) / 1e9:.3f} GB moved; "
        f"row-buffer hit rate {100 * total.hit_rate:.2f}% "
        f"(hits {total.row_hits:,}, misses {total.row_misses:,}, "
        f"conflicts {total.row_conflicts:,})",
        file=out,
    )
    if baseline is not None:
        base = baseline.total().cycles
        print(
            f"baseline (all-dense row-major): {base:,} cycles; reduction "
            f"{100 * (1 - total.cycles / base):.2f}%",
            file=out,
        )
    return out.getvalue()


def write_json(path: str | Path, record: dict[str, Any]) -> None:
    """Write ``record`` as indented JSON, atomically (:func:`colsim.fileio.write_text`)."""
    write_text(path, json.dumps(record, indent=1, sort_keys=False) + "\n")
