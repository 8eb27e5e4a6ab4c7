"""Per-layer sparsity table and summary of a profile at one τ or ρ (``colsim sparsity``)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from colsim.errors import ColsimError
from colsim.masks import first_counted_iteration, layer_thresholds
from colsim.profiler import metrics
from colsim.profiler.profile import Profile


@dataclass(frozen=True)
class LayerRow:
    """One layer's iteration-1+ statistics at its threshold."""

    layer: str
    tokens: int
    hidden: int
    gated: bool
    threshold: float
    natural_range: float
    inflated: bool
    element_sparsity: float
    column_sparsity: float
    jaccard_mean: float
    jaccard_min: float


@dataclass(frozen=True)
class SparsityReport:
    """The per-layer rows and the work-weighted summary at ``axis`` = ``value``."""

    axis: str  # "tau" (uniform threshold) or "rho" (per-layer target hot ratio)
    value: float
    element_sparsity_exact: bool
    rows: tuple[LayerRow, ...]
    summary: dict[str, Any]

    def to_json(self) -> str:
        """Return the report as JSON (rows and summary)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def to_csv(self) -> str:
        """Return the per-layer rows as CSV with a header line."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(LayerRow.__dataclass_fields__))
        writer.writeheader()
        for row in self.rows:
            writer.writerow(asdict(row))
        return out.getvalue()

    def to_text(self) -> str:
        """Return an aligned table followed by the summary lines."""
        header = ("layer", "M", "N", "thresh", "natural", "elem-sp", "col-sp", "J-mean", "J-min")
        lines = [header]
        for r in self.rows:
            flag = " (inflated)" if r.inflated else ""
            lines.append((
                r.layer, str(r.tokens), str(r.hidden) + ("g" if r.gated else ""),
                f"{r.threshold:.4g}{flag}", f"{r.natural_range:.4g}",
                f"{r.element_sparsity:.4f}", f"{r.column_sparsity:.4f}",
                f"{r.jaccard_mean:.4f}", f"{r.jaccard_min:.4f}",
            ))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
        ]
        text.append("")
        text += [f"{key}: {value}" for key, value in self.summary.items()]
        return "\n".join(text) + "\n"


def sparsity_report(
    profile: Profile, *, tau: float | None = None, rho: float | None = None
) -> SparsityReport:
    """Evaluate ``profile`` at a uniform ``tau`` or a per-layer hot ratio ``rho``.

    Neither given means τ = 0.164, the reference point of DESIGN.md §1 (:mod:`colsim.masks`).
    """
    chosen = layer_thresholds(profile, tau=tau, rho=rho)
    thresholds, ranges, inflated = chosen.threshold, chosen.natural_range, chosen.inflated
    start = first_counted_iteration(profile)
    element = metrics.element_sparsity(profile, thresholds)
    column = metrics.column_sparsity(profile, thresholds)
    jaccard = metrics.jaccard(profile, thresholds)
    rows = []
    for i, layer in enumerate(profile.layers):
        pairs = jaccard[i] if jaccard.shape[1] else np.ones(1)
        rows.append(LayerRow(
            layer.name, layer.tokens, layer.hidden, layer.gated, thresholds[layer.name],
            ranges[layer.name], bool(inflated[layer.name]),
            float(element.estimate[i, start:].mean()), float(column[i, start:].mean()),
            float(pairs.mean()), float(pairs.min()),
        ))
    exact = bool(np.array_equal(element.lower, element.upper))
    summary = {
        "model": profile.meta.get("model", "unknown"),
        "iterations": profile.iterations,
        "layers": len(rows),
        "element_sparsity_weighted": metrics.weighted_average(profile, element.estimate),
        "column_sparsity_weighted": metrics.weighted_average(profile, column),
        "jaccard_mean": float(np.mean([r.jaccard_mean for r in rows])),
        "jaccard_min": float(np.min([r.jaccard_min for r in rows])),
        "inflated_layers": sum(r.inflated for r in rows),
    }
    return SparsityReport(chosen.axis, chosen.value, exact, tuple(rows), summary)


def threshold_sweep(profile: Profile, axis: str, values: tuple[float, ...]) -> str:
    """Return a table of the summary at each ``values`` of ``axis`` ("tau" or "rho")."""
    if axis not in ("tau", "rho"):
        raise ColsimError(f"`axis` must be one of 'tau', 'rho', not {axis!r}")
    keys = ("element_sparsity_weighted", "column_sparsity_weighted", "jaccard_mean",
            "jaccard_min", "inflated_layers")
    lines = [f"{axis:>6}  " + "  ".join(keys)]
    for value in values:
        summary = sparsity_report(profile, **{axis: value}).summary
        cells = [f"{summary[k]:.4f}".rjust(len(k)) if isinstance(summary[k], float)
                 else str(summary[k]).rjust(len(k)) for k in keys]
        lines.append(f"{value:>6g}  " + "  ".join(cells))
    return "\n".join(lines) + "\n"
