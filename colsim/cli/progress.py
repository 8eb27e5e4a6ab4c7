"""Progress bars of the commands, drawn on stderr and cleared before any error line.

A bar appears on its first update (so an error found before the work starts is printed on a
clean line), and :func:`clear_progress` removes every bar still drawn, which the command
line calls before it prints an error or an interrupt.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable

from tqdm import tqdm

_OPEN: weakref.WeakSet[tqdm] = weakref.WeakSet()


def progress_bar(label: str, *, unit: str = "layer-it") -> Callable[[int, int], None]:
    """Return a progress callback ``(done, total)``: a bar with the time left, on stderr."""
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(desc=label, unit=unit, total=total, file=sys.stderr, leave=False)
            _OPEN.add(bar)
        bar.total = total
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    return update


def note(text: str) -> None:
    """Print one line to stdout without breaking the bars."""
    tqdm.write(text)


def clear_progress() -> None:
    """Close every bar still drawn, leaving the terminal line empty."""
    for bar in list(_OPEN):
        bar.close()
