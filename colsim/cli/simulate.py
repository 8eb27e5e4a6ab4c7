"""``colsim simulate``, ``colsim sweep`` and ``colsim bench simulate``: the fast cycle model.

``simulate`` runs one workload (masks from a profile at τ or ρ, a mask file, or a seeded
synthetic generator) and prints a per-layer table and the summary; ``sweep`` runs a grid of
models × layouts × thresholds in local processes and writes one tidy CSV plus the per-run
JSON records; ``bench simulate`` times the full-size runs quoted in the closing notes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from colsim.config import load_hardware_config
from colsim.errors import ColsimError
from colsim.models.registry import workload_names, workload_spec
from colsim.sim.layout import LAYOUT_KINDS

if TYPE_CHECKING:
    from colsim.config import HardwareConfig
    from colsim.models.spec import WorkloadSpec
    from colsim.profiler.masks import MaskSet
    from colsim.sim.dram.config import DramConfig

# The fast model and the DRAM model compile with numba: they are imported inside the commands,
# so that building the parser (``colsim --help``) stays cheap.
MASK_POLICIES = ("fixed", "per-iteration")  # = colsim.sim.fast.workload.MASK_POLICIES
SYNTHETIC_KEYS = ("sparsity", "jaccard", "regime")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim simulate`` and ``colsim sweep``."""
    sim = subparsers.add_parser("simulate", help="cycles of one workload on the fast model")
    sim.add_argument("--model", required=True, help="workload name (e.g. dit-xl-2, sd-v1.4, mdm)")
    _add_common(sim)
    source = sim.add_mutually_exclusive_group()
    source.add_argument("--masks", metavar="PROFILE", help="profile (.h5) or mask file (.npz)")
    source.add_argument("--synthetic", metavar="SPEC",
                        help="seeded synthetic masks, e.g. sparsity=0.6,jaccard=0.9,"
                             "regime=concentration (sparsity defaults to 1-ρ with --rho)")
    sim.add_argument("--layout", choices=LAYOUT_KINDS, default=None,
                     help="column layout (default: hotcold with masks, else rowmajor)")
    threshold = sim.add_mutually_exclusive_group()
    threshold.add_argument("--tau", type=float, help="uniform threshold τ (profiles)")
    threshold.add_argument("--rho", type=float, help="per-layer target hot ratio ρ")
    sim.add_argument("--compare-baseline", action="store_true",
                     help="also run the all-dense row-major baseline and report the reduction")
    sim.add_argument("--out", metavar="RESULT.json",
                     help="write the JSON record (and RESULT.csv, the layer-iteration table)")
    sim.set_defaults(func=run_simulate)

    sweep = subparsers.add_parser("sweep", help="grid of simulations in parallel")
    sweep.add_argument("--models", nargs="+", required=True, help="workload names")
    sweep.add_argument("--layouts", nargs="+", choices=LAYOUT_KINDS, default=["hotcold"])
    sweep.add_argument("--taus", nargs="*", type=float, default=[], help="uniform thresholds")
    sweep.add_argument("--rhos", nargs="*", type=float, default=[], help="target hot ratios")
    sweep.add_argument("--profiles", metavar="DIR", help="folder with <model>.h5 profiles")
    sweep.add_argument("--synthetic", metavar="SPEC", default="jaccard=0.9",
                       help="synthetic masks for ρ runs without profiles (sparsity = 1-ρ)")
    sweep.add_argument("--out", metavar="DIR", required=True, help="output folder")
    _add_common(sweep)
    sweep.set_defaults(func=run_sweep)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--mask-policy", choices=MASK_POLICIES, default="fixed",
                        help="fixed: iteration-0 hot set reused (FFN-Reuse); per-iteration")
    parser.add_argument("--config", metavar="HW.toml", help="hardware config (default: reference)")
    parser.add_argument("--seed", type=int, default=0, help="seed of synthetic masks")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes")


