"""The FFN-Reuse schedule (DESIGN.md contract 5): loop nest, placement, transaction stream.

:func:`build_schedule` turns one layer-iteration (layer shape, hardware, hot mask, layout,
placement, mode) into a :class:`Schedule`, assembled by a :class:`ScheduleBuilder`;
:func:`plan_placement` places a layer's tensors in DRAM; :mod:`~colsim.sim.schedule.compute`
is the compute-time model both executors use.
"""

from colsim.sim.schedule.build import MODES, PHASES, ScheduleBuilder, build_schedule
from colsim.sim.schedule.compute import ComputeModel, SimdPasses
from colsim.sim.schedule.model import ARRAY, BUFFERS, INPUT, OUTPUT, SIMD, UNITS, WEIGHT, Schedule
from colsim.sim.schedule.placement import DramPlacement, input_chunk, plan_placement

__all__ = [
    "ARRAY",
    "BUFFERS",
    "INPUT",
    "MODES",
    "OUTPUT",
    "PHASES",
    "SIMD",
    "UNITS",
    "WEIGHT",
    "ComputeModel",
    "DramPlacement",
    "Schedule",
    "ScheduleBuilder",
    "SimdPasses",
    "build_schedule",
    "input_chunk",
    "plan_placement",
]
