"""The report's sections, each built from its input or saying that the input is absent.

A section has a title, one paragraph that reads what it shows, the command that reproduces
its input, and figures and sortable tables. Sections are built only from profiles and from
results tables (:mod:`colsim.analysis.results`); a section whose input was not given, or whose
tables lack the columns it needs, says which input would fill it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt

from colsim.analysis.profile_plots import profile_figures
from colsim.analysis.style import FigureFiles, report_style, save_figure, series_style
from colsim.profiler.histogram import REFERENCE_THRESHOLD
from colsim.profiler.report import sparsity_report

if TYPE_CHECKING:
    import pandas as pd

    from colsim.profiler.profile import Profile

REFERENCE_RHO = REFERENCE_THRESHOLD  # 0.164: the reference point of both threshold axes
STATS_SHARES = ("compute_share", "stall_share", "other_share")


@dataclass(frozen=True)
class Table:
    """A table as the report shows it: column names and rows of display values."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Section:
    """One report section (see the module docstring); ``missing`` says what input is absent."""

    key: str
    title: str
    reading: str
    command: str
    figures: tuple[FigureFiles, ...] = ()
    tables: tuple[Table, ...] = ()
    missing: str | None = None


def table_of(frame: pd.DataFrame, columns: Sequence[str]) -> Table:
    """Return the ``columns`` of ``frame`` (those it has) as a report table, floats rounded."""
    present = [c for c in columns if c in frame.columns]
    rows = tuple(tuple(_display(v) for v in row) for row in frame[present].itertuples(False))
    return Table(tuple(present), rows)


def _display(value: Any) -> Any:
    if isinstance(value, float):
        return "" if value != value else round(value, 4)  # NaN: empty cell
    return value


# -- profiles -------------------------------------------------------------------------------


def sparsity_sections(profiles: Sequence[tuple[Path, Profile]], folder: Path) -> list[Section]:
    """Return the activation sections: sparsity gap, stability, per-layer thresholds."""
    command = "colsim profile --model MODEL --out PROFILE.h5"
    if not profiles:
        absent = "no profile given (`colsim report --profile PROFILE.h5`)"
        return [Section(key, title, "", command, missing=absent) for key, title in (
            ("sparsity", "Element vs column sparsity"),
            ("stability", "Column sparsity over iterations and Jaccard stability"),
            ("thresholds", "Per-layer thresholds at ρ = 0.164"))]
    gap, stability, thresholds = [], [], []
    for path, profile in profiles:
        model = str(profile.meta.get("model", path.stem))
        report = sparsity_report(profile, tau=REFERENCE_THRESHOLD)
        per_layer, column, jaccard = profile_figures(profile, report)
        gap.append(save_figure(per_layer, folder, f"{model}_sparsity_per_layer",
                               f"{model}: element vs column sparsity per layer, τ = 0.164"))
        stability += [
            save_figure(column, folder, f"{model}_column_sparsity_over_iterations",
                        f"{model}: column sparsity per layer over the denoising iterations"),
            save_figure(jaccard, folder, f"{model}_jaccard_over_iterations",
                        f"{model}: Jaccard index of consecutive hot sets per layer"),
        ]
        calibrated = sparsity_report(profile, rho=REFERENCE_RHO)
        thresholds.append(Table(
            ("model", "layer", "M", "N", "threshold", "natural range", "inflated"),
            tuple((model, r.layer, r.tokens, r.hidden, round(r.threshold, 4),
                   round(r.natural_range, 4), "INFLATED" if r.inflated else "")
                  for r in calibrated.rows)))
    return [
        Section("sparsity", "Element vs column sparsity",
                "A column can be skipped only when every token's activation in it is small, so "
                "column sparsity (bars on the right of each pair) stays below element sparsity; "
                "the gap between the two is what a tiled accelerator cannot exploit. Values are "
                "averaged over the sparse iterations (1+) at the reference threshold τ = 0.164.",
                f"{command}; colsim sparsity PROFILE.h5 --tau 0.164", figures=tuple(gap)),
        Section("stability", "Column sparsity over iterations and Jaccard stability",
                "Each thin line is one FFN layer, the thick line the work-weighted mean. A "
                "Jaccard index near 1 means the hot set of iteration t is still hot at t+1 "
                "(concentration: a mask fixed at iteration 0 stays valid); a low index means "
                "the hot columns churn and a fixed mask misses them.",
                f"{command}; colsim plot PROFILE.h5 --out DIR", figures=tuple(stability)),
        Section("thresholds", "Per-layer thresholds at ρ = 0.164",
                "The per-layer threshold that leaves a share ρ of each layer's columns hot, and "
                "the layer's natural activation range (the bin of its 99th percentile |h|). "
                "A threshold above the natural range is threshold inflation: the layer meets ρ "
                "only by treating activations it really uses as cold; such rows are flagged.",
                f"{command}; colsim sparsity PROFILE.h5 --rho 0.164", tables=tuple(thresholds)),
    ]


