"""Cross-check the fast model against the RTL (DESIGN.md contract 10), case by case.

:func:`crosscheck_case` co-simulates one :class:`~colsim.testbench.ffn_cases.FfnCase` on
Verilator (:func:`colsim.testbench.ffn_run.run_cosim`); the bench runs the fast model on every
layer-iteration from the RTL's DRAM state at the RTL's start cycle, so both executors start
alike. :func:`compare_iterations` lines the two up per layer-iteration: cycles, per-engine
counters (array busy / stall, SIMD busy), request streams, DRAM statistics, and for a
mismatch the first diverging event — the first DRAM transaction (in stream order) that the
two accepted or completed in different DRAM cycles, with its transfer, buffer and direction.
:func:`run_crosscheck` runs cases as tasks (:func:`colsim.tasks.run_tasks`) and writes the
JSON record and the results table (:func:`colsim.analysis.results.write_table`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from colsim.analysis.results import write_table
from colsim.config import HardwareConfig
from colsim.config.loader import from_mapping, to_mapping
from colsim.errors import ColsimError
from colsim.fileio import write_text
from colsim.provenance import package_versions
from colsim.sim.schedule import BUFFERS, Schedule
from colsim.tasks import Task, run_tasks
from colsim.testbench.ffn_cases import FfnCase

ENGINE_COUNTERS = ("array_busy", "array_stall", "simd_busy")
DRAM_COUNTERS = ("reads", "writes", "row_hits", "row_misses", "row_conflicts", "refreshes")


@dataclass(frozen=True)
class IterationCheck:
    """One layer-iteration on both executors (cycles are core cycles)."""

    case: str
    iteration: int
    mode: str
    rtl_cycles: int
    fast_cycles: int
    difference: int  # fast - RTL
    relative_difference: float
    rtl_array_busy: int
    fast_array_busy: int
    rtl_array_stall: int
    fast_array_stall: int
    rtl_simd_busy: int
    fast_simd_busy: int
    request_stream_equal: bool
    dram_equal: bool
    first_divergence: str  # "" when every transaction agrees

    @property
    def cycles_equal(self) -> bool:
        """Return whether both executors took the same cycles."""
        return self.difference == 0

    @property
    def engines_equal(self) -> bool:
        """Return whether every per-engine counter agrees."""
        return all(getattr(self, f"rtl_{n}") == getattr(self, f"fast_{n}")
                   for n in ENGINE_COUNTERS)

    @property
    def match(self) -> bool:
        """Return whether the iteration agrees in every respect."""
        return (self.cycles_equal and self.engines_equal and self.request_stream_equal
                and self.dram_equal and not self.first_divergence)

    def row(self) -> dict[str, Any]:
        """Return the results-table row (the fields, ``cycles_equal`` and ``match``)."""
        return {**asdict(self), "cycles_equal": self.cycles_equal, "match": self.match}


@dataclass(frozen=True)
class CaseResult:
    """One case: its parameters, its layer-iterations and the co-simulation's checks."""

    case: FfnCase
    iterations: tuple[IterationCheck, ...]
    checks: dict[str, bool]  # the bench's own checks (outputs, protocol, ...)
    seconds: float

    @property
    def passed(self) -> bool:
        """Return whether the bench's checks passed and every iteration matched."""
        return all(self.checks.values()) and all(it.match for it in self.iterations)


def first_divergence(schedule: Schedule, rtl: dict, fast: dict) -> str:
    """Return the first transaction whose DRAM acceptance or completion cycle differs
    between the executors' timings (``accepted``/``completed`` lists), or ``""``."""
    pairs = (("accepted", rtl["accepted"], fast["accepted"]),
             ("completed", rtl["completed"], fast["completed"]))
    first = None
    for event, mine, theirs in pairs:
        index = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b),
                     None)
        if index is not None and (first is None or index < first[1]):
            first = (event, index, mine[index], theirs[index])
    if first is None:
        return ""
    event, index, rtl_cycle, fast_cycle = first
    transfer = int(schedule.transfer[index])
    direction = "write" if schedule.tr_write[transfer] else "read"
    gate = int(schedule.tr_gate_op[transfer]) if schedule.tr_write[transfer] else -1
    what = f" after op {gate}" if gate >= 0 else ""
    return (f"DMA: transaction {index} (transfer {transfer}, "
            f"{BUFFERS[schedule.tr_buffer[transfer]]} {direction}{what}) {event} at DRAM cycle "
            f"{rtl_cycle} on the RTL, {fast_cycle} on the fast model")


