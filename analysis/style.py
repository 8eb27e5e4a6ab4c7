"""One figure style for every report figure, and figure files in two formats.

Colours come from the Okabe-Ito palette, which stays distinguishable under the common forms
of colour blindness; series that need more than its eight colours also change line style.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from cycler import cycler

from colsim.fileio import atomic_output, write_bytes

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
LINE_STYLES = ("-", "--", ":", "-.")
STYLE = {
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "svg.hashsalt": "colsim",  # identical inputs give identical SVG files
    "svg.fonttype": "none",
}


def series_style(index: int) -> dict[str, str]:
    """Return the colour and line style of the ``index``-th series of a figure."""
    return {"color": OKABE_ITO[index % len(OKABE_ITO)],
            "linestyle": LINE_STYLES[index // len(OKABE_ITO) % len(LINE_STYLES)]}


@contextmanager
def report_style() -> Iterator[None]:
    """Apply the report's figure style inside the block."""
    with matplotlib.rc_context(STYLE):
        yield


@dataclass(frozen=True)
class FigureFiles:
    """A saved figure: its PNG and SVG files and the PNG as a ``data:`` URI for embedding."""

    name: str
    caption: str
    png: Path
    svg: Path
    data_uri: str


def save_figure(figure: plt.Figure, folder: Path, name: str, caption: str) -> FigureFiles:
    """Write ``figure`` as ``<name>.png`` and ``<name>.svg`` into ``folder`` and close it."""
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        write_bytes(png, buffer.getvalue())
        with atomic_output(svg, suffix=".svg") as temporary:
            figure.savefig(temporary, format="svg", metadata={"Date": None})
    finally:
        plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return FigureFiles(name, caption, png, svg, f"data:image/png;base64,{encoded}")