# -- results tables -------------------------------------------------------------------------


def _is_baseline(frame: pd.DataFrame) -> pd.Series:
    return frame["tau"].isna() & frame["rho"].isna()


def _has(frame: pd.DataFrame | None, *columns: str) -> bool:
    return frame is not None and not frame.empty and all(c in frame.columns for c in columns)


def baseline_section(results: pd.DataFrame | None, folder: Path) -> Section:
    """Return the baseline breakdown: compute / stall / other and row-buffer hit rate."""
    title = "Baseline: where the cycles go"
    command = "colsim sweep --models MODEL ... --out DIR (its all-dense row-major runs)"
    if not _has(results, "model", "tau", "rho", "cycles", *STATS_SHARES):
        return Section("baseline", title, "", command,
                       missing="no results table with all-dense baseline runs "
                               "(`colsim report --results DIR`)")
    base = results[_is_baseline(results)].drop_duplicates("model")
    if base.empty:
        return Section("baseline", title, "", command,
                       missing="the results tables hold no all-dense baseline run")
    with report_style():
        figure, axes = plt.subplots(figsize=(max(5.0, 0.9 * len(base) + 2), 3.8))
        bottom = [0.0] * len(base)
        for index, (share, label) in enumerate(zip(
                STATS_SHARES, ("compute", "memory stall", "other"), strict=True)):
            values = base[share].tolist()
            axes.bar(base["model"], values, bottom=bottom, label=label,
                     color=series_style(index)["color"])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set(ylabel="share of cycles", ylim=(0, 1.0), title="All-dense row-major baseline")
        axes.legend(loc="lower right")
        axes.tick_params(axis="x", rotation=30)
    files = save_figure(figure, folder, "baseline_breakdown",
                        "Compute, memory-stall and other shares of the baseline's cycles")
    table = table_of(base, ("model", "cycles", *STATS_SHARES, "hit_rate", "row_hits",
                            "row_misses", "row_conflicts", "bytes_read", "bytes_written"))
    return Section("baseline", title,
                   "The all-dense row-major run of every workload on the configured hardware: "
                   "compute is the systolic array streaming, memory stall the array waiting for "
                   "DRAM, other the fill/drain overhead and SIMD-bound time. A workload that is "
                   "mostly compute leaves little for a DRAM layout to win; the row-buffer hit "
                   "rate shows how well the baseline's access stream uses open rows.",
                   command, figures=(files,), tables=(table,))


