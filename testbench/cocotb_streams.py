"""cocotb stream source/sink for Amaranth ``stream.Signature`` ports (``<port>__valid`` ...).

Handshakes follow the rule of the RTL: a beat transfers on a rising edge where ``valid`` and
``ready`` were both high. Both sides drive right after a rising edge and sample the settled
values in ``ReadOnly``, which makes the bench independent of when the simulator evaluates the
edge. Idle cycles and back-pressure come from pause generators (``True`` = pause this cycle).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.utils import get_sim_time


def random_pauses(seed: int, probability: float) -> Iterator[bool]:
    """Yield ``True`` (pause) with ``probability`` per cycle, reproducibly from ``seed``."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def port(dut, name: str, member: str):
    """Return the handle of ``<name>__<member>`` (Amaranth's flattened port naming)."""
    return getattr(dut, f"{name}__{member}")


class StreamSource:
    """Drive beats (already packed to integers) into an input stream port."""

    def __init__(self, dut, name: str, clock, pauses: Iterator[bool]) -> None:
        self.valid, self.ready = port(dut, name, "valid"), port(dut, name, "ready")
        self.payload = port(dut, name, "payload")
        self.clock, self.pauses = clock, pauses
        self.first_transfer: int | None = None  # sim time (ps) of the cycle of the 1st transfer
        self.valid.value = 0

    def start(self, beats: Iterable[int]):
        """Start sending ``beats``; return the task (await it to wait for the last transfer)."""
        return cocotb.start_soon(self._run(list(beats)))

    async def _run(self, beats: list[int]) -> None:
        index = 0
        while index < len(beats):
            await RisingEdge(self.clock)
            offer = not next(self.pauses)
            self.valid.value = int(offer)
            if offer:
                self.payload.value = beats[index]
            await ReadOnly()
            if offer and self.ready.value:
                if self.first_transfer is None:
                    self.first_transfer = get_sim_time("ps")
                index += 1
        await RisingEdge(self.clock)
        self.valid.value = 0


class StreamSink:
    """Accept beats from an output stream port, withholding ``ready`` on paused cycles."""

    def __init__(self, dut, name: str, clock, pauses: Iterator[bool],
                 decode: Callable[[int], Any] = int) -> None:
        self.valid, self.ready = port(dut, name, "valid"), port(dut, name, "ready")
        self.payload = port(dut, name, "payload")
        self.clock, self.pauses, self.decode = clock, pauses, decode
        self.received: list[Any] = []
        self.last_transfer: int | None = None  # sim time (ps) of the cycle of the last transfer
        self.ready.value = 0

    def start(self, count: int):
        """Start receiving ``count`` beats; return the task."""
        return cocotb.start_soon(self._run(count))

    async def _run(self, count: int) -> None:
        while len(self.received) < count:
            await RisingEdge(self.clock)
            accept = not next(self.pauses)
            self.ready.value = int(accept)
            await ReadOnly()
            if accept and self.valid.value:
                self.received.append(self.decode(int(self.payload.value)))
                self.last_transfer = get_sim_time("ps")
        await RisingEdge(self.clock)
        self.ready.value = 0


def pack(values: Iterable[int], width: int) -> int:
    """Pack signed ``values`` into one integer, element 0 in the least significant bits."""
    word, mask = 0, (1 << width) - 1
    for i, value in enumerate(values):
        word |= (value & mask) << (i * width)
    return word


def unpack(word: int, width: int, count: int) -> list[int]:
    """Inverse of :func:`pack` for ``count`` signed elements."""
    out, mask, sign = [], (1 << width) - 1, 1 << (width - 1)
    for i in range(count):
        value = (word >> (i * width)) & mask
        out.append(value - (1 << width) if value & sign else value)
    return out