def load_hardware_and_dram(path: str | None) -> tuple[HardwareConfig, DramConfig]:
    """Return the hardware config at ``path`` (reference if None) and its DRAM config."""
    from colsim.sim.dram.config import load_dram_config

    hw = load_hardware_config(path)
    return hw, load_dram_config(hw.dram.preset, file=hw.dram.file or None)


def parse_synthetic(text: str) -> dict[str, Any]:
    """Return the ``key=value`` pairs of a synthetic-mask SPEC (sparsity, jaccard, regime)."""
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in SYNTHETIC_KEYS:
            known = ", ".join(SYNTHETIC_KEYS)
            raise ColsimError(f"bad synthetic mask item {item!r} (use key=value with {known})")
        if key == "regime":
            values[key] = value
            continue
        try:
            values[key] = float(value)
        except ValueError:
            raise ColsimError(f"synthetic `{key}` must be a number, not {value!r}") from None
    return values


def resolve_masks(
    spec: WorkloadSpec,
    *,
    masks: str | None,
    synthetic: str | None,
    tau: float | None,
    rho: float | None,
    iterations: int,
    seed: int,
) -> tuple[MaskSet | None, dict[str, Any]]:
    """Return the mask set a run uses (None: dense baseline) and a record of its source."""
    if masks is None and synthetic is None:
        if tau is not None or rho is not None:
            raise ColsimError("`--tau` / `--rho` need hot masks: give --masks or --synthetic")
        return None, {"masks": "none (all-dense baseline)"}
    if synthetic is not None:
        if tau is not None:
            raise ColsimError("`--tau` needs a profile (--masks PROFILE), not synthetic masks")
        from colsim.profiler.synthetic import synthesize_masks

        values = parse_synthetic(synthetic)
        if "sparsity" not in values:
            if rho is None:
                raise ColsimError("synthetic masks need `sparsity=` in SPEC or `--rho`")
            values["sparsity"] = 1.0 - rho
        mask_set = synthesize_masks(
            spec, iterations=iterations, seed=seed, column_sparsity=values["sparsity"],
            jaccard=values.get("jaccard", 1.0), regime=values.get("regime", "concentration"),
        )
        return mask_set, {"masks": "synthetic", "synthetic": values, "seed": seed, "rho": rho}
    from colsim.profiler.masks import MaskSet

    path = Path(masks)
    if path.suffix == ".npz":
        if tau is not None or rho is not None:
            raise ColsimError("a mask file already fixes its thresholds; drop --tau/--rho")
        return MaskSet.load(path), {"masks": str(path)}
    return _masks_from_profile(path, tau, rho)


def _masks_from_profile(
    path: Path, tau: float | None, rho: float | None
) -> tuple[MaskSet, dict[str, Any]]:
    from colsim.profiler import metrics
    from colsim.profiler.profile import Profile

    if (tau is None) == (rho is None):
        raise ColsimError("a profile needs exactly one of --tau or --rho")
    profile = Profile.load(path)
    if tau is not None:
        thresholds = metrics.uniform_thresholds(profile, tau)
        record: dict[str, Any] = {"masks": str(path), "tau": tau}
    else:
        calibration = metrics.calibrate_rho(profile, rho)
        thresholds = {name: c.threshold for name, c in calibration.items()}
        record = {
            "masks": str(path),
            "rho": rho,
            "inflated_layers": sorted(n for n, c in calibration.items() if c.inflated),
        }
    return metrics.export_masks(profile, thresholds, record), record


def _default_layout(layout: str | None, mask_set: MaskSet | None) -> str:
    if layout is not None:
        return layout
    return "rowmajor" if mask_set is None else "hotcold"


