"""``colsim demo``: the main job on its embedded default configuration.

Generates the Verilog of every block, runs the systolic engine under Verilator through cocotb
on a seeded random int16 product (checked against numpy), and prints a short summary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

DEMO_ARRAY = (8, 8)
DEMO_PRODUCT = (64, 64, 64)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim demo``."""
    parser = subparsers.add_parser("demo", help="run the embedded default end to end")
    parser.add_argument("--seed", type=int, default=0, help="operand seed (default 0)")
    parser.add_argument("--out", help="keep the generated Verilog here (default: a temp dir)")
    parser.add_argument("--waves", action="store_true", help="record an FST waveform")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo steps in order and print what each produced."""
    from colsim.config import reference_hardware
    from colsim.hw.systolic_model import ideal_cycles
    from colsim.hw.verilog import write_verilog
    from colsim.testbench.runner import run_bench

    hw = reference_hardware()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        print(f"[1/2] Verilog for the reference hardware "
              f"({hw.systolic.rows}x{hw.systolic.cols} array) -> {out}")
        manifest = write_verilog(out, hw)
        for entry in json.loads(manifest.read_text())["files"]:
            path = out / entry["file"]
            print(f"      {path.name}: {path.stat().st_size / 1024:.0f} KiB, "
                  f"verilator -Wall {entry['lint'] if entry['lint'] != 'clean' else 'clean'}")
            if entry["lint"] != "clean":
                return 1
        print(f"      manifest: {manifest.name}")

    rows, cols = DEMO_ARRAY
    m, k, n = DEMO_PRODUCT
    small = hw.with_overrides({"systolic": {"rows": rows, "cols": cols}})
    print(f"[2/2] cocotb + Verilator: {rows}x{cols} systolic engine, "
          f"int16 {m}x{k} @ {k}x{n} (seed {args.seed})")
    case = {"m": m, "k": k, "n": n, "kind": "random", "seed": args.seed,
            "source_stall": 0.0, "sink_stall": 0.0}
    result = run_bench("systolic", small, "colsim.testbench.systolic_bench", case,
                       waves=args.waves)
    report = result.report
    tiles = -(-m // rows) * -(-n // cols)
    print(f"      result equals numpy int32 matmul: yes ({result.tests} cocotb test passed)")
    print(f"      cycles: {report['cycles']} (ideal model: {ideal_cycles(tiles, k, rows, cols)}), "
          f"{report['cycles'] / (hw.clock.core_mhz * 1e6) * 1e6:.2f} us at "
          f"{hw.clock.core_mhz:.0f} MHz")
    print(f"      simulation speed: {report['cycles_per_second']:.0f} cycles/s "
          f"({report['wall_seconds']:.2f} s wall)")
    print(f"      JUnit XML: {result.results_xml}")
    if result.waveform:
        print(f"      waveform: {result.waveform}")
    return 0