def compare_iterations(name: str, schedules: Sequence[Schedule],
                       iterations: Sequence[dict[str, Any]]) -> tuple[IterationCheck, ...]:
    """Return the per-iteration comparison of a co-simulation's ``iterations`` (the bench's
    report entries, :attr:`CosimReport.bench`; GDDR6 memory)."""
    out = []
    for index, (schedule, bench) in enumerate(zip(schedules, iterations, strict=True)):
        rtl, fast = bench["rtl_timing"], bench["fast"]
        if fast is None:
            raise ColsimError("the cross-check needs the GDDR6 memory, not 'random'")
        rtl_cycles = bench["cycles"]
        out.append(IterationCheck(
            case=name, iteration=index, mode=bench["mode"], rtl_cycles=rtl_cycles,
            fast_cycles=fast["cycles"], difference=fast["cycles"] - rtl_cycles,
            relative_difference=(fast["cycles"] - rtl_cycles) / rtl_cycles,
            **{f"{side}_{n}": source[n] for n in ENGINE_COUNTERS
               for side, source in (("rtl", bench), ("fast", fast))},
            request_stream_equal=bench["request_stream_equal"],
            dram_equal=all(rtl["dram"][n] == fast["dram"][n] for n in DRAM_COUNTERS),
            first_divergence=first_divergence(schedule, rtl, fast),
        ))
    return tuple(out)


def crosscheck_case(case: FfnCase, *, base: HardwareConfig | None = None) -> CaseResult:
    """Co-simulate ``case`` on the RTL and the fast model; return the comparison.

    ``base`` is the hardware the case's array, buffers and refresh apply to (None: the tiny
    configuration for tiny buffers, the reference hardware for reference buffers).
    """
    from colsim.testbench.ffn_run import run_cosim

    spec = case.spec(base)
    started = time.perf_counter()
    report = run_cosim(spec)
    return CaseResult(case, compare_iterations(case.name, spec.schedules(),
                                               report.bench["iterations"]),
                      dict(report.checks), time.perf_counter() - started)


def _case_task(values: dict, base: dict | None) -> CaseResult:
    """Run one case in a worker (plain arguments)."""
    return crosscheck_case(FfnCase(**values),
                           base=None if base is None else from_mapping(HardwareConfig, base))


@dataclass(frozen=True)
class CrosscheckRun:
    """What :func:`run_crosscheck` did: the results, the failed tasks, the files written."""

    results: tuple[CaseResult, ...]
    failures: tuple[str, ...]  # "case: message" of tasks that raised
    files: tuple[Path, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        """Return whether every case ran and matched."""
        return not self.failures and all(r.passed for r in self.results)


def run_crosscheck(
    cases: Sequence[FfnCase], *, out: str | Path, base: HardwareConfig | None = None,
    jobs: int = 1, executor: str = "dask", scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> CrosscheckRun:
    """Cross-check ``cases`` as ``jobs`` parallel tasks; write ``crosscheck.json`` and the
    ``crosscheck`` table (Parquet and CSV, one row per layer-iteration) into ``out``."""
    from colsim.testbench.runner import build_block

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ColsimError(f"case names must be unique, not {names!r}")
    started = time.perf_counter()
    built = set()
    for case in cases:  # each Verilator model once, before the workers start
        spec = case.spec(base)
        key = repr(to_mapping(spec.hw))
        if key not in built:
            from colsim.testbench.ffn_case import top_harness

            build_block("ffn_top", spec.hw, harness=top_harness(spec.programs(spec.schedules())))
            built.add(key)
    results: dict[str, CaseResult] = {}
    base_values = None if base is None else to_mapping(base)
    tasks = [Task(c.name, _case_task, (asdict(c), base_values)) for c in cases]
    run = run_tasks(tasks, on_result=results.__setitem__, jobs=jobs, executor=executor,
                    scheduler=scheduler, progress=progress, announce=announce)
    ordered = tuple(results[n] for n in names if n in results)
    failures = tuple(f"{f.key}: {f.message}" for f in run.failures)
    versions = package_versions()
    rows = [{**it.row(), **{f"case_{k}": v for k, v in asdict(r.case).items()},
             "checks_passed": all(r.checks.values())}
            for r in ordered for it in r.iterations]
    files = write_table(rows, out / "crosscheck") if rows else ()
    record = {
        "cases": [{"case": asdict(r.case), "name": r.case.name, "passed": r.passed,
                   "checks": r.checks, "seconds": r.seconds,
                   "iterations": [it.row() for it in r.iterations]} for r in ordered],
        "failures": list(failures), "versions": versions,
        "seconds": time.perf_counter() - started,
    }
    json_path = out / "crosscheck.json"
    write_text(json_path, json.dumps(record, indent=1))
    return CrosscheckRun(ordered, failures, (json_path, *files), record["seconds"])
