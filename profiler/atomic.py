"""Write a file completely or not at all: a temporary name renamed into place on success."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed, so an
    interrupted writer leaves neither a partial file nor one that looks complete. ``suffix``
    keeps the extension for writers that insist on one (``np.savez`` adds ``.npz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(0o644)  # mkstemp creates 0600; results are shared data
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