def reduction_sections(results: pd.DataFrame | None, folder: Path) -> list[Section]:
    """Return the cycle reduction vs τ and vs ρ, one line per workload and layout."""
    sections = []
    for axis, name, title in (("tau", "τ", "uniform threshold"),
                              ("rho", "ρ", "per-layer target hot ratio")):
        key, heading = f"reduction_{axis}", f"Cycle reduction vs {name} ({title})"
        command = f"colsim sweep --models MODEL ... --layouts LAYOUT ... --{axis}s V ... --out DIR"
        if not _has(results, "model", "layout", axis, "cycle_reduction"):
            sections.append(Section(key, heading, "", command,
                                    missing="no results table with a cycle_reduction column"))
            continue
        runs = results[results[axis].notna()].sort_values(["model", "layout", axis])
        if runs.empty:
            sections.append(Section(key, heading, "", command,
                                    missing=f"the results tables hold no run on the {name} axis"))
            continue
        with report_style():
            figure, axes = plt.subplots(figsize=(7, 4))
            groups = runs.groupby(["model", "layout"], sort=True)
            for index, ((model, layout), group) in enumerate(groups):
                axes.plot(group[axis], group["cycle_reduction"], marker="o",
                          label=f"{model} / {layout}", **series_style(index))
            axes.set(xlabel=name, ylabel="cycle reduction vs baseline",
                     title=f"Cycle reduction vs {name}")
            axes.legend(fontsize=8, loc="best")
        files = save_figure(figure, folder, f"reduction_vs_{axis}",
                            f"Cycle reduction against the all-dense baseline vs {name}")
        table = table_of(runs, ("model", "layout", axis, "mask_policy", "cycles",
                                "cycle_reduction", *STATS_SHARES, "hit_rate"))
        sections.append(Section(
            key, heading,
            f"Each line is one workload with one column layout; a point is the share of the "
            f"baseline's cycles that skipping cold columns saves at that {name}. Layouts differ "
            f"only in where the hot columns lie in DRAM, so the spread between the lines of "
            f"one workload is what the layout buys once DRAM is modelled exactly.",
            command, figures=(files,), tables=(table,)))
    return sections


def sensitivity_section(sensitivity: pd.DataFrame | None, folder: Path) -> Section:
    """Return the memory-parallelism and hardware sensitivity (from ``sensitivity`` tables)."""
    title = "Hardware sensitivity: compute-bound or memory-bound"
    command = ("colsim sensitivity --models MODEL ... --set dma.transfers_in_flight=1,4,16,64 "
               "--arrays 16x16,32x32,64x64,128x128 --scale-buffers --set dram.preset=gddr6,hbm2 "
               "--out DIR")
    if not _has(sensitivity, "model", "stall_share", "bound"):
        return Section("sensitivity", title, "", command,
                       missing="no `sensitivity` table among the results folders")
    metrics = {"model", "cycles", "compute_share", "stall_share", "other_share", "hit_rate",
               "bound", "table", "config", "versions"}
    axes = [c for c in sensitivity.columns if c not in metrics
            and sensitivity[c].nunique(dropna=True) > 1]
    figures = []
    for axis in axes:
        others = [c for c in sensitivity.columns if c not in metrics and c != axis]
        rows = sensitivity
        for other in others:  # the other axes at their first value
            rows = rows[rows[other] == sensitivity[other].iloc[0]]
        order = list(dict.fromkeys(rows[axis]))
        with report_style():
            figure, axes_ = plt.subplots(figsize=(7, 4))
            for index, (model, group) in enumerate(rows.groupby("model", sort=True)):
                positions = [order.index(v) for v in group[axis]]
                axes_.plot(positions, group["stall_share"], marker="o", label=str(model),
                           **series_style(index))
            axes_.set_xticks(range(len(order)), [str(v) for v in order])
            axes_.axhline(0.5, color="grey", linewidth=0.8)
            axes_.set(xlabel=axis, ylabel="memory-stall share of cycles", ylim=(0, 1),
                      title=f"Baseline memory stall vs {axis}")
            axes_.legend(fontsize=8)
        figures.append(save_figure(figure, folder, f"sensitivity_{axis.replace('.', '_')}",
                                   f"Memory-stall share of each baseline vs {axis}"))
    return Section("sensitivity", title,
                   "Each workload's all-dense baseline on variants of the hardware. Above the "
                   "grey line the array waits for DRAM more than it computes: the workload is "
                   "memory-bound there, and a DRAM layout can pay off; below it, it is "
                   "compute-bound and a layout changes little.",
                   command, figures=tuple(figures),
                   tables=(table_of(sensitivity, [c for c in sensitivity.columns
                                                  if c not in ("table", "config", "versions")]),))


