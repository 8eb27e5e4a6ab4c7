"""Figures of a profile (``colsim plot``): sparsity per layer and over iterations, Jaccard."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from colsim.analysis.style import OKABE_ITO, report_style
from colsim.fileio import atomic_output
from colsim.profiler import metrics
from colsim.profiler.profile import Profile
from colsim.profiler.report import SparsityReport, sparsity_report

FIGURE_NAMES = ("sparsity_per_layer.png", "column_sparsity_over_iterations.png",
                "jaccard_over_iterations.png")


def plot_profile(
    profile: Profile, out_dir: str | Path, *, tau: float | None = None, rho: float | None = None
) -> list[Path]:
    """Write the three PNG figures of ``profile`` at ``tau`` or ``rho`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = sparsity_report(profile, tau=tau, rho=rho)
    paths = []
    for figure, name in zip(profile_figures(profile, report), FIGURE_NAMES, strict=True):
        path = out_dir / name
        try:
            with atomic_output(path, suffix=".png") as temporary:
                figure.savefig(temporary, dpi=120)
        finally:
            plt.close(figure)
        paths.append(path)
    return paths


def profile_figures(profile: Profile, report: SparsityReport) -> tuple[plt.Figure, ...]:
    """Return the figures of ``profile`` at the thresholds of ``report``, in the report style:
    element vs column sparsity per layer, column sparsity and Jaccard over iterations."""
    thresholds = {row.layer: row.threshold for row in report.rows}
    label = f"{profile.meta.get('model', 'profile')}, {report.axis} = {report.value:g}"
    with report_style():
        return (
            _per_layer(report, label),
            _over_iterations(profile, metrics.column_sparsity(profile, thresholds),
                             "column sparsity", "denoising iteration t", label),
            _over_iterations(profile, metrics.jaccard(profile, thresholds),
                             "Jaccard(hot_t, hot_t+1)", "iteration pair (t, t+1)", label),
        )


def _per_layer(report: SparsityReport, label: str) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(max(6.0, 0.3 * len(report.rows) + 2), 4))
    index = np.arange(len(report.rows))
    axes.bar(index - 0.2, [r.element_sparsity for r in report.rows], 0.4, label="element")
    axes.bar(index + 0.2, [r.column_sparsity for r in report.rows], 0.4, label="column")
    inflated = [i for i, r in enumerate(report.rows) if r.inflated]
    if inflated:
        axes.scatter(inflated, [1.02] * len(inflated), marker="v", color=OKABE_ITO[5],
                     label="threshold inflation")
    axes.set_xticks(index)
    axes.set(xlabel="FFN layer (forward order)", ylabel="sparsity (iterations 1+)",
             ylim=(0, 1.08), title=f"Element vs column sparsity ({label})")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def _over_iterations(
    profile: Profile, values: np.ndarray, what: str, x_label: str, label: str
) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(7, 4))
    steps = np.arange(values.shape[1])
    for row in values:
        axes.plot(steps, row, color=OKABE_ITO[0], alpha=0.25, linewidth=0.8)
    weights = metrics.layer_weights(profile)
    axes.plot(steps, weights @ values, color="black", linewidth=2, label="work-weighted mean")
    if values.shape[0]:
        axes.plot(steps, values.min(axis=0), color=OKABE_ITO[5], linestyle="--", label="min")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel=x_label, ylabel=what, ylim=(-0.02, 1.02),
             title=f"{what} per layer ({label})")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure
