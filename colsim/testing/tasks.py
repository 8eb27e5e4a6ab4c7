"""Task functions the task runner's tests send to Dask workers (which import them by name)."""

from __future__ import annotations

import time


def square(x: int) -> int:
    """Return ``x * x``."""
    return x * x


def fail_on_three(x: int) -> int:
    """Return ``x``; raise a two-line ValueError for 3."""
    if x == 3:
        raise ValueError(f"three is not allowed: {x}\nsecond line")
    return x


def spin(seconds: float) -> None:
    """Keep one core busy for ``seconds``."""
    end = time.time() + seconds
    while time.time() < end:
        pass
