"""``colsim report``: the HTML report of profiles, results folders and a cross-check."""

from __future__ import annotations

import argparse

from colsim.fileio import check_output_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim report``."""
    parser = subparsers.add_parser(
        "report", help="one self-contained HTML report (figures as PNG and SVG too)")
    parser.add_argument("--profile", nargs="+", default=[], metavar="FILE",
                        help="profiles (.h5): sparsity, stability and threshold sections")
    parser.add_argument("--results", nargs="+", default=[], metavar="DIR",
                        help="results folders (sweep, reproduce): baseline and reduction "
                             "sections")
    parser.add_argument("--crosscheck", metavar="DIR", help="a `colsim crosscheck` folder")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for report.html and figures/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path (the last line)."""
    from colsim import api

    check_output_dir(args.out)
    files = api.report(out=args.out, profiles=args.profile, results=args.results,
                       crosscheck=args.crosscheck)
    absent = [s.title for s in files.sections if s.missing]
    print(f"{len(files.sections) - len(absent)} of {len(files.sections)} sections built, "
          f"{len(files.figures)} figure files in {files.html.parent / 'figures'}")
    if absent:
        print(f"input absent for: {'; '.join(absent)}")
    print(files.html)
    return 0
