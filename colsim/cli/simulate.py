"""``colsim simulate``, ``colsim sweep`` and ``colsim bench simulate``: the fast cycle model.

``simulate`` runs one workload (masks from a profile at τ or ρ, a mask file, or a seeded
synthetic generator) and prints a per-layer table and the summary; ``sweep`` runs a grid of
models × layouts × thresholds as Dask tasks and writes one tidy results table (Parquet and
CSV) plus the per-run JSON records, resuming from those of an earlier run; ``bench simulate``
times the full-size runs quoted in the closing notes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colsim.cli.profile import REFERENCE_THRESHOLD_TEXT
from colsim.cli.progress import progress_bar
from colsim.fileio import check_output_file
from colsim.models.registry import workload_spec
from colsim.sim.layout import LAYOUT_KINDS

if TYPE_CHECKING:
    from colsim.sim.fast.workload import WorkloadResult

# The fast model and the DRAM model compile with numba: colsim.api is imported inside the
# commands, so that building the parser (``colsim --help``) stays cheap.
MASK_POLICIES = ("fixed", "per-iteration")  # = colsim.sim.fast.workload.MASK_POLICIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim simulate``."""
    sim = subparsers.add_parser("simulate", help="cycles of one workload on the fast model")
    sim.add_argument("--model", required=True, help="workload name (e.g. dit-xl-2, sd-v1.4, mdm)")
    add_common_arguments(sim)
    source = sim.add_mutually_exclusive_group()
    source.add_argument("--masks", metavar="PROFILE", help="profile (.h5) or mask file (.npz)")
    source.add_argument("--synthetic", metavar="SPEC",
                        help="seeded synthetic masks, e.g. sparsity=0.6,jaccard=0.9,"
                             "regime=concentration (sparsity defaults to 1-ρ with --rho)")
    sim.add_argument("--layout", choices=LAYOUT_KINDS, default=None,
                     help="column layout (default: hotcold with masks, else rowmajor)")
    threshold = sim.add_mutually_exclusive_group()
    threshold.add_argument("--tau", type=float, help="uniform threshold τ (profiles; default "
                                                      f"{REFERENCE_THRESHOLD_TEXT} unless --rho)")
    threshold.add_argument("--rho", type=float, help="per-layer target hot ratio ρ")
    sim.add_argument("--compare-baseline", action="store_true",
                     help="also run the all-dense row-major baseline and report the reduction")
    sim.add_argument("--out", metavar="RESULT.json",
                     help="write the JSON record (and RESULT.csv, the layer-iteration table)")
    sim.set_defaults(func=run_simulate)



