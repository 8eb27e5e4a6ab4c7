"""``colsim sweep``, ``colsim reproduce`` and ``colsim bench reproduce``: grids of fast-model runs.

``sweep`` runs a grid of models × layouts × thresholds as Dask tasks and writes one tidy results
table (Parquet and CSV) plus the per-run JSON records, resuming from those of an earlier run;
``reproduce`` runs the study's grid for all its workloads and adds the baseline and reduction
tables; ``bench reproduce`` times the seven baselines and the whole default grid.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colsim.cli.progress import note, progress_bar
from colsim.cli.simulate import add_common_arguments
from colsim.errors import ColsimError
from colsim.sim.layout import LAYOUT_KINDS

if TYPE_CHECKING:
    from colsim.tasks import TaskFailure


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim sweep`` and ``colsim reproduce``."""
    sweep = subparsers.add_parser("sweep", help="grid of simulations as Dask tasks")
    sweep.add_argument("--models", nargs="+", required=True, help="workload names")
    sweep.add_argument("--layouts", nargs="+", choices=LAYOUT_KINDS, default=["hotcold"])
    sweep.add_argument("--taus", nargs="*", type=float, default=[], help="uniform thresholds")
    sweep.add_argument("--rhos", nargs="*", type=float, default=[], help="target hot ratios")
    sweep.add_argument("--profiles", metavar="DIR", help="folder with <model>.h5 profiles")
    sweep.add_argument("--synthetic", metavar="SPEC", default="jaccard=0.9",
                       help="synthetic masks for ρ runs without profiles (sparsity = 1-ρ)")
    sweep.add_argument("--out", metavar="DIR", required=True,
                       help="output folder (a rerun resumes from its finished runs)")
    add_task_arguments(sweep)
    add_common_arguments(sweep)
    sweep.set_defaults(func=run_sweep)
    register_reproduce(subparsers)
    register_sensitivity(subparsers)


def register_sensitivity(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim sensitivity``."""
    parser = subparsers.add_parser(
        "sensitivity", help="baselines over hardware variants: compute- or memory-bound")
    parser.add_argument("--models", nargs="+", required=True, help="workload names")
    parser.add_argument("--set", dest="axes", action="append", default=[],
                        metavar="KEY=V1,V2,...",
                        help="a hardware config key and its values (repeatable; crossed), "
                             "e.g. dma.transfers_in_flight=1,4,16,64 or dram.preset=gddr6,hbm2")
    parser.add_argument("--arrays", metavar="RxC,...", help="array sizes, e.g. 16x16,32x32")
    parser.add_argument("--scale-buffers", action="store_true",
                        help="scale the SRAM buffers with each array's area (same tiles)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    add_task_arguments(parser)
    add_common_arguments(parser, mask_policy=False)
    parser.set_defaults(func=run_sensitivity)


def register_reproduce(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim reproduce``."""
    parser = subparsers.add_parser(
        "reproduce", help="the study's grid for all its workloads at full size")
    parser.add_argument("--study", metavar="FILE",
                        help="study file of mask statistics (default: the packaged study.toml)")
    parser.add_argument("--models", nargs="+", help="only these workloads of the study")
    parser.add_argument("--profiles", metavar="DIR",
                        help="folder of <model>.h5 profiles that replace a workload's "
                             "synthetic masks")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="output folder (a rerun resumes from its finished runs)")
    add_task_arguments(parser)
    add_common_arguments(parser, mask_policy=False)
    parser.set_defaults(func=run_reproduce)


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """Add where a command's tasks run: ``--scheduler`` and ``--executor``."""
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="an existing Dask scheduler (default: a LocalCluster of -j "
                             "workers)")
    parser.add_argument("--executor", choices=("dask", "local"), default="dask",
                        help="dask (default) or local: one run after another in this process")


def run_sweep(args: argparse.Namespace) -> int:
    """Run ``colsim sweep``: the grid as Dask tasks, then one tidy table; exit 1 on failures."""
    from colsim import api

    grid = api.SweepGrid(
        models=tuple(args.models), out=Path(args.out), layouts=tuple(args.layouts),
        taus=tuple(args.taus), rhos=tuple(args.rhos), profiles=args.profiles,
        synthetic=args.synthetic, size=args.size, shapes=args.shapes,
        iterations=args.iterations, seed=args.seed, mask_policy=args.mask_policy,
        config=args.config,
    )
    table = api.sweep(grid, jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
                      progress=progress_bar("sweep", unit="task"), announce=note)
    return print_task_outcome(table.rows, table.failures, table.resumed,
                              f"{table.path} (and .csv) and {table.runs}/*.json")


