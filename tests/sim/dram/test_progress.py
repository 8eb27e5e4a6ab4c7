"""The progress guard: a configuration that cannot serve its requests stops with one line on
every driver of the controller (batch, event-stepped, fast model) instead of spinning."""

from __future__ import annotations

import numpy as np
import pytest

from colsim.config import reference_hardware
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer
from colsim.sim.dram import DramConfig, simulate_batch
from colsim.sim.dram.config import ControllerConfig, DramTiming
from colsim.sim.dram.kernel import stall_bound
from colsim.sim.dram.model import DramModel
from colsim.sim.fast.run import MemorySystem, run_schedule
from colsim.sim.layout import rowmajor_layout
from colsim.sim.schedule import build_schedule, plan_placement


def _unchecked(instance, **values):
    """Return ``instance`` with ``values`` set past validation (what the guard backs up)."""
    for key, value in values.items():
        object.__setattr__(instance, key, value)
    return instance


STARVED = {
    "refresh takes every cycle": DramConfig(timing=_unchecked(DramTiming(), refi=50)),
    "write drain never ends": DramConfig(
        controller=_unchecked(ControllerConfig(), write_low_watermark=0.0)),
}
MESSAGE = r"the DRAM model made no progress for [\d,]+ cycles up to cycle [\d,]+ \(\d+ requests"


@pytest.mark.parametrize("config", STARVED.values(), ids=STARVED.keys())
def test_the_batch_path_stops_with_one_line(config: DramConfig) -> None:
    n = 300
    addr = np.arange(n, dtype=np.uint64) * np.uint64(128 * 7919)
    with pytest.raises(ColsimError, match=MESSAGE):
        simulate_batch(config, addr, np.arange(n) % 3 == 0, np.zeros(n, np.int64))


def test_the_event_path_stops_with_one_line() -> None:
    config = STARVED["refresh takes every cycle"]
    model = DramModel(config)
    model.advance(1000)  # refreshes are queued by now
    assert model.submit(0, False, 1000)
    with pytest.raises(ColsimError, match=MESSAGE):
        model.advance(2 * stall_bound(config))


def test_the_fast_model_stops_with_one_line() -> None:
    config = STARVED["refresh takes every cycle"]
    hw = reference_hardware().with_overrides({"systolic": {"rows": 4, "cols": 4}})
    layer = FfnLayer("l", 8, 16, 64, False)
    placement = plan_placement(layer, hw, transaction_bytes=128)
    schedule = build_schedule(layer, hw, None, rowmajor_layout(64), placement, mode="dense")
    with pytest.raises(ColsimError, match=MESSAGE):
        run_schedule(schedule, hw, MemorySystem(config))


def test_the_bound_is_far_above_a_request_s_worst_wait() -> None:
    config = DramConfig()
    t = config.timing
    assert stall_bound(config) > 50 * (t.refi + t.rfc + t.rc + t.rp + t.rcd_rd + t.cl)
