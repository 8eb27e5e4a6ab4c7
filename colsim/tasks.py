"""Run independent tasks on Dask (a LocalCluster, or a cluster of several machines) or here.

Sweeps, the study reproduction and the RTL regression are lists of independent tasks: a
top-level function and its picklable arguments. :func:`run_tasks` runs them

* on ``dask.distributed``: a :class:`~distributed.LocalCluster` of ``jobs`` single-threaded
  worker processes by default, or the existing cluster whose scheduler is at ``scheduler``
  (``tcp://HOST:PORT``; see the README for starting one on several machines);
* or, with ``executor="local"``, one after another in this process (the reference path the
  Dask path is tested against).

Contracts: a task that raises is reported as a :class:`TaskFailure` (its key and a one-line
message), never lost and never fatal to the others; results reach ``on_result`` in the
calling process as they complete, so the caller writes every file (workers need no shared
filesystem, and nothing is written after an interrupt). SIGINT and SIGTERM during a run stop
every task at once: the local cluster's worker processes are killed, a remote cluster's
pending and running tasks are cancelled, and :class:`Interrupted` is raised once the workers
are gone.
"""

from __future__ import annotations

import pickle
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

import psutil

from colsim.errors import ColsimError
from colsim.limits import format_bytes, memory_ceiling

EXECUTORS = ("dask", "local")
CONNECT_TIMEOUT_S = 10  # how long a remote scheduler may take to answer


@dataclass(frozen=True)
class Task:
    """One unit of work: ``function(*args)`` under a unique ``key`` (e.g. a run id)."""

    key: str
    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised: its key, the exception as one line, and the traceback text."""

    key: str
    message: str
    details: str = field(default="", repr=False)


@dataclass(frozen=True)
class TaskRun:
    """What :func:`run_tasks` did: every finished key, the failures, the dashboard address."""

    finished: tuple[str, ...]
    failures: tuple[TaskFailure, ...]
    dashboard: str | None = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while tasks ran; every worker was stopped first."""

    def __init__(self, signum: int, finished: int, total: int) -> None:
        self.signum = signum
        self.finished = finished
        self.total = total
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}: {finished} of {total} tasks finished")


