"""Run a layer's FFN-Reuse iterations on data and check every result (the functional checks).

:func:`verify_iterations` places the quantised weights once, then per iteration writes that
iteration's X, builds its schedule (the first iteration dense, the others sparse with the
dense iteration's mask, as in FFN-Reuse), executes it on the bytes
(:func:`~colsim.sim.functional.executor.execute_functional`) and checks the results with
:func:`~colsim.sim.functional.checks.check_iteration` (the checks the RTL co-simulation runs
too): bit-exact H, Y (and Y_cold) against the fixed-point reference, the derived mask against
the profiler's rule, and dense Y against the float FFN within the derived tolerance.

:class:`FloatLayer`, :func:`float_tolerance` and :func:`gelu_table_error` live in
:mod:`~colsim.sim.functional.checks` and are re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colsim.config import HardwareConfig
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.sim.functional.checks import (
    FloatLayer,
    check_iteration,
    float_tolerance,
    gelu_table_error,
    iteration_reference,
)
from colsim.sim.functional.executor import execute_functional
from colsim.sim.functional.fixed_point import tau_register
from colsim.sim.functional.image import new_store, place_operands
from colsim.sim.layout import Layout
from colsim.sim.schedule import build_schedule, plan_placement

__all__ = ["FloatLayer", "float_tolerance", "gelu_table_error", "verify_iterations"]


def verify_iterations(layer: FfnLayer, hw: HardwareConfig, data: FloatLayer, *, tau: float,
                      layout: Layout, hot: np.ndarray | None, transaction_bytes: int
                      ) -> list[dict[str, Any]]:
    """Run every iteration of ``data`` functionally; return one check record per iteration.

    ``hot`` is the mask the schedules use (the profiler's, over logical columns; ``None``
    runs plain dense iterations); ``layout`` places the columns.
    """
    if data.w2.shape != (layer.hidden, layer.d_model):
        raise ColsimError(f"weights of shape {data.w2.shape} do not fit layer {layer.name!r}")
    f = hw.simd.frac_bits
    tau_q = tau_register(tau, f)
    placement = plan_placement(layer, hw, transaction_bytes=transaction_bytes)
    store = new_store(placement)
    records, y_cold = [], None
    for t in range(len(data.x)):
        operands, saturated = data.quantised(t, f)
        place_operands(store, placement, layout, operands)
        mode = "sparse" if t > 0 and hot is not None else "dense"
        schedule = build_schedule(layer, hw, hot, layout, placement, mode=mode)
        run = execute_functional(schedule, hw, store, tau_q=tau_q)
        reference = iteration_reference(operands, hw, schedule, hot, tau_q=tau_q,
                                        y_cold=y_cold)
        records.append(check_iteration(store, layout, schedule, reference,
                                       derived_mask=run.logical_mask(layout), operands=data,
                                       iteration=t, hw=hw, tau=tau, saturated=saturated))
        if reference.y_cold is not None:
            y_cold = reference.y_cold
    return records
