"""``colsim bench ...``: speed and memory benchmarks whose output goes into closing notes.

Each module in :data:`BENCH_MODULES` exposes ``register_bench(subparsers)`` adding one
``colsim bench NAME`` command. Benchmarks print what they measured (wall time, throughput,
peak memory) together with the configuration that produced it.
"""

from __future__ import annotations

import argparse
import importlib

BENCH_MODULES: tuple[str, ...] = (
    "colsim.cli.dram", "colsim.cli.profile", "colsim.cli.simulate", "colsim.cli.study",
    "colsim.cli.rtl",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim bench`` and one sub-command per benchmark module."""
    parser = subparsers.add_parser("bench", help="run a speed/memory benchmark")
    bench_subparsers = parser.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register_bench(bench_subparsers)