def _progress(label: str, disable: bool = False):
    bar = tqdm(desc=label, unit="layer-it", file=sys.stderr, disable=disable, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    return update


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``colsim simulate``."""
    from colsim.sim.fast.report import (
        format_table,
        layer_iteration_rows,
        result_record,
        write_csv,
        write_json,
    )
    from colsim.sim.fast.workload import WorkloadRun, simulate_workload

    started = time.perf_counter()
    spec = workload_spec(args.model, args.size)
    hw, dram = load_hardware_and_dram(args.config)
    mask_set, source = resolve_masks(
        spec, masks=args.masks, synthetic=args.synthetic, tau=args.tau, rho=args.rho,
        iterations=args.iterations, seed=args.seed,
    )
    run = WorkloadRun(
        spec=spec, hw=hw, dram=dram, layout=_default_layout(args.layout, mask_set),
        iterations=args.iterations, masks=mask_set, mask_policy=args.mask_policy,
    )
    result = simulate_workload(run, jobs=args.jobs, progress=_progress(args.model))
    baseline = None
    if args.compare_baseline:
        base_run = WorkloadRun(spec=spec, hw=hw, dram=dram, iterations=args.iterations)
        baseline = simulate_workload(base_run, jobs=args.jobs, progress=_progress("baseline"))
    print(format_table(result, baseline), end="")
    if args.out:
        inputs = {"model": args.model, "size": args.size, "config": args.config, **source,
                  "command": sys.argv}
        record = result_record(
            result, inputs=inputs, baseline=baseline,
            runtime_s=time.perf_counter() - started,
        )
        out = Path(args.out)
        write_json(out, record)
        write_csv(out.with_suffix(".csv"), layer_iteration_rows(result))
        print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


def _sweep_grid(args: argparse.Namespace) -> list[dict[str, Any]]:
    names = workload_names()
    for model in args.models:
        if model not in names:
            raise ColsimError(f"unknown model {model!r} (known models: {', '.join(names)})")
    if args.taus and not args.profiles:
        raise ColsimError("`--taus` need profiles: give --profiles DIR")
    grid = []
    for model in args.models:
        grid.append({"model": model, "layout": "rowmajor", "tau": None, "rho": None})
        for layout in args.layouts:
            grid += [{"model": model, "layout": layout, "tau": t, "rho": None} for t in args.taus]
            grid += [{"model": model, "layout": layout, "tau": None, "rho": r} for r in args.rhos]
    return grid


def _run_id(cell: dict[str, Any]) -> str:
    if cell["tau"] is None and cell["rho"] is None:
        return f"{cell['model']}_baseline"
    axis = f"tau{cell['tau']:g}" if cell["tau"] is not None else f"rho{cell['rho']:g}"
    return f"{cell['model']}_{cell['layout']}_{axis}"


def _sweep_cell(cell: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Simulate one grid cell, write its JSON record, and return its tidy row."""
    from colsim.sim.fast.report import result_record, shares, write_json
    from colsim.sim.fast.workload import WorkloadRun, simulate_workload

    started = time.perf_counter()
    spec = workload_spec(cell["model"], options["size"])
    hw, dram = load_hardware_and_dram(options["config"])
    baseline = cell["tau"] is None and cell["rho"] is None
    profile = None
    if not baseline and options["profiles"]:
        profile = str(Path(options["profiles"]) / f"{cell['model']}.h5")
    mask_set, source = (None, {"masks": "none (all-dense baseline)"}) if baseline else (
        resolve_masks(
            spec, masks=profile, synthetic=None if profile else options["synthetic"],
            tau=cell["tau"], rho=cell["rho"], iterations=options["iterations"],
            seed=options["seed"],
        )
    )
    run = WorkloadRun(
        spec=spec, hw=hw, dram=dram, layout=cell["layout"], iterations=options["iterations"],
        masks=mask_set, mask_policy=options["mask_policy"],
    )
    result = simulate_workload(run)
    run_id = _run_id(cell)
    record = result_record(
        result, inputs={**cell, "size": options["size"], "config": options["config"], **source},
        runtime_s=time.perf_counter() - started,
    )
    write_json(Path(options["out"]) / "runs" / f"{run_id}.json", record)
    total = result.total()
    return {
        "run": run_id, **cell, "mask_policy": options["mask_policy"] if mask_set else "",
        "iterations": options["iterations"], **total.as_dict(), **shares(total),
    }


def run_sweep(args: argparse.Namespace) -> int:
    """Run ``colsim sweep``: the grid in ``-j`` processes, then one tidy CSV."""
    from colsim.sim.fast.report import write_csv

    if args.jobs < 1:
        raise ColsimError(f"`-j` must be a positive integer, not {args.jobs}")
    if args.synthetic:
        parse_synthetic(args.synthetic)  # fail before starting workers
    grid = _sweep_grid(args)
    options = {key: getattr(args, key) for key in (
        "size", "config", "profiles", "synthetic", "iterations", "seed", "mask_policy", "out")}
    load_hardware_and_dram(args.config)
    rows: dict[str, dict[str, Any]] = {}
    bar = tqdm(total=len(grid), desc="sweep", unit="run", file=sys.stderr, leave=False)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_sweep_cell, cell, options): cell for cell in grid}
        for future in as_completed(futures):
            row = future.result()
            rows[row["run"]] = row
            bar.update()
    bar.close()
    ordered = [rows[_run_id(cell)] for cell in grid]
    base = {r["model"]: r["cycles"] for r in ordered if r["tau"] is None and r["rho"] is None}
    for row in ordered:
        row["cycle_reduction"] = 1 - row["cycles"] / base[row["model"]]
    table = Path(args.out) / "results.csv"
    write_csv(table, ordered)
    print(f"wrote {table} ({len(ordered)} runs) and {Path(args.out) / 'runs'}/*.json")
    return 0


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
    from colsim.sim.fast.workload import WorkloadRun, simulate_workload

    hw, dram = load_hardware_and_dram(None)
    print(f"hardware: reference ({hw.systolic.rows}x{hw.systolic.cols} array, "
          f"{hw.clock.core_mhz:g} MHz core), DRAM {dram.name}, {args.iterations} iterations, "
          f"-j {args.jobs}")
    if not args.skip_baseline:
        total = 0.0
        for model in args.models or FULL_SIZE:
            spec = workload_spec(model, "full")
            run = WorkloadRun(spec=spec, hw=hw, dram=dram, iterations=args.iterations)
            started = time.perf_counter()
            result = simulate_workload(run, jobs=args.jobs, progress=_progress(model))
            elapsed = time.perf_counter() - started
            total += elapsed
            print(f"baseline {model}: {elapsed:.1f} s wall, {result.unique} unique "
                  f"layer-iterations, {result.total().cycles:,} cycles, "
                  f"{result.total().transactions:,} transactions")
        print(f"baseline of all workloads: {total:.1f} s wall")
    if not args.skip_hotcold:
        from colsim.profiler.synthetic import synthesize_masks

        spec = workload_spec("dit-xl-2", "full")
        started = time.perf_counter()
        masks = synthesize_masks(spec, iterations=args.iterations, seed=0,
                                 column_sparsity=1 - 0.164, jaccard=0.9)
        run = WorkloadRun(spec=spec, hw=hw, dram=dram, layout="hotcold",
                          iterations=args.iterations, masks=masks)
        result = simulate_workload(run, jobs=args.jobs, progress=_progress("dit hot-cold"))
        elapsed = time.perf_counter() - started
        print(f"dit-xl-2 hot-cold (synthetic ρ=0.164, J=0.9, fixed masks): {elapsed:.1f} s "
              f"wall, {result.unique} unique layer-iterations, "
              f"{result.total().cycles:,} cycles")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak resident memory: {own:.2f} GiB (this process), {children:.2f} GiB "
          f"(largest worker)")
    return 0
