"""``colsim synth``: generic Yosys synthesis of the hardware blocks (cells, flip-flops, memory)."""

from __future__ import annotations

import argparse

from colsim.cli import add_block_argument
from colsim.config import load_hardware_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim synth``."""
    parser = subparsers.add_parser(
        "synth", help="synthesize blocks with generic Yosys and print their resource counts"
    )
    parser.add_argument("--config", help="hardware TOML (default: the reference hardware)")
    add_block_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Synthesize each block and print one table row per block."""
    from tqdm import tqdm

    from colsim.hw.synth import synthesize
    from colsim.hw.verilog import block_names

    hw = load_hardware_config(args.config)
    names = args.block or block_names()
    print(f"{'block':<10} {'cells':>9} {'flip-flops':>10} {'memory bits':>11} {'seconds':>8}"
          "  parameters")
    for name in tqdm(names, desc="yosys synth", unit="block", leave=False):
        report = synthesize(name, hw)
        params = ", ".join(f"{k}={v}" for k, v in report.parameters.items())
        print(f"{name:<10} {report.cells:>9} {report.flip_flops:>10} {report.memory_bits:>11} "
              f"{report.seconds:>8.1f}  {params}", flush=True)
    return 0
