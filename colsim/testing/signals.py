"""Send a signal to a busy parallel run and observe what it does (the signal tests' helper)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

WORKER_MARK = "spawn_main"  # in the command line of every multiprocessing-spawned worker


@dataclass(frozen=True)
class Interruption:
    """What a run did around the signal: exit status, stderr, survivors, files written."""

    returncode: int
    stderr: str
    workers_alive: int  # worker processes still alive 1 s after the signal
    seconds: float  # from the signal until every worker was gone (or 1 s)
    written_before: list[Path]
    written_after: list[Path]  # the same listing 1 s after the command ended


def interrupt_busy_run(command: Sequence[str], signum: int, *, listing: Callable[[], list[Path]],
                       workers: int = 2, timeout: float = 120.0) -> Interruption:
    """Start ``command``, wait until ``workers`` worker processes each keep a core busy, send
    ``signum`` to the main process only, and report what followed.

    ``listing`` returns the output files at a moment (compared before and after the signal).
    """
    main = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        process = psutil.Process(main.pid)
        deadline, seen = time.time() + timeout, {}
        while len(seen) < workers and time.time() < deadline and main.poll() is None:
            # A worker counts once it was seen working (on a loaded machine it may not hold
            # a whole core at every moment).
            seen |= {c.pid: c for c in process.children(recursive=True) if _busy_worker(c)}
        busy = [worker for worker in seen.values() if worker.is_running()]
        if len(busy) < workers:
            raise AssertionError(f"{len(busy)} of {workers} workers got busy: {command}")
        before = listing()
        os.kill(main.pid, signum)
        sent = time.time()
        _gone, alive = psutil.wait_procs(busy, timeout=1.0)
        seconds = time.time() - sent
        _out, err = main.communicate(timeout=30)
        time.sleep(1.0)
        return Interruption(main.returncode, err, len(alive), seconds, before, listing())
    finally:
        main.kill()
        main.communicate()


def _busy_worker(process: psutil.Process) -> bool:
    """Return whether ``process`` is a live worker keeping a core busy."""
    try:
        return WORKER_MARK in " ".join(process.cmdline()) and process.cpu_percent(0.2) > 20
    except psutil.Error:  # it ended (or is a zombie) while we looked
        return False
