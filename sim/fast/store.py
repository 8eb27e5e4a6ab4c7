"""A folder of simulated layer-iterations that runs share (``colsim reproduce``'s grid).

A layer-iteration's statistics depend only on its memo key
(:meth:`~colsim.sim.fast.workload.LayerIteration.key`: shape, mode and the physical slots it
computes) and on the configuration it ran on (hardware, DRAM, compute model, colsim version),
so runs that share both (e.g. the hot-cold, per-layer and dynamic layouts of one mask set, or
equal-shaped layers of two workloads) simulate it once. Each entry is one small JSON file
named by the SHA-256 of configuration and key, written atomically: workers in other
processes may read and write the folder at once, and two that simulate the same entry write
the same statistics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from colsim import __version__
from colsim.config import HardwareConfig
from colsim.config.loader import to_mapping
from colsim.fileio import write_text
from colsim.sim.fast.run import IterationStats
from colsim.sim.schedule import ComputeModel


class LayerIterationStore:
    """Statistics of simulated layer-iterations in ``folder``, for one configuration."""

    def __init__(self, folder: str | Path, hw: HardwareConfig, compute: ComputeModel) -> None:
        self.folder = Path(folder)
        configuration = {"colsim": __version__, "hardware": to_mapping(hw),
                         "dram": to_mapping(hw.dram_config), "compute": to_mapping(compute)}
        self._prefix = json.dumps(configuration, sort_keys=True).encode()

    def path(self, key: tuple) -> Path:
        """Return the file of the entry with memo ``key``."""
        digest = hashlib.sha256(self._prefix)
        for part in key:
            data = part if isinstance(part, bytes) else repr(part).encode()
            digest.update(len(data).to_bytes(8, "little") + data)
        return self.folder / f"{digest.hexdigest()}.json"

    def get(self, key: tuple) -> IterationStats | None:
        """Return the stored statistics of ``key``, or None (absent or unreadable)."""
        try:
            return IterationStats(**json.loads(self.path(key).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: tuple, stats: IterationStats) -> None:
        """Store the statistics of ``key``."""
        write_text(self.path(key), json.dumps(asdict(stats)))