def accuracy_section(accuracy: pd.DataFrame | None, folder: Path) -> Section:
    """Return the accuracy-vs-threshold figure and table (from ``accuracy`` tables)."""
    title = "Accuracy vs threshold"
    command = "colsim accuracy --model MODEL --profile PROFILE.h5 --tau V --out DIR"
    if not _has(accuracy, "model", "axis", "value", "mse"):
        return Section("accuracy", title, "", command,
                       missing="no `accuracy` table among the results folders")
    runs = accuracy[accuracy["value"].notna()].sort_values(["model", "axis", "value"])
    figures = ()
    if not runs.empty:
        with report_style():
            figure, axes = plt.subplots(figsize=(7, 4))
            for index, ((model, axis), group) in enumerate(runs.groupby(["model", "axis"])):
                axes.plot(group["value"], group["mse"], marker="o", label=f"{model} ({axis})",
                          **series_style(index))
            axes.set(yscale="log", xlabel="threshold (τ or ρ)", ylabel="MSE dense vs masked",
                     title="Output gap of skipping cold columns")
            axes.legend(fontsize=8)
        figures = (save_figure(figure, folder, "accuracy_vs_threshold",
                               "Mean squared error of the masked against the dense output"),)
    shown = [c for c in accuracy.columns if c not in ("versions", "command", "masks", "table")]
    return Section("accuracy", title,
                   "The gap between dense and masked denoising (same seeds) at each threshold: "
                   "what skipping the cold columns costs in output quality. Higher thresholds "
                   "skip more columns; the quality metrics say whether the outputs stay close.",
                   command, figures=figures, tables=(table_of(accuracy, shown),))


def crosscheck_section(crosscheck: pd.DataFrame | None) -> Section:
    """Return the RTL ⇄ fast-model cross-check table."""
    title = "RTL ⇄ fast-model cross-check"
    command = "colsim crosscheck --out DIR"
    if not _has(crosscheck, "rtl_cycles", "fast_cycles"):
        return Section("crosscheck", title, "", command,
                       missing="no cross-check table given (`colsim report --crosscheck DIR`)")
    return Section("crosscheck", title,
                   "Each row is one layer-iteration run on the RTL co-simulation and on the fast "
                   "model from the same DRAM state; the two executors follow one schedule, so "
                   "any difference is a bug and is shown with its first diverging event.",
                   command, tables=(table_of(crosscheck, list(crosscheck.columns)),))


def provenance_section(profiles: Sequence[tuple[Path, Profile]],
                       tables: Sequence[tuple[str, pd.DataFrame]]) -> Section:
    """Return what produced every input: versions, configurations, seeds and commands."""
    rows = []
    for path, profile in profiles:
        meta = profile.meta
        rows.append((str(path), "profile", json.dumps(meta.get("versions", {}), sort_keys=True),
                     meta.get("seed", ""), json.dumps({k: meta[k] for k in sorted(meta)
                                                       if k not in ("versions",)}, default=str)))
    for name, frame in tables:
        for column in ("versions", "config", "seed", "command"):
            if column not in frame.columns:
                continue
            for value in sorted({str(v) for v in frame[column].dropna()}):
                rows.append((name, column, value, "", ""))
    missing = None if rows else "no input records its provenance"
    return Section("provenance", "Provenance",
                   "Every input of this report with the versions, configuration, seed and "
                   "command that produced it, as recorded in the input files themselves.",
                   "colsim report --profile ... --results ... --crosscheck ... --out DIR",
                   tables=(Table(("input", "what", "value", "seed", "details"),
                                 tuple(rows)),) if rows else (), missing=missing)
