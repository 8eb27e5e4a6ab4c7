"""Write output files completely or not at all, and check output paths before long work.

Every file colsim writes goes through this module, with one policy:

- **atomic**: the content goes to a temporary file beside the destination, which is renamed
  into place only when complete; on any failure (``KeyboardInterrupt`` included) the temporary
  file is removed, so an interrupted run leaves neither a partial file nor a stray temporary;
- **permissions** are those of a plain ``open(path, "w")``: ``0o666 & ~umask`` (the temporary
  file is created with mode ``0o666`` and the kernel applies the umask, as for any file);
- **parent folders** are created.

:func:`check_output_file` and :func:`check_output_dir` refuse a destination that cannot be
written (a folder where a file is wanted, a file where a folder is wanted, a path under a
regular file, a place without write permission) with a one-line
:class:`~colsim.errors.ColsimError` naming the path. Commands call them before the work whose
result they will write, so a bad path costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from colsim.errors import ColsimError

TEMPORARY_MODE = 0o666
"""Mode requested for temporary files; the umask removes bits, exactly as for ``open()``."""


def check_output_file(path: str | Path) -> Path:
    """Return ``path`` as a Path if a file can be written there; raise a ColsimError if not.

    Refused: an existing folder or non-regular file (a device, a FIFO) at ``path``, a path
    under a regular file, and a nearest existing folder in which no file can be created
    (tested by creating and removing a probe file, which is right for root as well).
    """
    path = Path(path)
    if os.path.isdir(path):
        raise ColsimError(f"output file {str(path)!r} is a folder")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise ColsimError(f"output file {str(path)!r} is not a regular file")
    _check_creatable(path, "output file")
    return path


def check_output_dir(path: str | Path) -> Path:
    """Return ``path`` as a Path if files can be written in it; raise a ColsimError if not.

    Refused: an existing file at ``path``, a path under a regular file, and a folder (``path``
    or, if it does not exist yet, its nearest existing ancestor) in which no file can be created.
    """
    path = Path(path)
    if os.path.isdir(path):
        _probe(path, path, "output folder")
    elif os.path.lexists(path):
        raise ColsimError(f"output folder {str(path)!r} is a file")
    else:
        _check_creatable(path, "output folder")
    return path


@contextmanager
def atomic_output(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    For writers that need a file name (h5py, ``np.savez``, matplotlib, safetensors). The
    temporary file exists, empty, with the permissions of a plain ``open()``; a writer that
    truncates it keeps them. On any exception, ``KeyboardInterrupt`` included, it is removed
    and ``path`` is left as it was. ``suffix`` ends the temporary name, for writers that
    insist on an extension (``np.savez`` appends ``.npz`` to any other name).
    """
    path = Path(path)
    if os.path.isdir(path):
        raise ColsimError(f"output file {str(path)!r} is a folder")
    temporary = _create_temporary(path, suffix)
    try:
        yield temporary
        try:
            os.replace(temporary, path)
        except OSError as exc:
            raise ColsimError(_refusal(path, exc)) from None
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`); return ``path``."""
    path = Path(path)
    with atomic_output(path) as temporary:
        try:
            temporary.write_bytes(data)
        except OSError as exc:  # a full disk, a quota
            raise ColsimError(f"cannot write output file {str(path)!r}: {exc.strerror or exc}") \
                from None
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8 atomically (newlines as given); return ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def _create_temporary(path: Path, suffix: str) -> Path:
    """Create parent folders and an empty ``.<name>.<random>.tmp<suffix>`` beside ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            temporary = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp{suffix}")
            try:
                handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TEMPORARY_MODE)
            except FileExistsError:
                continue
            os.close(handle)
            return temporary
    except OSError as exc:
        raise ColsimError(_refusal(path, exc)) from None


def _refusal(path: Path, exc: OSError) -> str:
    """Return the one-line reason why ``path`` could not be written (``exc`` as a fallback)."""
    if os.path.isdir(path):
        return f"output file {str(path)!r} is a folder"
    blocking = _nearest_existing(path.parent)
    if not os.path.isdir(blocking):
        return f"output file {str(path)!r} is under {str(blocking)!r}, which is not a folder"
    return f"cannot write output file {str(path)!r}: {exc.strerror or exc}"


def _check_creatable(path: Path, what: str) -> None:
    """Raise unless ``path``'s nearest existing ancestor is a folder we can create files in."""
    ancestor = _nearest_existing(Path(os.path.abspath(path)).parent)
    if not os.path.isdir(ancestor):
        raise ColsimError(f"{what} {str(path)!r} is under {str(ancestor)!r}, which is not a folder")
    _probe(ancestor, path, what)


def _nearest_existing(folder: Path) -> Path:
    """Return ``folder`` or its nearest ancestor that exists (possibly as a file or a link)."""
    folder = Path(os.path.abspath(folder))
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def _probe(folder: Path, path: Path, what: str) -> None:
    """Create and remove a file in ``folder``; raise a ColsimError naming ``path`` if we cannot."""
    probe = folder / f".colsim-probe.{os.urandom(4).hex()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TEMPORARY_MODE))
    except OSError as exc:
        where = "" if folder == path else f" (in {str(folder)!r})"
        raise ColsimError(
            f"cannot write {what} {str(path)!r}{where}: {exc.strerror or exc}"
        ) from None
    os.unlink(probe)
