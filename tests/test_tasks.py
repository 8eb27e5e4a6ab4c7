"""colsim.tasks: the same results on Dask and locally, failures per task, clean interrupts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import psutil
import pytest

from colsim.errors import ColsimError
from colsim.tasks import Task, run_tasks
from colsim.testing.tasks import exit_on_three, fail_on_three, need_memory, square


def only_in_this_process():
    """Return a task function whose module exists in this process only (workers cannot
    import it, however pytest was started)."""
    module = types.ModuleType("colsim_tests_only_here")
    exec("def identity(x):\n    return x\n", module.__dict__)
    sys.modules[module.__name__] = module
    return module.identity


def test_dask_and_local_give_the_same_results_and_report_every_failure() -> None:
    tasks = [Task(f"t{i}", fail_on_three, (i,)) for i in range(6)]
    outcomes = {}
    for executor in ("local", "dask"):
        got: dict[str, int] = {}
        seen: list[tuple[int, int]] = []
        notes: list[str] = []
        run = run_tasks(tasks, on_result=got.__setitem__, jobs=2, executor=executor,
                        progress=lambda done, total, seen=seen: seen.append((done, total)),
                        announce=notes.append)
        assert [f.key for f in run.failures] == ["t3"]
        assert run.failures[0].message == "ValueError: three is not allowed: 3"
        assert "Traceback" in run.failures[0].details
        assert sorted(run.finished) == ["t0", "t1", "t2", "t4", "t5"]
        assert seen[-1] == (6, 6)
        outcomes[executor] = got
        if executor == "dask":
            assert run.dashboard and notes == [f"Dask dashboard: {run.dashboard}"]
    assert outcomes["local"] == outcomes["dask"] == {f"t{i}": i for i in (0, 1, 2, 4, 5)}


def test_a_worker_that_dies_fails_only_the_task_it_ran() -> None:
    got: dict[str, int] = {}
    run = run_tasks([Task(f"t{i}", exit_on_three, (i,)) for i in range(8)],
                    on_result=got.__setitem__, jobs=2)
    assert [f.key for f in run.failures] == ["t3"]
    assert run.failures[0].message.startswith("KilledWorker: ")
    assert got == {f"t{i}": i for i in range(8) if i != 3}


def test_a_task_larger_than_its_worker_s_memory_limit_is_refused_not_killed() -> None:
    from distributed import LocalCluster

    gib = 1 << 30
    if psutil.virtual_memory().available < 3 * gib:
        pytest.skip("needs 3 GiB available, so that only the worker's limit refuses")
    with LocalCluster(n_workers=1, threads_per_worker=1, memory_limit="1GiB",
                      dashboard_address="127.0.0.1:0", silence_logs=50) as cluster:
        got: dict[str, int] = {}
        run = run_tasks([Task("fits", need_memory, (gib // 4,)),
                         Task("too-large", need_memory, (2 * gib,))],
                        on_result=got.__setitem__, jobs=1, scheduler=cluster.scheduler_address)
    assert got == {"fits": gib // 4}
    assert [f.key for f in run.failures] == ["too-large"]
    message = run.failures[0].message
    assert message.startswith("ColsimError: a test task's 2,147,483,648 bytes needs about "
                              "2 GiB of memory, more than the ")
    assert message.endswith("left below the Dask worker's memory limit (1 GiB × 0.95)")


def test_a_task_the_workers_cannot_load_fails_instead_of_hanging() -> None:
    got: dict[str, int] = {}
    here = only_in_this_process()
    try:
        run = run_tasks([Task("here", here, (1,)), Task("there", square, (2,))],
                        on_result=got.__setitem__, jobs=1)
    finally:
        del sys.modules[here.__module__]
    assert got == {"there": 4}
    assert [f.key for f in run.failures] == ["here"]
    assert run.failures[0].message.startswith("ModuleNotFoundError: No module named")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"jobs": 0}, "`jobs` must be a positive integer, not 0"),
        ({"executor": "threads"}, "`executor` must be one of 'dask', 'local', not 'threads'"),
        ({"executor": "local", "scheduler": "tcp://127.0.0.1:8786"},
         "`scheduler` needs the 'dask' executor"),
    ],
)
def test_bad_arguments_are_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(ColsimError, match=message):
        run_tasks([Task("a", square, (2,))], on_result=print, **kwargs)


def test_repeated_keys_are_refused() -> None:
    with pytest.raises(ColsimError, match="task keys must be unique, not 'a' twice"):
        run_tasks([Task("a", square, (1,)), Task("a", square, (2,))], on_result=print)


SPINNER = textwrap.dedent("""
    import sys
    from colsim.tasks import Interrupted, Task, run_tasks
    from colsim.testing.tasks import spin

    if __name__ == "__main__":
        try:
            run_tasks([Task(str(i), spin, (60,)) for i in range(4)], on_result=print, jobs=2,
                      announce=lambda note: print(note, flush=True))
        except Interrupted as exc:
            print(exc, flush=True)
            sys.exit(130)
""")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_main_process_stops_every_worker_within_a_second(
        tmp_path, signum: int) -> None:
    script = tmp_path / "spinner.py"
    script.write_text(SPINNER)
    main = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert main.stdout.readline().startswith("Dask dashboard: http://127.0.0.1:")
        process = psutil.Process(main.pid)
        deadline = time.time() + 60
        workers: list[psutil.Process] = []
        while len(workers) < 2 and time.time() < deadline:  # both workers busy spinning
            workers = [c for c in process.children(recursive=True)
                       if "spawn_main" in " ".join(c.cmdline()) and c.cpu_percent(0.05) > 0]
        assert len(workers) == 2
        os.kill(main.pid, signum)
        sent = time.time()
        _gone, alive = psutil.wait_procs(workers, timeout=1.0)
        assert alive == [] and time.time() - sent <= 1.0
        out, _ = main.communicate(timeout=30)
        name = signal.Signals(signum).name
        assert out.strip().splitlines()[-1] == f"interrupted by {name}: 0 of 4 tasks finished"
        assert main.returncode == 130
    finally:
        main.kill()
        main.communicate()