def run_tasks(
    tasks: Sequence[Task],
    *,
    on_result: Callable[[str, Any], None],
    jobs: int = 1,
    executor: str = "dask",
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> TaskRun:
    """Run ``tasks``; call ``on_result(key, value)`` here as each one finishes.

    ``announce`` receives one-line notes for the user (the Dask dashboard's address).
    """
    if executor not in EXECUTORS:
        raise ColsimError(f"`executor` must be one of 'dask', 'local', not {executor!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ColsimError(f"`jobs` must be a positive integer, not {jobs!r}")
    keys = [task.key for task in tasks]
    if len(set(keys)) != len(keys):
        repeated = sorted(k for k in keys if keys.count(k) > 1)[0]
        raise ColsimError(f"task keys must be unique, not {repeated!r} twice")
    if scheduler is not None and executor != "dask":
        raise ColsimError("`scheduler` needs the 'dask' executor")
    state = _Progress(len(tasks), on_result, progress)
    if not tasks:
        return state.outcome(None)
    stopper = _Stopper(state)
    with stopper.installed():
        if executor == "local":
            for task in tasks:
                state.record(_call(task))
            return state.outcome(None)
        return _run_dask(tasks, state, stopper, jobs=jobs, scheduler=scheduler,
                         announce=announce)


class _Progress:
    """The bookkeeping of one run, shared by both executors."""

    def __init__(self, total: int, on_result: Callable[[str, Any], None],
                 progress: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.on_result = on_result
        self.progress = progress
        self.finished: list[str] = []
        self.failures: list[TaskFailure] = []

    def record(self, outcome: tuple[str, str, Any]) -> None:
        status, key, value = outcome
        if status == "ok":
            self.on_result(key, value)
            self.finished.append(key)
        else:
            self.failures.append(value)
        if self.progress is not None:
            self.progress(len(self.finished) + len(self.failures), self.total)

    def outcome(self, dashboard: str | None) -> TaskRun:
        return TaskRun(tuple(self.finished), tuple(self.failures), dashboard)


def _call(task: Task) -> tuple[str, str, Any]:
    """Run one task; return ``("ok", key, value)`` or ``("failed", key, TaskFailure)``."""
    try:
        return "ok", task.key, task.function(*task.args)
    except Exception as exc:  # every failure is reported per task, none is lost
        return "failed", task.key, _failure(task.key, exc)


def _call_pickled(key: str, payload: bytes) -> tuple[str, str, Any]:
    """Unpickle a task on a worker and run it; a task the worker cannot load (a function or
    argument from a module it cannot import) fails like any other instead of stalling Dask."""
    try:
        task = pickle.loads(payload)
    except Exception as exc:
        return "failed", key, _failure(key, exc)
    with _worker_ceiling():
        return _call(task)


def _worker_ceiling() -> AbstractContextManager:
    """Return the memory ceiling of the Dask worker this runs on (:func:`memory_ceiling`):
    the share of its memory limit above which its nanny ends it, so that a task too large for
    the worker is refused with its estimate instead of killing the worker."""
    import dask
    from distributed import get_worker

    limit = get_worker().memory_manager.memory_limit
    fraction = dask.config.get("distributed.worker.memory.terminate")
    if not limit or fraction is False:
        return nullcontext()
    return memory_ceiling(int(limit * fraction),
                          f"the Dask worker's memory limit ({format_bytes(limit)} × {fraction})")


def _failure(key: str, exc: Exception) -> TaskFailure:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return TaskFailure(key, message, traceback.format_exc())


class _Stopper:
    """SIGINT / SIGTERM handling of one run: kill the run's worker processes at once, then
    raise :class:`Interrupted` (deferred while a cluster is starting, so that its start-up
    fails or finishes cleanly before the exception unwinds)."""

    def __init__(self, state: _Progress) -> None:
        self.state = state
        self.before = {child.pid for child in psutil.Process().children(recursive=True)}
        self.deferring = False
        self.pending: int | None = None

    def kill_workers(self) -> None:
        """Kill every process started since this run began (the local cluster's workers),
        except multiprocessing's resource tracker, which runs no task and exits with us."""
        for child in psutil.Process().children(recursive=True):
            if child.pid in self.before:
                continue
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if not any("resource_tracker" in part for part in child.cmdline()):
                    child.kill()

    def interrupted(self) -> Interrupted:
        return Interrupted(self.pending or signal.SIGINT, len(self.state.finished),
                           self.state.total)

    def handle(self, signum: int, _frame: Any) -> None:
        self.kill_workers()
        self.pending = signum
        if not self.deferring:
            raise self.interrupted()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold the exception back inside the block; raise it at its end if a signal came."""
        self.deferring = True
        try:
            yield
        except Exception:
            if self.pending is None:
                raise
        finally:
            self.deferring = False
        if self.pending is not None:
            raise self.interrupted()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM inside the block (main thread only)."""
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT,
                                                                     signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _run_dask(tasks: Sequence[Task], state: _Progress, stopper: _Stopper, *, jobs: int,
              scheduler: str | None, announce: Callable[[str], None] | None) -> TaskRun:
    from distributed import Client, LocalCluster, as_completed

    cluster = client = None
    try:
        with stopper.deferred():
            if scheduler is None:
                cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0", scheduler_port=0,
                                       silence_logs=50)
            try:
                client = Client(cluster if cluster is not None else scheduler,
                                timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:
                raise ColsimError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc})") \
                    from None
        dashboard = client.dashboard_link
        if announce is not None:
            announce(f"Dask dashboard: {dashboard}")
        # Tasks travel as bytes, unpickled inside the task (see _call_pickled): a payload that
        # Dask itself fails to deserialize on a worker is dropped and its future never ends.
        # Each task is its own small graph (one graph of every payload, tens of MiB of masks,
        # is slow to send and Dask warns about it), and the scheduler keeps its payload: a
        # worker that dies (e.g. killed for memory) fails only the task it ran, which Dask
        # retries elsewhere; payloads scattered to workers would die with it.
        futures = [client.submit(_call_pickled, task.key, pickle.dumps(task),
                                 key=f"colsim-{task.key}", pure=False) for task in tasks]
        try:
            keys = {future.key: task.key for future, task in zip(futures, tasks, strict=True)}
            for future in as_completed(futures):
                try:
                    state.record(future.result())
                except Exception as exc:  # the worker died under the task (KilledWorker)
                    key = keys[future.key]
                    state.record(("failed", key, _failure(key, exc)))
        except BaseException:
            client.cancel(futures, force=True)
            raise
        return state.outcome(dashboard)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            # Close first: workers killed under a running scheduler make it log a traceback.
            with suppress(Exception):  # a cluster whose workers were killed may complain
                cluster.close(timeout=5)
            stopper.kill_workers()  # any the close left behind
