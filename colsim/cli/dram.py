"""``colsim dram run``: simulate a LD/ST trace; ``colsim bench dram``: batch-path throughput."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from colsim.sim.dram import DramConfig

# The DRAM model compiles with numba: it is imported inside the commands, so that building the
# parser (``colsim --help``) stays cheap.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim dram`` and its ``run`` sub-command."""
    parser = subparsers.add_parser("dram", help="cycle-accurate DRAM model (GDDR6, HBM2, ...)")
    commands = parser.add_subparsers(dest="dram_command", metavar="COMMAND", required=True)
    run = commands.add_parser("run", help="simulate a `LD/ST <addr>` trace and print statistics")
    run.add_argument("--trace", required=True, metavar="FILE", help="trace file")
    _add_config_arguments(run)
    run.add_argument("--json", action="store_true", help="print machine-readable JSON")
    run.set_defaults(func=_run)


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add ``colsim bench dram``."""
    bench = subparsers.add_parser("dram", help="requests/second of the DRAM batch path")
    bench.add_argument("--requests", type=int, default=1_000_000, help="requests per stream")
    bench.add_argument("--seed", type=int, default=0, help="seed of the random streams")
    _add_config_arguments(bench)
    bench.set_defaults(func=_bench)


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that select and adjust the DRAM configuration."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help="DRAM TOML file")
    source.add_argument("--preset", default="gddr6", help="packaged preset (default: gddr6)")
    parser.add_argument("--channels", type=int, metavar="N", help="override the channel count")
    parser.add_argument("--no-refresh", action="store_true", help="switch refresh off")


def _config(args: argparse.Namespace) -> DramConfig:
    """Return the DRAM configuration the options select."""
    from colsim.sim.dram import load_dram_config

    overrides: dict[str, dict] = {}
    if args.channels is not None:
        overrides["organization"] = {"channels": args.channels}
    if args.no_refresh:
        overrides["controller"] = {"refresh": "off"}
    return load_dram_config(args.preset, args.config, **overrides)


def _run(args: argparse.Namespace) -> int:
    """Simulate the trace and print its statistics (text or JSON)."""
    from colsim.cli.progress import progress_bar
    from colsim.config.loader import to_mapping
    from colsim.sim.dram.trace import run_trace

    config = _config(args)
    bar = progress_bar("reading trace", unit="MiB")
    requests, stats = run_trace(args.trace, config,
                                progress=lambda done, total: bar(done >> 20, total >> 20))
    if args.json:
        report = {
            "trace": args.trace,
            "requests": requests,
            "stats": stats.as_dict(),
            "config": to_mapping(config),
        }
        print(json.dumps(report, indent=2))
        return 0
    org = config.organization
    print(f"trace {args.trace}: {requests} requests on {config.name} "
          f"({org.channels} channels, refresh {config.controller.refresh})")
    rows = [
        ("DRAM cycles", f"{stats.cycles}"),
        ("reads", f"{stats.reads}"),
        ("writes", f"{stats.writes}"),
        ("row hits", f"{stats.row_hits}"),
        ("row misses", f"{stats.row_misses}"),
        ("row conflicts", f"{stats.row_conflicts}"),
        ("row hit rate", f"{100 * stats.hit_rate:.2f} %"),
        ("avg read latency", f"{stats.avg_read_latency:.2f} cycles"),
        ("bandwidth utilisation", f"{100 * stats.bandwidth_utilisation:.2f} %"),
        ("refreshes", f"{stats.refreshes}"),
    ]
    for name, value in rows:
        print(f"  {name:<24}{value}")
    return 0


BENCH_STREAMS = {
    "sequential reads": ("sequential", 0.0),
    "strided reads (5 transactions)": ("strided", 0.0),
    "random reads": ("random", 0.0),
    "mixed (random, 1/3 writes)": ("random", 1 / 3),
}


def _bench(args: argparse.Namespace) -> int:
    """Print JIT warm-up, per-call overhead and throughput of four streams."""
    import numpy as np

    from colsim.sim.dram import DramEngine, simulate_batch
    from colsim.sim.dram.streams import check_stream_size, request_stream

    check_stream_size(args.requests)
    config = _config(args)
    print(f"colsim bench dram: {args.requests} requests per stream, preset {config.name}, "
          f"{config.organization.channels} channels, refresh {config.controller.refresh}, "
          f"seed {args.seed}, all requests offered from cycle 0 (saturating)")
    print("  throughput = requests / wall-clock second (and / CPU second of this process, "
          "which is what counts on a shared machine)")
    wall, cpu = _timed(lambda: simulate_batch(
        config, np.zeros(1, np.uint64), np.zeros(1, bool), np.zeros(1, np.int64)))
    print(f"  JIT warm-up, first call (compiles, or loads the on-disk cache): {wall:.2f} s wall")
    engine = DramEngine(config)
    calls = 2000
    chunks = [np.array([i * config.organization.transaction_bytes], np.uint64)
              for i in range(calls)]
    no_write, at_zero = np.zeros(1, bool), np.zeros(1, np.int64)
    wall, cpu = _timed(lambda: [engine.run(a, no_write, at_zero) for a in chunks])
    print(f"  DramEngine.run overhead, 1-request chunks: {wall / calls * 1e6:.1f} µs wall, "
          f"{cpu / calls * 1e6:.1f} µs CPU per call")
    for name, (pattern, write_share) in BENCH_STREAMS.items():
        addr, is_write, arrival = request_stream(
            config, pattern, args.requests, seed=args.seed, write_share=write_share
        )
        result = None

        def simulate(addr=addr, is_write=is_write, arrival=arrival):
            nonlocal result
            result = simulate_batch(config, addr, is_write, arrival)

        wall, cpu = _timed(simulate)
        s = result.stats
        print(f"  {name:<32}{len(addr) / wall:>11,.0f} req/s wall {len(addr) / cpu:>11,.0f} "
              f"req/s CPU  ({wall:.2f} s; {s.cycles} DRAM cycles, hit rate "
              f"{100 * s.hit_rate:.1f} %, utilisation {100 * s.bandwidth_utilisation:.1f} %)")
    return 0


def _timed(work) -> tuple[float, float]:
    """Run ``work()``; return (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu
