"""``colsim report``: one self-contained HTML report of profiles, results and cross-checks.

:func:`build_report` reads the inputs, builds every section (:mod:`.sections`; a section whose
input is absent says so), renders ``templates/report.html.j2`` with Jinja2 and writes
``report.html`` (figures embedded as PNG data, scripts and styles inline: it opens from a file
with no network) plus every figure as PNG and SVG under ``figures/``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from colsim.analysis.report.sections import (
    Section,
    accuracy_section,
    baseline_section,
    crosscheck_section,
    provenance_section,
    reduction_sections,
    sensitivity_section,
    sparsity_sections,
)
from colsim.analysis.results import load_results
from colsim.errors import ColsimError
from colsim.fileio import write_text
from colsim.provenance import package_versions

if TYPE_CHECKING:
    import pandas as pd

REPORT_NAME = "report.html"
FIGURES = "figures"


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote: the HTML page, the figure files, the sections."""

    html: Path
    figures: tuple[Path, ...]
    sections: tuple[Section, ...]


def build_report(
    *,
    out: str | Path,
    profiles: Sequence[str | Path] = (),
    results: Sequence[str | Path] = (),
    crosscheck: str | Path | None = None,
) -> ReportFiles:
    """Write the report of ``profiles``, ``results`` folders and a ``crosscheck`` folder."""
    import pandas as pd

    from colsim.profiler.profile import Profile

    out = Path(out)
    loaded_profiles = [(Path(p), Profile.load(p)) for p in profiles]
    tables = [(f"{path} ({name})", frame) for path in results
              for name, frame in _tables(Path(path)).items()]
    runs = [frame for name, frame in tables if name.endswith("(results)")]
    accuracy = [frame for name, frame in tables if name.endswith("(accuracy)")]
    sensitivity = [frame for name, frame in tables if name.endswith("(sensitivity)")]
    combined = pd.concat(runs, ignore_index=True) if runs else None
    checks = load_results(crosscheck) if crosscheck is not None else None
    folder = out / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    sections = (
        *sparsity_sections(loaded_profiles, folder),
        baseline_section(combined, folder),
        *reduction_sections(combined, folder),
        sensitivity_section(pd.concat(sensitivity, ignore_index=True) if sensitivity else None,
                            folder),
        accuracy_section(pd.concat(accuracy, ignore_index=True) if accuracy else None, folder),
        crosscheck_section(checks),
        provenance_section(loaded_profiles, tables),
    )
    html = render(sections, inputs=[*map(str, profiles), *map(str, results),
                                    *([str(crosscheck)] if crosscheck is not None else [])])
    page = out / REPORT_NAME
    write_text(page, html)
    figures = tuple(path for s in sections for f in s.figures for path in (f.png, f.svg))
    return ReportFiles(page, figures, sections)


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    """Return the results tables of a folder by name (a table file: itself, as results)."""
    if path.is_file():
        return {"results": load_results(path)}
    names = {"results", "accuracy", "sensitivity"}
    stems = names & {p.stem for p in path.glob("*")} if path.is_dir() else ()
    found = {name: load_results(path, name) for name in sorted(stems)}
    if not found:
        load_results(path)  # a missing folder, or one without tables: its own clear error
    return found


def render(sections: Sequence[Section], *, inputs: Sequence[str]) -> str:
    """Return the report page of ``sections`` (HTML text)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("colsim.analysis.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    if not sections:
        raise ColsimError("a report needs at least one section")
    return environment.get_template("report.html.j2").render(
        sections=sections, inputs=inputs, versions=package_versions(),
        created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
