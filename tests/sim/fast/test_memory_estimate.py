"""The memory estimate a layer-iteration is checked against bounds what it really takes.

Each case builds and runs a full-size layer-iteration in a fresh interpreter, after warming
the compiled code on a small layer, and measures the peak resident memory the build and the
run added (Linux: the peak is reset through ``/proc/self/clear_refs``). The estimate
(:func:`colsim.sim.schedule.build.peak_bytes` with :func:`colsim.sim.fast.run.execution_bytes`)
must cover it, and not by so much that it refuses work that fits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MEASURE = """
import json, sys
from colsim.config import reference_hardware
from colsim.models.registry import workload_spec
from colsim.models.spec import FfnLayer
from colsim.sim.fast.run import MemorySystem, execution_bytes, run_schedule
from colsim.sim.layout import rowmajor_layout
from colsim.sim.schedule import build_schedule, plan_placement
from colsim.sim.schedule.build import peak_bytes

def status(key):
    line = next(line for line in open("/proc/self/status") if line.startswith(key))
    return int(line.split()[1]) * 1024

def execute(layer, hw):
    size = hw.dram_config.organization.transaction_bytes
    placement = plan_placement(layer, hw, transaction_bytes=size)
    schedule = build_schedule(layer, hw, None, rowmajor_layout(layer.hidden), placement,
                              mode="dense", executor_bytes=execution_bytes(hw))
    run_schedule(schedule, hw, MemorySystem(hw.dram_config))
    return schedule.n_transactions, schedule.op_unit.size + schedule.tr_write.size

hw = reference_hardware().with_overrides(json.loads(sys.argv[1]))
layer = max(workload_spec("dit-xl-2").layers, key=lambda layer: layer.tokens * layer.hidden)
execute(FfnLayer("warm-up", 64, 64, 128, False), hw)
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
before = status("VmRSS")
transactions, entries = execute(layer, hw)
print(json.dumps({"peak": status("VmHWM") - before, "transactions": transactions,
                  "estimate": peak_bytes(transactions, entries, execution_bytes(hw))}))
"""

# A 16×16 array with the reference buffers scaled to its area (``--scale-buffers``).
ARRAY_16 = {"systolic": {"rows": 16, "cols": 16},
            "sram": {"input": {"kib": 6}, "weight": {"kib": 48}, "output": {"kib": 6}}}


def _with(**dma: int) -> dict:
    return {**ARRAY_16, "dma": dma} if dma else ARRAY_16


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("overrides", [
    pytest.param(_with(), id="plain"),
    pytest.param({**ARRAY_16, "dram": {"preset": "hbm2"}}, id="hbm2", marks=pytest.mark.slow),
    pytest.param(_with(requests_in_flight=8), id="request-cap", marks=pytest.mark.slow),
    pytest.param(_with(channels=2), id="two-channels", marks=pytest.mark.slow),
    pytest.param(_with(request_bytes=256, requests_in_flight=8, channels=3),
                 id="requests-of-two", marks=pytest.mark.slow),
])
def test_the_estimate_covers_a_full_size_layer_iteration(overrides):
    done = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(overrides)],
                          capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["transactions"] > 1_000_000  # large enough that fixed costs are noise
    assert measured["peak"] <= measured["estimate"] <= 1.4 * measured["peak"], measured