def run_reproduce(args: argparse.Namespace) -> int:
    """Run ``colsim reproduce``: the grid, then the baseline and reduction tables."""
    from colsim import api

    tables = api.reproduce(
        out=args.out, study=args.study, shapes=args.shapes, models=args.models,
        profiles=args.profiles, size=args.size, iterations=args.iterations, seed=args.seed,
        config=args.config, jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
        progress=progress_bar("reproduce", unit="task"), announce=note)
    print(format_rows(tables.baseline, ("model", "cycles", "compute_share", "stall_share",
                                        "other_share", "hit_rate")))
    at_reference = [row for row in tables.reduction
                    if row["axis"] == "tau" and row["value"] == 0.164]
    print(format_rows(at_reference, ("model", "layout", "cycles", "baseline_cycles",
                                     "cycle_reduction")))
    if tables.skipped:
        print(f"not run ({len(tables.skipped)}): tau runs without a profile or a study figure "
              f"at that tau, e.g. {tables.skipped[0].run_id}")
    sweep = tables.sweep
    return print_task_outcome(sweep.rows, sweep.failures, sweep.resumed,
                              f"{sweep.path.parent}/{{results,baseline,reduction}}.parquet "
                              f"(and .csv) and {sweep.runs}/*.json")


def run_sensitivity(args: argparse.Namespace) -> int:
    """Run ``colsim sensitivity``; print the table; exit 1 on failures."""
    from colsim import api
    from colsim.analysis.sensitivity import parse_arrays, parse_axis

    axes = dict(parse_axis(text) for text in args.axes)
    arrays = parse_arrays(args.arrays) if args.arrays else ()
    if not axes and not arrays:
        raise ColsimError("give at least one `--set KEY=V1,...` or `--arrays RxC,...`")
    table = api.sensitivity(
        models=args.models, out=args.out, axes=axes, arrays=arrays,
        scale_buffers=args.scale_buffers, shapes=args.shapes,
        size=args.size, iterations=args.iterations, config=args.config, jobs=args.jobs,
        executor=args.executor, scheduler=args.scheduler,
        progress=progress_bar("sensitivity", unit="task"), announce=note)
    columns = ["model", *(["array"] if arrays else []), *axes, "cycles", "compute_share",
               "stall_share", "bound"]
    print(format_rows(table.rows, columns))
    return print_task_outcome(table.rows, table.failures, (), f"{table.path} (and .csv)")


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Return ``rows`` as an aligned text table of ``columns`` (floats to 4 places)."""
    cells = [list(columns)] + [[f"{row[c]:.4f}" if isinstance(row[c], float) else
                                f"{row[c]:,}" if isinstance(row[c], int) else str(row[c])
                                for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
                     for line in cells) + "\n"


def print_task_outcome(rows: Sequence[Any], failures: Sequence[TaskFailure],
                       resumed: Sequence[str], written: str) -> int:
    """Print what a task-based command wrote, resumed and failed; return its exit status."""
    if resumed:
        print(f"resumed {len(resumed)} finished runs from an earlier run")
    for failure in failures:
        print(f"FAILED {failure.key}: {failure.message}")
    print(f"wrote {written}: {len(rows)} runs" + (f", {len(failures)} failed" if failures
                                                   else ""))
    return 1 if failures else 0




def register_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim bench reproduce``."""
    bench = subparsers.add_parser(
        "reproduce", help="time the study's seven baselines, then its whole default grid")
    bench.add_argument("--out", metavar="DIR", required=True,
                       help="folder of the reproduction (an existing one is resumed: use an "
                            "empty folder to time the work)")
    bench.add_argument("--shapes", choices=("public", "study"), default="public")
    bench.add_argument("--iterations", type=int, default=50)
    bench.add_argument("--baselines-only", action="store_true",
                       help="stop after the baselines")
    bench.add_argument("-j", "--jobs", type=int, default=2)
    bench.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Run the baselines, then the rest of the grid; print the wall time of each phase."""
    import resource
    import time

    from colsim import api

    common = {"out": args.out, "shapes": args.shapes, "iterations": args.iterations,
              "jobs": args.jobs, "announce": note}
    print(f"reproduce (default study file, {args.shapes} shapes, {args.iterations} "
          f"iterations, -j {args.jobs}) into {args.out}")
    started = time.perf_counter()
    baselines = api.reproduce(**common, baselines_only=True,
                              progress=progress_bar("baselines", unit="task"))
    middle = time.perf_counter()
    print(f"baselines: {middle - started:.1f} s wall, {len(baselines.sweep.rows)} runs "
          f"({len(baselines.sweep.resumed)} resumed)")
    if not args.baselines_only:
        grid = api.reproduce(**common, progress=progress_bar("grid", unit="task"))
        print(f"rest of the grid: {time.perf_counter() - middle:.1f} s wall, "
              f"{len(grid.sweep.rows) - len(baselines.sweep.rows)} runs "
              f"({len(grid.sweep.resumed) - len(baselines.sweep.rows)} resumed), "
              f"{len(grid.skipped)} not run (no figure at that tau)")
        print(f"whole default grid: {time.perf_counter() - started:.1f} s wall")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory: {own:.2f} GiB (this process)")
    return 0
