"""Stream drivers for Amaranth-simulator unit tests of every block.

``stream_put`` / ``stream_get`` move one payload through a ``stream.Signature`` port;
``drive`` and ``collect`` run a whole sequence with idle cycles and back-pressure drawn from
a seeded random generator (probability ``stall`` per cycle), so every test exercises
``valid`` gaps and ``ready`` gaps. Waveforms are written when ``COLSIM_WAVES`` names a folder.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from amaranth.sim import Simulator


async def stream_put(ctx, stream, payload: Any) -> None:
    """Offer ``payload`` on ``stream`` until it is accepted (valid does not wait on ready)."""
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream) -> Any:
    """Assert ready until one payload is transferred; return it."""
    ctx.set(stream.ready, 1)
    (payload,) = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


async def drive(ctx, stream, payloads: Iterable[Any], *, rng: random.Random, stall: float):
    """Send every payload in order, idling a random number of cycles before each."""
    for payload in payloads:
        while rng.random() < stall:
            await ctx.tick()
        await stream_put(ctx, stream, payload)


async def collect(ctx, stream, count: int, *, rng: random.Random, stall: float) -> list[Any]:
    """Receive ``count`` payloads, withholding ready on random cycles."""
    received = []
    while len(received) < count:
        while rng.random() < stall:
            await ctx.tick()
        received.append(await stream_get(ctx, stream))
    return received


@contextmanager
def simulation(dut, name: str):
    """Yield a Simulator for ``dut`` with a clock; write ``$COLSIM_WAVES/<name>.vcd`` if set."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    waves = os.environ.get("COLSIM_WAVES")
    if waves:
        Path(waves).mkdir(parents=True, exist_ok=True)
        with sim.write_vcd(str(Path(waves) / f"{name}.vcd")):
            yield sim
    else:
        yield sim
