"""Refuse work whose memory cannot fit, before allocating it.

Sizes a user chooses (iterations, channels, queue depths, request counts, layer shapes and
transaction sizes) decide how much memory a run allocates. Each place that allocates in
proportion to such a size estimates the bytes first and calls :func:`check_memory`, which
refuses with one line naming the sizes and the estimate when it exceeds the memory this
process may still use; the run then costs nothing.

What a process may use is the memory available now, and, inside a :func:`memory_ceiling`
(e.g. a Dask worker whose nanny ends it above a limit), what is left below the ceiling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from colsim.errors import ColsimError

_ceiling: list[tuple[int, str]] = []  # the innermost memory_ceiling's (bytes, what) last


@contextmanager
def memory_ceiling(nbytes: int, what: str) -> Iterator[None]:
    """Within the block, :func:`check_memory` also refuses what would take this process's
    resident memory above ``nbytes`` (``what`` names the ceiling in the error)."""
    _ceiling.append((nbytes, what))
    try:
        yield
    finally:
        _ceiling.pop()


def check_memory(what: str, nbytes: int) -> None:
    """Raise a ColsimError unless ``nbytes`` more fit in the memory this process may use.

    ``what`` names the sizes behind the estimate, e.g. ``"`iterations` 1,000,000,000 of
    'mdm' (8 layers)"``.
    """
    available = psutil.virtual_memory().available
    room = f"the {format_bytes(available)} available"
    if _ceiling:
        ceiling, name = _ceiling[-1]
        below = max(ceiling - psutil.Process().memory_info().rss, 0)
        if below < available:
            available, room = below, f"the {format_bytes(below)} left below {name}"
    if nbytes > available:
        raise ColsimError(f"{what} needs about {format_bytes(nbytes)} of memory, more than "
                          f"{room}")


def format_bytes(nbytes: float) -> str:
    """Return ``nbytes`` in the largest binary unit that keeps it at least 1 (``7.45 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    raise AssertionError("unreachable")
