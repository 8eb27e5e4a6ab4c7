"""``colsim demo``: the main job on its embedded default configuration.

1. Verilog of every block for the reference hardware, and of the FFN top as stage 5
   co-simulates it (8×8 array, reference buffers), lint-checked;
2. the systolic engine under Verilator through cocotb on a seeded int16 product (vs numpy);
3. a column-sparsity profile of the project's trained tiny DiT (real denoising run);
4. the fast cycle model on that model with the profile's ρ-calibrated masks vs the baseline;
5. the FFN top's RTL co-simulated on one of its layers with the GDDR6 model answering.

Every stage goes through the same library calls and commands a user runs by hand.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

DEMO_ARRAY = (8, 8)
DEMO_PRODUCT = (64, 64, 64)
DEMO_MODEL = "tiny-dit"
DEMO_STEPS = 20
DEMO_RHO = 0.164  # the reference point of the threshold axis (DESIGN.md §1)
STAGES = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim demo``."""
    parser = subparsers.add_parser("demo", help="run the embedded default end to end")
    parser.add_argument("--seed", type=int, default=0, help="operand seed (default 0)")
    parser.add_argument("--out", help="keep the generated files here (default: a temp dir)")
    parser.add_argument("--waves", action="store_true", help="record an FST waveform")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo stages in order, print what each produced; stop at the first failure."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        for stage in (_verilog, _systolic, _profile, _simulate, _cosimulate):
            status = stage(args, out)
            if status:
                return status
    return 0


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
    from colsim.cli import main

    _header(3, f"profile of the trained {DEMO_MODEL} ({DEMO_STEPS} DDIM steps, seed "
               f"{args.seed}); sparsity at per-layer rho = {DEMO_RHO}")
    status = main(["profile", "--model", DEMO_MODEL, "--steps", str(DEMO_STEPS),
                   "--seed", str(args.seed), "--capture-inputs", "0:0,0:1,0:2",
                   "--out", str(out / "profile.h5")])
    return status or main(["sparsity", str(out / "profile.h5"), "--rho", str(DEMO_RHO)])


def _simulate(args: argparse.Namespace, out: Path) -> int:
    from colsim.cli import main

    _header(4, f"fast cycle model of {DEMO_MODEL} on the reference hardware with the "
               f"profile's masks (hot-cold layout) vs the all-dense row-major baseline")
    return main(["simulate", "--model", DEMO_MODEL, "--masks", str(out / "profile.h5"),
                 "--rho", str(DEMO_RHO), "--layout", "hotcold", "--iterations",
                 str(DEMO_STEPS), "--compare-baseline", "--out", str(out / "simulate.json")])


def _cosimulate(args: argparse.Namespace, out: Path) -> int:
    from colsim.cli import main
    from colsim.profiler.metrics import calibrate_rho
    from colsim.profiler.profile import Profile

    profile = Profile.load(out / "profile.h5")
    layer = profile.layer_names[0]
    tau = calibrate_rho(profile, DEMO_RHO)[layer].threshold
    rows, cols = DEMO_ARRAY
    _header(5, f"RTL co-simulation: FFN top ({rows}x{cols} array) on {layer} with its captured "
               f"inputs and weights, iterations 0 (dense) and 1-2 (sparse), tau = {tau:.3f}, "
               f"GDDR6 model answering")
    return main(["rtl-run", "--profile", str(out / "profile.h5"), "--layer", layer,
                 "--iterations", "0,1,2", "--tau", f"{tau:.6f}", "--array", f"{rows}x{cols}",
                 "--out", str(out / "rtl-run.json")] + (["--waves"] if args.waves else []))
