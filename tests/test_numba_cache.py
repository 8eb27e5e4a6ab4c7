"""colsim.numba_cache: a compiled function's disk cache goes stale with any source it reads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from colsim.numba_cache import compiled_sources, sources_digest

ROOT = Path(__file__).resolve().parents[1]

CALLER = """
from numba import njit

from pkg.callee import value
from colsim.numba_cache import key_caches_on_sources


@njit(cache=True)
def call():
    return value()


key_caches_on_sources(__name__)
"""


def callee(constant: int) -> str:
    """Return a callee module whose compiled function (inlined by callers) returns a constant
    it imports from a module without compiled code."""
    return textwrap.dedent(f"""
        from numba import njit

        from pkg.constants import VALUE


        @njit(cache=True, inline="always")
        def value():
            return VALUE + {constant}
        """)


def call(path: Path) -> tuple[int, int]:
    """Return ``pkg.caller.call()`` and its disk-cache hits, in a fresh interpreter."""
    script = ("from pkg.caller import call; "
              "print(call(), sum(call.stats.cache_hits.values()))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(ROOT)])}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def test_a_changed_callee_or_constant_recompiles_the_cached_caller(tmp_path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "caller.py").write_text(CALLER)
    (package / "callee.py").write_text(callee(0))
    (package / "constants.py").write_text("VALUE = 1\n")
    assert call(tmp_path) == (1, 0)  # compiled, then saved
    assert call(tmp_path) == (1, 1)  # loaded from disk
    (package / "callee.py").write_text(callee(10))  # numba alone would load the stale code
    assert call(tmp_path) == (11, 0)
    (package / "constants.py").write_text("VALUE = 2\n")
    assert call(tmp_path) == (12, 0)
    assert call(tmp_path) == (12, 1)


def test_the_cosimulation_is_keyed_on_the_kernel_and_the_engines() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in
             compiled_sources("colsim.sim.fast.cosim")}
    assert {"sim/fast/cosim.py", "sim/fast/engines.py", "sim/dram/kernel.py",
            "sim/dram/commands.py", "sim/dram/mapping.py"} <= names
    assert "colsim/api.py" not in names and "sim/schedule/build.py" not in names
    assert sources_digest("colsim.sim.fast.cosim") != sources_digest("colsim.sim.dram.kernel")
