"""The ``colsim`` console command: a thin layer over the library, one module per group.

Each module named in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, which adds its
sub-command(s) and sets ``func`` (called with the parsed namespace, returning an exit code).
A :class:`~colsim.errors.ColsimError` raised anywhere below becomes one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from colsim import __version__
from colsim.errors import ColsimError

COMMAND_MODULES = (
    "colsim.cli.bench",
    "colsim.cli.demo",
    "colsim.cli.dram",
    "colsim.cli.models",
    "colsim.cli.profile",
    "colsim.cli.rtl",
    "colsim.cli.simulate",
    "colsim.cli.synth",
    "colsim.cli.verilog",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="colsim",
        description="Co-simulation toolkit for column-sparse diffusion-model accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"colsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ColsimError as exc:
        print(f"colsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("colsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
