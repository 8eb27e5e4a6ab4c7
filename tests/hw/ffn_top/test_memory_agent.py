"""The benches' GDDR6 memory agent: responses due at the right core cycle, however it is polled.

A seeded request stream (bursts, gaps, reads and writes) goes through :class:`Gddr6Memory`
the way the cocotb bench drives it: offered in its core cycle (held and retried when
refused), polled either every cycle or only at the cycles :meth:`next_due` names. The
reference submits the same stream to a bare :class:`DramModel` at the DRAM cycles the
agent accepted it and converts each completion cycle ``d`` to the first core cycle ``c``
with ``to_dram(c) > d``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from colsim.config import tiny_hardware
from colsim.models.spec import FfnLayer
from colsim.sim.dram.model import DramModel
from colsim.testbench.ffn_case import CosimSpec
from colsim.testbench.ffn_memory import Gddr6Memory


def _stream(seed: int, count: int = 300) -> list[tuple[int, int, bool]]:
    """Return (arrival core cycle, address, is_write) with bursts and long gaps."""
    rng = random.Random(seed)
    cycle, out = 0, []
    for _ in range(count):
        cycle += rng.choice([0, 1, 1, 1, 2, 7, 40])
        out.append((cycle, rng.randrange(1 << 22) & ~63, rng.random() < 0.3))
    return out


def _run_agent(memory: Gddr6Memory, stream, *, every_cycle: bool):
    """Drive ``memory`` like the bench (one offer per core cycle); return ({tag: due core
    cycle}, {tag: accepted core cycle})."""
    due, accepted, pending, cycle = {}, {}, list(enumerate(stream)), 0
    wake = 0
    while pending or memory.next_due(cycle) is not None:
        if every_cycle or cycle >= wake or (pending and pending[0][1][0] <= cycle):
            for tag in memory.pop_due(cycle):
                due[tag] = cycle
            if pending and pending[0][1][0] <= cycle:  # one request per core cycle
                tag, (_, addr, write) = pending[0]
                if memory.offer(addr, write, tag, cycle):  # refused: retried next cycle
                    accepted[tag] = cycle
                    pending.pop(0)
            wake = memory.next_due(cycle) or cycle + 1
            if pending:
                wake = min(wake, max(pending[0][1][0], cycle + 1))
        cycle += 1
    return due, accepted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_due_cycles_match_the_dram_model(seed):
    spec = CosimSpec(tiny_hardware(), FfnLayer("tiny", 8, 16, 64, False), np.ones(64, bool))
    stream = _stream(seed)
    polled, accepted = _run_agent(Gddr6Memory(spec.hw.dram_config, 800.0), stream, every_cycle=True)
    lazy, _ = _run_agent(Gddr6Memory(spec.hw.dram_config, 800.0), stream, every_cycle=False)
    assert lazy == polled  # sleeping until next_due answers at the same cycles

    reference = Gddr6Memory(spec.hw.dram_config, 800.0)  # only for its clock ratio
    model, last = DramModel(spec.hw.dram_config), -1
    for tag, (_, addr, write) in enumerate(stream):
        dram_cycle = max(reference.ratio.to_dram(accepted[tag]), last + 1, model.cycle)
        assert model.submit(addr, write, dram_cycle, tag)
        last = dram_cycle
    expected = {}
    for done in model.drain():  # the first core cycle c with to_dram(c) > done.cycle
        core = reference.ratio.to_core(done.cycle)
        while reference.ratio.to_dram(core) <= done.cycle:
            core += 1
        expected[done.tag] = core
    assert polled == expected
