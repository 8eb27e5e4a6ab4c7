"""``colsim verilog``: write synthesizable Verilog and a port manifest for the hardware blocks."""

from __future__ import annotations

import argparse

from colsim.cli import add_block_argument
from colsim.config import load_hardware_config
from colsim.fileio import check_output_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim verilog``."""
    parser = subparsers.add_parser(
        "verilog", help="generate Verilog for every hardware block (FPGA-ready, lint-clean)"
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--config", help="hardware TOML (default: the reference hardware)")
    add_block_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the files and print one line per block; exit 1 if any file has lint warnings."""
    import json

    from colsim.hw.verilog import write_verilog

    out = check_output_dir(args.out)
    hw = load_hardware_config(args.config)
    manifest = write_verilog(out, hw, blocks=args.block)
    entries = json.loads(manifest.read_text())["files"]
    status = 0
    for entry in entries:
        path = manifest.parent / entry["file"]
        params = ", ".join(f"{k}={v}" for k, v in entry["parameters"].items())
        clean = entry["lint"] == "clean"
        print(f"{path}  ({entry['block']}: {params}; {len(entry['ports'])} ports; "
              f"verilator -Wall: {'clean' if clean else 'WARNINGS'})")
        if not clean:
            print(entry["lint"])
            status = 1
    print(f"{manifest}")
    return status
