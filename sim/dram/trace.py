"""Load/store traces in the format of the common DRAM simulators: ``LD <addr>`` / ``ST <addr>``.

One request per line, the address in hex (``0x..``) or decimal. Blank lines and lines
starting with ``#`` are skipped. Every request may be accepted from cycle 0 on; the front
end offers at most one per DRAM cycle and waits while the target queue is full.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from colsim.errors import ColsimError
from colsim.sim.dram.config import DramConfig
from colsim.sim.dram.engine import DramStats, simulate_batch

OPERATIONS = {"LD": False, "ST": True}


def read_trace(path: str | Path, config: DramConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(addr, is_write)`` of a trace file; errors name the file and line number."""
    path = Path(path)
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError):
        raise ColsimError(f"trace file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise ColsimError(f"trace file {str(path)!r} is not a text file") from None
    capacity = config.organization.capacity_bytes
    addrs: list[int] = []
    writes: list[bool] = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        where = f"{path}:{number}"
        if len(tokens) != 2 or tokens[0] not in OPERATIONS:
            raise ColsimError(f"{where}: expected `LD <addr>` or `ST <addr>`, not {line.strip()!r}")
        token = tokens[1]
        try:
            addr = int(token[2:], 16) if token[:2].lower() == "0x" else int(token, 10)
        except ValueError:
            raise ColsimError(f"{where}: malformed address {token!r}") from None
        if addr < 0:
            raise ColsimError(f"{where}: address must be non-negative, not {token}")
        if addr >= capacity:
            raise ColsimError(
                f"{where}: address {addr:#x} is beyond the DRAM capacity of {capacity:#x} bytes"
            )
        addrs.append(addr)
        writes.append(OPERATIONS[tokens[0]])
    return np.array(addrs, dtype=np.uint64), np.array(writes, dtype=bool)


def run_trace(path: str | Path, config: DramConfig) -> tuple[int, DramStats]:
    """Simulate a trace file; return its request count and the statistics."""
    addr, is_write = read_trace(path, config)
    result = simulate_batch(config, addr, is_write, np.zeros(len(addr), dtype=np.int64))
    return len(addr), result.stats
