"""Numba disk caches keyed on every source file their machine code is built from.

numba keeps a compiled function's machine code on disk (``cache=True``) and reuses it while
the function's own source file is unchanged (its modification time and size). The machine
code also holds what the function calls and inlines from other modules, and the constants
it reads from them; numba does not notice when those change, so an edit to a callee (or a
``git pull`` on an editable install) would leave stale machine code in use.
:func:`key_caches_on_sources` closes that gap: the cache of every cached function of a
module is valid only while the sources of :func:`compiled_sources` are unchanged, byte for
byte; any change recompiles on the next call.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from pathlib import Path

from numba.core.dispatcher import Dispatcher

from colsim import compat


def compiled_sources(module: str) -> list[Path]:
    """Return the source files compiled code of module ``module`` may be built from, sorted.

    That is the module's own file and the file of every module of its top-level package
    that it imports (a name imported from a module counts as that module), recursively
    through the modules that import numba (the ones that can hold compiled code). Read from
    the sources: nothing is imported but the packages on the way.
    """
    package = module.split(".")[0]
    files: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _origin(name)
        if path is None or path in files:
            continue
        files.add(path)
        imported = _imports(path)
        if any(name.split(".")[0] == "numba" for name in imported):
            todo.extend(name for name in imported if name.split(".")[0] == package)
    return sorted(files)


def sources_digest(module: str) -> str:
    """Return the SHA-256 of the contents of :func:`compiled_sources` of ``module``."""
    digest = hashlib.sha256()
    for path in compiled_sources(module):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def key_caches_on_sources(module: str) -> None:
    """Key the disk cache of every cached compiled function defined in ``module`` on
    :func:`sources_digest` (call it at the end of the module, once its functions exist)."""
    stamp = sources_digest(module)
    for value in vars(sys.modules[module]).values():
        if isinstance(value, Dispatcher) and value.py_func.__module__ == module:
            compat.key_numba_cache(value, stamp)


def _origin(name: str) -> Path | None:
    """Return the source file of module ``name`` (None: not a module with a source file)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a name inside a module, not a module
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).resolve()


def _imports(path: Path) -> set[str]:
    """Return the modules ``path`` imports, and ``module.name`` for each ``from module import
    name`` (absolute imports only; :func:`_origin` tells modules from other names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names
