"""Task functions the task runner's tests send to Dask workers (which import them by name)."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    """Return ``x * x``."""
    return x * x


def fail_on_three(x: int) -> int:
    """Return ``x``; raise a two-line ValueError for 3."""
    if x == 3:
        raise ValueError(f"three is not allowed: {x}\nsecond line")
    return x


def exit_on_three(x: int) -> int:
    """Return ``x`` after a short sleep; for 3, end the worker process at once (as the
    system's out-of-memory killer would)."""
    time.sleep(0.5)
    if x == 3:
        os._exit(9)
    return x


def spin(seconds: float) -> None:
    """Keep one core busy for ``seconds``."""
    end = time.time() + seconds
    while time.time() < end:
        pass


def need_memory(nbytes: int) -> int:
    """Return ``nbytes`` once :func:`colsim.limits.check_memory` lets them be allocated."""
    from colsim.limits import check_memory

    check_memory(f"a test task's {nbytes:,} bytes", nbytes)
    return nbytes
