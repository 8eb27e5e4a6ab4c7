"""Refuse work whose memory cannot fit, before allocating it.

Sizes a user chooses (iterations, channels, queue depths, request counts) decide how much
memory a run allocates. Each place that allocates in proportion to such a size estimates the
bytes first and calls :func:`check_memory`, which refuses with one line naming the sizes and
the estimate when it exceeds the memory available now; the run then costs nothing.
"""

from __future__ import annotations

import psutil

from colsim.errors import ColsimError


def check_memory(what: str, nbytes: int) -> None:
    """Raise a ColsimError unless ``nbytes`` fit in the memory available now.

    ``what`` names the sizes behind the estimate, e.g. ``"`iterations` 1,000,000,000 of
    'mdm' (8 layers)"``.
    """
    available = psutil.virtual_memory().available
    if nbytes > available:
        raise ColsimError(f"{what} needs about {format_bytes(nbytes)} of memory, more than "
                          f"the {format_bytes(available)} available")


def format_bytes(nbytes: float) -> str:
    """Return ``nbytes`` in the largest binary unit that keeps it at least 1 (``7.45 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    raise AssertionError("unreachable")