def add_common_arguments(parser: argparse.ArgumentParser, *, mask_policy: bool = True) -> None:
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--shapes", choices=("public", "study"), default="public",
                        help="operating point of the full-size models: the public "
                             "configuration or the study's Table 1")
    parser.add_argument("--iterations", type=int, default=50)
    if mask_policy:
        parser.add_argument("--mask-policy", choices=MASK_POLICIES, default="fixed",
                            help="fixed: iteration-0 hot set reused (FFN-Reuse); per-iteration")
    parser.add_argument("--config", metavar="HW.toml", help="hardware config (default: reference)")
    parser.add_argument("--seed", type=int, default=0, help="seed of synthetic masks")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes")


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``colsim simulate``."""
    from colsim import api

    started = time.perf_counter()
    if args.out:
        check_output_file(args.out)
        for suffix in (".csv", ".parquet"):
            check_output_file(Path(args.out).with_suffix(suffix))
    spec = workload_spec(args.model, args.size, args.shapes)
    mask_set, source = api.resolve_masks(
        spec, path=args.masks, synthetic=args.synthetic, tau=args.tau, rho=args.rho,
        iterations=args.iterations, seed=args.seed,
    )
    run = api.workload_run(spec, config=args.config, masks=mask_set, layout=args.layout,
                           iterations=args.iterations, mask_policy=args.mask_policy)
    result = api.simulate(run, jobs=args.jobs, progress=progress_bar(args.model))
    baseline = None
    if args.compare_baseline:
        baseline = api.simulate(api.baseline(run), jobs=args.jobs,
                                progress=progress_bar("baseline"))
    inputs = {"model": args.model, "size": args.size, "shapes": args.shapes,
              "config": args.config, **source, "command": sys.argv}
    report_simulation(result, baseline, inputs=inputs, started=started, out=args.out)
    return 0


def report_simulation(
    result: WorkloadResult, baseline: WorkloadResult | None, *, inputs: dict[str, Any],
    started: float, out: str | Path | None,
) -> None:
    """Print the per-layer table; write the JSON record to ``out`` and the layer-iteration
    table beside it (``.parquet`` and ``.csv``)."""
    from colsim.analysis.results import write_table
    from colsim.sim.fast.report import format_table, layer_iteration_rows, result_record, write_json

    print(format_table(result, baseline), end="")
    if out:
        record = result_record(
            result, inputs=inputs, baseline=baseline, runtime_s=time.perf_counter() - started,
        )
        out = Path(out)
        write_json(out, record)
        parquet, csv = write_table(layer_iteration_rows(result), out.with_suffix(""))
        print(f"wrote {out}, {parquet} and {csv}")


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim bench simulate``."""
    bench = subparsers.add_parser(
        "simulate", help="time the full-size baseline and a DiT-XL/2 hot-cold run"
    )
    bench.add_argument("--models", nargs="+", default=None,
                       help="baseline workloads (default: the seven full-size ones)")
    bench.add_argument("--iterations", type=int, default=50)
    bench.add_argument("-j", "--jobs", type=int, default=2)
    bench.add_argument("--skip-baseline", action="store_true")
    bench.add_argument("--skip-hotcold", action="store_true")
    bench.set_defaults(func=run_bench)


FULL_SIZE = ("dit-xl-2", "sd-v1.4", "videocrafter2", "make-an-audio", "mdm", "mld", "edge")


def run_bench(args: argparse.Namespace) -> int:
    """Time the baseline of every full-size workload and one DiT-XL/2 hot-cold run."""
    from colsim import api

    dit = workload_spec("dit-xl-2", "full")
    reference = api.workload_run(dit, iterations=args.iterations)
    hw, dram = reference.hw, reference.dram
    print(f"hardware: reference ({hw.systolic.rows}x{hw.systolic.cols} array, "
          f"{hw.clock.core_mhz:g} MHz core), DRAM {dram.name}, {args.iterations} iterations, "
          f"-j {args.jobs}")
    if not args.skip_baseline:
        total = 0.0
        for model in args.models or FULL_SIZE:
            run = replace(reference, spec=workload_spec(model, "full"))
            started = time.perf_counter()
            result = api.simulate(run, jobs=args.jobs, progress=progress_bar(model))
            elapsed = time.perf_counter() - started
            total += elapsed
            print(f"baseline {model}: {elapsed:.1f} s wall, {result.unique} unique "
                  f"layer-iterations, {result.total().cycles:,} cycles, "
                  f"{result.total().transactions:,} transactions")
        print(f"baseline of all workloads: {total:.1f} s wall")
    if not args.skip_hotcold:
        started = time.perf_counter()
        masks = api.synthetic_masks(dit, iterations=args.iterations, seed=0,
                                    column_sparsity=1 - 0.164, jaccard=0.9)
        run = replace(reference, layout="hotcold", masks=masks)
        result = api.simulate(run, jobs=args.jobs, progress=progress_bar("dit hot-cold"))
        elapsed = time.perf_counter() - started
        print(f"dit-xl-2 hot-cold (synthetic ρ=0.164, J=0.9, fixed masks): {elapsed:.1f} s "
              f"wall, {result.unique} unique layer-iterations, "
              f"{result.total().cycles:,} cycles")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak resident memory: {own:.2f} GiB (this process), {children:.2f} GiB "
          f"(largest worker)")
    return 0
