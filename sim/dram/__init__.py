"""Cycle-accurate transaction-level DRAM model (GDDR6 reference, other standards by preset).

* :func:`load_dram_config` / :class:`DramConfig`: organisation, timing, controller, mapping.
* :func:`decode`: the one address mapping (byte address → channel, bank group, bank, row,
  column), shared by every path and by the RTL remapper's reference model.
* Batch path: :func:`simulate_batch` and the stateful compiled :class:`DramEngine`.
* Event path (cocotb): :class:`DramModel` with :class:`ClockRatio` for core ↔ DRAM cycles.
* :func:`check_protocol`: an independent replay of the issued command log.
"""

from colsim.sim.dram.checker import check_protocol
from colsim.sim.dram.config import (
    ControllerConfig,
    DramConfig,
    DramOrganization,
    DramTiming,
    load_dram_config,
    preset_names,
)
from colsim.sim.dram.engine import BatchResult, DramEngine, DramStats, simulate_batch
from colsim.sim.dram.mapping import decode, decode_array, encode_array
from colsim.sim.dram.model import ClockRatio, Completion, DramModel
from colsim.sim.dram.store import BackingStore
from colsim.sim.dram.streams import request_stream

__all__ = [
    "BackingStore",
    "BatchResult",
    "ClockRatio",
    "Completion",
    "ControllerConfig",
    "DramConfig",
    "DramEngine",
    "DramModel",
    "DramOrganization",
    "DramStats",
    "DramTiming",
    "check_protocol",
    "decode",
    "decode_array",
    "encode_array",
    "load_dram_config",
    "preset_names",
    "request_stream",
    "simulate_batch",
]
