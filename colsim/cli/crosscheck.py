"""``colsim crosscheck``: the fast model against the RTL, layer-iteration by layer-iteration.

Runs each case of a case set (``quick``, ``default`` or a TOML file of ``[[case]]`` entries,
:mod:`colsim.testbench.ffn_cases`) on the RTL co-simulation and on the fast model started at
the same DRAM cycle with the same DRAM state, prints one line per layer-iteration (RTL and
fast cycles, the difference, request streams and DRAM statistics equal, the first diverging
event of a mismatch), writes ``crosscheck.json`` and the ``crosscheck`` table (Parquet and
CSV) into ``--out`` and exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse

from colsim.cli.progress import note, progress_bar
from colsim.cli.study import add_task_arguments
from colsim.fileio import check_output_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim crosscheck``."""
    parser = subparsers.add_parser("crosscheck",
                                   help="cross-check the fast model against the RTL")
    parser.add_argument("--cases", default="quick",
                        help="quick (default), default, or a TOML file of [[case]] entries")
    parser.add_argument("--config", help="hardware TOML the cases' array, buffers and "
                        "refresh apply to (default: tiny / reference buffers as each case says)")
    parser.add_argument("--out", default="crosscheck", help="output folder (default: "
                        "./crosscheck)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel cases (Dask "
                        "workers)")
    add_task_arguments(parser)
    parser.set_defaults(func=_crosscheck)


def _crosscheck(args: argparse.Namespace) -> int:
    """Run the cases; print the table; exit 1 on any mismatch."""
    from colsim import api

    check_output_dir(args.out)
    run = api.crosscheck(cases=args.cases, config=args.config, out=args.out, jobs=args.jobs,
                         executor=args.executor, scheduler=args.scheduler,
                         progress=progress_bar("crosscheck", unit="case"), announce=note)
    print("case                                      it mode     rtl   fast  diff  engines"
          "  requests  dram   first divergence")
    for result in run.results:
        for it in result.iterations:
            print(f"{it.case:<41} {it.iteration:>2} {it.mode:<6} {it.rtl_cycles:>5} "
                  f"{it.fast_cycles:>6} {it.difference:>+5}  "
                  f"{'equal' if it.engines_equal else 'DIFFER':<7}  "
                  f"{'equal' if it.request_stream_equal else 'DIFFER':<8}  "
                  f"{'equal' if it.dram_equal else 'DIFFER':<5}  {it.first_divergence or '-'}")
        if not all(result.checks.values()):
            failed = ", ".join(k for k, ok in result.checks.items() if not ok)
            print(f"{result.case.name}: checks FAILED: {failed}")
    for failure in run.failures:
        print(f"FAILED {failure}")
    iterations = [it for r in run.results for it in r.iterations]
    matched = sum(it.match for it in iterations)
    print(f"{matched} of {len(iterations)} layer-iterations match in {len(run.results)} cases "
          f"({run.seconds:.1f} s); wrote {', '.join(str(p) for p in run.files)}")
    return 0 if run.passed else 1
