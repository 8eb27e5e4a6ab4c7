"""The ``colsim`` console command: a thin layer over the library, one module per group.

Each module named in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, which adds its
sub-command(s) and sets ``func`` (called with the parsed namespace, returning an exit code).
A :class:`~colsim.errors.ColsimError` raised anywhere below becomes one line on stderr and
exit status 2; a closed output pipe ends the command quietly with status 141 (128 + SIGPIPE).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence

from colsim import __version__
from colsim.cli.progress import clear_progress
from colsim.errors import ColsimError
from colsim.tasks import Interrupted

COMMAND_MODULES = (
    "colsim.cli.bench",
    "colsim.cli.crosscheck",
    "colsim.cli.demo",
    "colsim.cli.dram",
    "colsim.cli.models",
    "colsim.cli.profile",
    "colsim.cli.report",
    "colsim.cli.rtl",
    "colsim.cli.simulate",
    "colsim.cli.study",
    "colsim.cli.synth",
    "colsim.cli.verilog",
)


class LazyChoices(Sequence[str]):
    """``choices`` for argparse that calls ``load`` (e.g. an import of a heavy module) on first use.

    argparse only tests membership and iterates ``choices`` while parsing that option or
    printing its help, so registering a command does not pay for the import.
    """

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        self._items: tuple[str, ...] | None = None

    def _values(self) -> tuple[str, ...]:
        if self._items is None:
            self._items = tuple(self._load())
        return self._items

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._values()[index]

    def __len__(self) -> int:
        return len(self._values())

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())


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
        clear_progress()
        print(f"colsim: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        clear_progress()
        print(f"colsim: {exc}; finished results are kept, the same command resumes from them",
              file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        clear_progress()
        print("colsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output left (`colsim ... | head`): stop quietly, as `cat` does.
        # Python would flush stdout again at exit and fail once more: point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())


def add_block_argument(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--block NAME`` option whose choices are the hardware blocks."""
    block = parser.add_argument("--block", action="append",
                                help="only this block (repeatable; default: all)")
    # Set after add_argument, which would iterate the choices (and import the blocks) to check
    # the metavar; parsing and help read them on first use.
    block.choices = LazyChoices(_block_names)


def _block_names() -> list[str]:
    from colsim.hw.verilog import block_names  # amaranth and the numba DRAM model: import late

    return block_names()

