"""``colsim rtl-run``, ``colsim regress`` and ``colsim bench rtl``: the RTL co-simulation.

``rtl-run`` runs one layer of a profiled model on the FFN engine top (Verilator) with the
GDDR6 model answering its DRAM requests, prints cycles, DRAM statistics and the checks, and
optionally writes the result (with the configuration that produced it) as JSON.
``regress`` runs the cocotb regression matrix and writes JUnit XML. ``bench rtl`` measures
simulated core cycles per second of the co-simulation on the tiny configuration.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from colsim.cli.profile import REFERENCE_THRESHOLD_TEXT
from colsim.cli.progress import note, progress_bar
from colsim.cli.study import add_task_arguments
from colsim.errors import ColsimError
from colsim.fileio import check_output_file, write_text

if TYPE_CHECKING:
    from colsim.testbench.ffn_run import CosimReport


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim rtl-run`` and ``colsim regress``."""
    run = subparsers.add_parser("rtl-run", help="co-simulate one FFN layer on the RTL top")
    run.add_argument("--profile", required=True, help="profile file (colsim profile)")
    run.add_argument("--layer", required=True, help="FFN layer name in the profile")
    run.add_argument("--iterations", default="0", help="comma-separated, first is dense "
                     "(default: 0)")
    threshold = run.add_mutually_exclusive_group()
    threshold.add_argument("--tau", type=float,
                           help=f"uniform hot threshold (default {REFERENCE_THRESHOLD_TEXT})")
    threshold.add_argument("--rho", type=float,
                           help="target hot ratio (the layer's calibrated threshold)")
    run.add_argument("--layout", default="rowmajor", help="rowmajor, hotcold or perlayer")
    run.add_argument("--array", help="systolic array RxC (default: from the config)")
    run.add_argument("--config", help="hardware TOML (default: the reference hardware)")
    run.add_argument("--memory", default="gddr6", help="gddr6 (default) or random")
    run.add_argument("--operands", default="profile", choices=("profile", "random"),
                     help="profile: the captured inputs and weights (colsim profile "
                     "--capture-inputs); random: seeded operands (default: profile)")
    run.add_argument("--seed", type=int, default=0,
                     help="seed of the random memory and random operands")
    run.add_argument("--waves", action="store_true", help="record an FST waveform")
    run.add_argument("--out", help="write the result as JSON to this file")
    run.set_defaults(func=_rtl_run)
    regress = subparsers.add_parser("regress", help="run the cocotb regression matrix")
    regress.add_argument("-k", dest="pattern", help="only cases whose name matches")
    regress.add_argument("-n", dest="jobs", type=int, default=1,
                         help="parallel jobs (Dask workers)")
    regress.add_argument("--junit", default="regress.xml", help="JUnit XML output file")
    regress.add_argument("--list", action="store_true", help="list the cases and exit")
    add_task_arguments(regress)
    regress.set_defaults(func=_regress)


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim bench rtl``."""
    bench = subparsers.add_parser("rtl", help="simulated core cycles/s of the co-simulation")
    bench.add_argument("--iterations", type=int, default=10,
                       help="layer-iterations (default 10: about a second of simulation, "
                            "long enough for a steady figure)")
    bench.add_argument("--density", type=float, default=0.3, help="hot column share")
    bench.add_argument("--seed", type=int, default=0, help="seed of the hot mask")
    bench.set_defaults(func=_bench)


def _parse_array(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ColsimError(f"`--array` must look like 4x4, not {text!r}") from None
    return rows, cols


def _parse_iterations(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ColsimError(f"`--iterations` must be comma-separated integers, not {text!r}") \
            from None


def _rtl_run(args: argparse.Namespace) -> int:
    """Run the co-simulation; print the summary; exit 1 when a check failed."""
    from colsim import api

    if args.out:
        check_output_file(args.out)
    case = api.cosim_case(
        profile=args.profile, layer=args.layer, iterations=_parse_iterations(args.iterations),
        tau=args.tau, rho=args.rho, config=args.config,
        array=_parse_array(args.array) if args.array else None, layout=args.layout,
        memory=args.memory, seed=args.seed, operands=args.operands,
    )
    report = api.cosimulate(case, waves=args.waves)
    print_cosim_report(report)
    if args.out:
        write_cosim_record(args.out, report, profile={
            "file": str(args.profile), "layer": args.layer, "iterations": args.iterations,
            "tau": case.tau, "rho": args.rho})
    return 0 if report.passed else 1


def print_cosim_report(report: CosimReport) -> None:
    """Print the per-iteration table, the DRAM statistics, the checks and the speed."""
    print("iter  mode    transactions  cycles  compute  stall  simd  hot/skip  fast-model"
          "  requests  outputs    float-err  mask")
    for i, it in enumerate(report.iterations):
        fast, error, mask = it.fast_model_cycles, it.float_max_error, it.mask_equal
        print(f"{i:>4}  {it.mode:<6} {it.transactions:>13} {it.cycles:>7} "
              f"{it.array_busy:>8} {it.array_stall:>6} {it.simd_busy:>5} "
              f"{str(it.hot_issued) + '/' + str(it.hot_skipped):>9} "
              f"{'-' if fast is None else fast:>11}  "
              f"{'equal' if it.request_stream_equal else 'DIFFER':<8}  "
              f"{'exact' if it.bit_exact else 'DIFFER':<9}  "
              f"{'-' if error is None else f'{error:.4f}':>9}  "
              f"{'-' if mask is None else ('equal' if mask else 'DIFFER')}")
    if report.dram:
        print("DRAM: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in report.dram.items()))
    for name, ok in report.checks.items():
        print(f"check {name}: {'pass' if ok else 'FAIL'}")
    print(f"speed: {report.simulated_cycles} core cycles in {report.wall_seconds:.2f} s "
          f"= {report.cycles_per_second:.0f} cycles/s")
    if report.waveform:
        print(f"waveform: {report.waveform}")


def write_cosim_record(path: str | Path, report: CosimReport, *, profile: dict) -> None:
    """Write the JSON record of ``report``, with the ``profile`` it came from, to ``path``."""
    record = report.to_dict()
    record["config"]["profile"] = profile
    write_text(path, json.dumps(record, indent=2))
    print(f"wrote {path}")


def _regress(args: argparse.Namespace) -> int:
    """Run the selected cases; print one line per case and a summary; exit 1 on failures."""
    from colsim.testbench.regress import regression_matrix, run_regression, select

    cases = select(regression_matrix(), args.pattern)
    if not cases:
        raise ColsimError(f"no regression case matches {args.pattern!r}")
    if args.list:
        for case in cases:
            print(case.name)
        return 0
    outcomes = run_regression(cases, jobs=args.jobs, junit=args.junit, executor=args.executor,
                              scheduler=args.scheduler, announce=note,
                              progress=progress_bar("regress", unit="case"))
    failed = [o for o in outcomes if not o.passed]
    groups: dict[str, list] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.name.split("-")[0], []).append(outcome)
    print("bench      cases  passed  failed  seconds")
    for group, members in groups.items():
        bad = sum(not o.passed for o in members)
        print(f"{group:<10} {len(members):>5} {len(members) - bad:>7} {bad:>7} "
              f"{sum(o.seconds for o in members):>8.1f}")
    for outcome in failed:
        print(f"FAIL {outcome.name}: {outcome.message}")
    total = sum(o.seconds for o in outcomes)
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed, "
          f"{total:.1f} s of simulation; JUnit XML: {args.junit}")
    return 1 if failed else 0


def _bench(args: argparse.Namespace) -> int:
    """Co-simulate the tiny configuration against GDDR6 and print the speed."""
    import numpy as np

    from colsim import api
    from colsim.config import tiny_hardware
    from colsim.models.spec import FfnLayer
    from colsim.testbench.ffn_case import CosimSpec

    layer = FfnLayer("tiny", 8, 16, 64, False)
    hot = np.random.default_rng(args.seed).random(layer.hidden) < args.density
    report = api.cosimulate(CosimSpec(tiny_hardware(), layer, hot, iterations=args.iterations))
    print(f"config: 4x4 array, layer M=8 d=16 N=64, hot density {args.density}, "
          f"{args.iterations} iterations (1 dense + sparse), GDDR6, seed {args.seed}")
    print(f"simulated {report.simulated_cycles} core cycles in "
          f"{report.wall_seconds:.3f} s: {report.cycles_per_second:.0f} cycles/s "
          f"(checks: {'pass' if report.passed else 'FAIL'})")
    return 0 if report.passed else 1
