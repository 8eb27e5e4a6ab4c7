"""``colsim demo``: the main job on its embedded default configuration.

1. Verilog of every block for the reference hardware, and of the FFN top as stage 5
   co-simulates it (8×8 array, reference buffers), lint-checked;
2. the systolic engine under Verilator through cocotb on a seeded int16 product (vs numpy);
3. a column-sparsity profile of the project's trained tiny DiT (real denoising run);
4. the fast cycle model on that model with the profile's ρ-calibrated masks vs the baseline;
5. the FFN top's RTL co-simulated on one of its layers with the GDDR6 model answering;
6. a sweep of that model over both threshold axes and layouts, and the HTML report of the
   profile, the sweep and stage 5's RTL ⇄ fast-model table.

Every stage calls the library (stages 3-6 through :mod:`colsim.api`) and prints what the
matching command prints. Everything is written under ``--out`` (``./colsim-demo`` by
default); the last line printed is the report's path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from colsim.analysis.results import write_table
from colsim.fileio import check_output_dir

DEMO_ARRAY = (8, 8)
DEMO_PRODUCT = (64, 64, 64)
DEMO_MODEL = "tiny-dit"
DEMO_STEPS = 20
DEMO_RHO = 0.164  # the reference point of the threshold axis (DESIGN.md §1)
DEMO_ITERATIONS = (0, 1, 2)  # stage 5: one dense iteration, two sparse ones
DEMO_OUT = "colsim-demo"
STAGES = 6


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim demo``."""
    parser = subparsers.add_parser("demo", help="run the embedded default end to end")
    parser.add_argument("--seed", type=int, default=0, help="operand seed (default 0)")
    parser.add_argument("--out", default=DEMO_OUT,
                        help=f"folder for everything the demo writes (default: ./{DEMO_OUT})")
    parser.add_argument("--waves", action="store_true", help="record an FST waveform")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo stages in order, print what each produced; stop at the first failure."""
    out = check_output_dir(args.out)
    for stage in (_verilog, _systolic, _profile, _simulate, _cosimulate, _report):
        status = stage(args, out)
        if status:
            return status
    return 0


def _profile_path(out: Path) -> Path:
    """Return where stage 3 writes the profile (a profiles folder, as sweeps read them)."""
    return out / "profiles" / f"{DEMO_MODEL}.h5"


def _header(index: int, text: str) -> None:
    print(f"[{index}/{STAGES}] {text}", flush=True)


def _verilog(args: argparse.Namespace, out: Path) -> int:
    from colsim.config import reference_hardware
    from colsim.hw.verilog import block_names, write_verilog

    hw = reference_hardware()
    rows, cols = DEMO_ARRAY
    folder, top_folder = out / "verilog", out / "verilog" / f"ffn_top_{rows}x{cols}"
    _header(1, f"Verilog of the blocks for the reference hardware ({hw.systolic.rows}x"
               f"{hw.systolic.cols} array, {hw.simd.lanes}-lane SIMD) -> {folder}, and of the "
               f"FFN top with the {rows}x{cols} array of stage 5 -> {top_folder} (the reference "
               f"top: `colsim verilog --block ffn_top`, several minutes)")
    blocks = [name for name in block_names() if name != "ffn_top"]
    manifests = [write_verilog(folder, hw, blocks=blocks),
                 write_verilog(top_folder, _cosim_hardware(), blocks=["ffn_top"])]
    for manifest in manifests:
        for entry in json.loads(manifest.read_text())["files"]:
            path = manifest.parent / entry["file"]
            clean = entry["lint"] == "clean"
            print(f"      {path.name}: {path.stat().st_size / 1024:.0f} KiB, "
                  f"verilator -Wall {'clean' if clean else 'WARNINGS'}")
            if not clean:
                print(entry["lint"])
                return 1
    return 0


def _cosim_hardware():
    """Return the hardware of the stage-5 co-simulation: the reference with DEMO_ARRAY."""
    from colsim.config import reference_hardware

    rows, cols = DEMO_ARRAY
    return reference_hardware().with_overrides({"systolic": {"rows": rows, "cols": cols}})


def _systolic(args: argparse.Namespace, out: Path) -> int:
    from colsim.hw.systolic_model import ideal_cycles
    from colsim.testbench.runner import run_bench

    hw = _cosim_hardware()
    rows, cols = DEMO_ARRAY
    m, k, n = DEMO_PRODUCT
    _header(2, f"cocotb + Verilator: {rows}x{cols} systolic engine, "
               f"int16 {m}x{k} @ {k}x{n} (seed {args.seed})")
    case = {"m": m, "k": k, "n": n, "kind": "random", "seed": args.seed,
            "source_stall": 0.0, "sink_stall": 0.0}
    result = run_bench("systolic", hw, "colsim.testbench.systolic_bench", case,
                       waves=args.waves)
    report = result.report
    tiles = -(-m // rows) * -(-n // cols)
    print(f"      result equals numpy int32 matmul: yes ({result.tests} cocotb test passed)")
    print(f"      cycles: {report['cycles']} (ideal model: {ideal_cycles(tiles, k, rows, cols)}), "
          f"{report['cycles'] / hw.clock.core_mhz:.2f} us at {hw.clock.core_mhz:.0f} MHz")
    print(f"      simulation speed: {report['cycles_per_second']:.0f} cycles/s "
          f"({report['wall_seconds']:.2f} s wall)")
    print(f"      JUnit XML: {result.results_xml}")
    if result.waveform:
        print(f"      waveform: {result.waveform}")
    return 0


def _profile(args: argparse.Namespace, out: Path) -> int:
    from colsim import api
    from colsim.cli.profile import print_profile_written

    _header(3, f"profile of the trained {DEMO_MODEL} ({DEMO_STEPS} DDIM steps, seed "
               f"{args.seed}); sparsity at per-layer rho = {DEMO_RHO}")
    profile = api.profile(model=DEMO_MODEL, steps=DEMO_STEPS, seed=args.seed,
                          capture_inputs="0:0,0:1,0:2")
    profile.save(_profile_path(out))
    print_profile_written(_profile_path(out), profile)
    print(api.sparsity(profile, rho=DEMO_RHO).to_text(), end="")
    return 0


def _simulate(args: argparse.Namespace, out: Path) -> int:
    from colsim import api
    from colsim.cli.progress import progress_bar
    from colsim.cli.simulate import report_simulation
    from colsim.models.registry import workload_spec

    _header(4, f"fast cycle model of {DEMO_MODEL} on the reference hardware with the "
               f"profile's masks (hot-cold layout) vs the all-dense row-major baseline")
    started = time.perf_counter()
    spec = workload_spec(DEMO_MODEL, "full")
    masks, source = api.resolve_masks(spec, path=_profile_path(out), rho=DEMO_RHO,
                                      iterations=DEMO_STEPS)
    run = api.workload_run(spec, masks=masks, layout="hotcold", iterations=DEMO_STEPS)
    result = api.simulate(run, progress=progress_bar(DEMO_MODEL))
    baseline = api.simulate(api.baseline(run), progress=progress_bar("baseline"))
    inputs = {"model": DEMO_MODEL, "size": "full", "config": None, **source,
              "command": sys.argv}
    report_simulation(result, baseline, inputs=inputs, started=started,
                      out=out / "simulate.json")
    return 0


def _cosimulate(args: argparse.Namespace, out: Path) -> int:
    from colsim import api
    from colsim.cli.rtl import print_cosim_report, write_cosim_record
    from colsim.models.registry import workload_spec

    layer = workload_spec(DEMO_MODEL, "tiny").layer_names[0]
    case = api.cosim_case(profile=_profile_path(out), layer=layer,
                          iterations=DEMO_ITERATIONS, rho=DEMO_RHO, array=DEMO_ARRAY)
    rows, cols = DEMO_ARRAY
    _header(5, f"RTL co-simulation: FFN top ({rows}x{cols} array) on {layer} with its captured "
               f"inputs and weights, iterations 0 (dense) and 1-2 (sparse), tau = "
               f"{case.tau:.3f}, GDDR6 model answering")
    report = api.cosimulate(case, waves=args.waves)
    print_cosim_report(report)
    write_cosim_record(out / "rtl-run.json", report, profile={
        "file": str(_profile_path(out)), "layer": layer,
        "iterations": ",".join(map(str, DEMO_ITERATIONS)), "tau": case.tau, "rho": DEMO_RHO})
    table, _csv = write_table(report.crosscheck_rows(f"{DEMO_MODEL}/{layer}"),
                             out / "crosscheck" / "results")
    print(f"wrote {table} (the RTL vs fast-model cycles of every iteration)")
    return 0 if report.passed else 1


def _report(args: argparse.Namespace, out: Path) -> int:
    from colsim import api
    from colsim.cli.progress import note, progress_bar
    from colsim.cli.study import print_task_outcome
    from colsim.profiler.histogram import SWEEP_THRESHOLDS

    _header(6, f"sweep of {DEMO_MODEL} (hot-cold and per-layer layouts, tau and rho in "
               f"{', '.join(f'{v:g}' for v in SWEEP_THRESHOLDS)}) with the profile's masks, "
               f"then the report")
    grid = api.SweepGrid(models=(DEMO_MODEL,), out=out / "sweep", layouts=("hotcold",
                         "perlayer"), taus=SWEEP_THRESHOLDS, rhos=SWEEP_THRESHOLDS,
                         profiles=str(_profile_path(out).parent), iterations=DEMO_STEPS)
    table = api.sweep(grid, jobs=2, progress=progress_bar("sweep", unit="task"),
                      announce=note)
    status = print_task_outcome(table.rows, table.failures, table.resumed,
                                f"{table.path} (and .csv)")
    files = api.report(out=out / "report", profiles=[_profile_path(out)],
                       results=[out / "sweep"], crosscheck=out / "crosscheck")
    absent = [s.title for s in files.sections if s.missing]
    print(f"      report: {len(files.sections) - len(absent)} sections with figures and "
          f"tables, input absent for {len(absent)} ({'; '.join(absent)})")
    print(files.html)
    return status
