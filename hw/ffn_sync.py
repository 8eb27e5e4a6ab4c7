"""What the FFN top's engines synchronise through: engine states, instruction fetch, counters.

* :class:`EngineState` — every engine is FETCH (no instruction held), GATE (holding one,
  waiting for what it needs) or RUN.
* :class:`InstructionFetch` — an engine's in-order fetch of ``count`` instructions per
  ``start`` from its instruction stream.
* :class:`SyncCounters` — per (buffer, slot) the transfers that filled it and the releases
  of it (by a completing transfer or by a finishing op), and the SIMD ops ended. The
  engines' gates compare them with the targets their instructions carry (modular counters
  of ``sequencer.sync_bits``; an event is visible from the cycle after it).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.ffn_datapath import equals

BUFFER_NAMES = ("input", "weight", "output")
INPUT, WEIGHT, OUTPUT = range(len(BUFFER_NAMES))


class EngineState(enum.Enum, shape=2):
    """An engine's state (the DMA engine's RUN issues requests)."""

    FETCH = 0
    GATE = 1
    RUN = 2


def in_state(state, member: EngineState):
    """Return ``state == member`` as an AND of bits (lint-clean Verilog for any member)."""
    return equals(state.as_value(), member.value)


def at_least(counter, target, width: int):
    """Return ``counter >= target`` for modular counters that never lag by 2**(width-1)."""
    return ~(counter - target)[width - 1]


def at_most_one(value):
    """Return ``value <= 1`` for an unsigned value."""
    return ~value[1:].any() if len(value) > 1 else Const(1, 1)


class InstructionFetch:
    """The in-order fetch of an engine's instructions (built into the engine's module).

    ``start`` rewinds it; while ``running`` it takes ``count`` instructions from ``port``
    into ``register``. :meth:`take_next` (called in the cycle an instruction ends, and in
    every FETCH cycle by :meth:`fetch`) takes the next one if offered (-> GATE), else goes
    to FETCH. ``more``: instructions remain; ``fetching``: the engine is in FETCH.
    """

    def __init__(self, m: Module, port, register, state, *, start, running, count) -> None:
        self._m, self._port, self._register, self._state = m, port, register, state
        self.taken = Signal(len(count), name="taken")
        with m.If(start):
            m.d.sync += self.taken.eq(0)
        self.more, self.fetching = Signal(name="more"), Signal(name="fetching")
        m.d.comb += self.more.eq(running & (self.taken != count))

    @property
    def idle(self):
        """Return whether the engine has taken and finished every instruction."""
        return self.fetching & ~self.more

    def take_next(self) -> None:
        """Take the next instruction if one is offered (-> GATE), else go to FETCH."""
        m, port = self._m, self._port
        m.d.comb += port.ready.eq(self.more)
        with m.If(port.valid & self.more):
            m.d.sync += [self._register.eq(port.payload), self.taken.eq(self.taken + 1),
                         self._state.eq(EngineState.GATE)]
        with m.Else():
            m.d.sync += self._state.eq(EngineState.FETCH)

    def fetch(self) -> None:
        """In FETCH: flag it and take the next instruction."""
        with self._m.If(in_state(self._state, EngineState.FETCH)):
            self._m.d.comb += self.fetching.eq(1)
            self.take_next()


def buffer_slots(hw: HardwareConfig) -> tuple[int, int, int]:
    """Return the slots of ``hw``'s input, weight and output buffers."""
    sram = hw.sram
    return (sram.input.slots, sram.weight.slots, sram.output.slots)


def engine_control(hw: HardwareConfig, instructions: str, fields) -> dict:
    """Return the ports every engine of ``hw``'s top has: its instruction stream (named
    ``instructions``, of ``fields``), ``start``, ``running``, the program length ``count``
    and the synchronisation counters ``counts`` (:func:`counts_signature`)."""
    seq = hw.sequencer
    return {instructions: In(stream.Signature(data.StructLayout(dict(fields)))),
            "start": In(1), "running": In(1), "count": In(seq.program_bits),
            "counts": In(counts_signature(buffer_slots(hw), seq.sync_bits))}


def counts_signature(slots: tuple[int, int, int], sync_bits: int) -> wiring.Signature:
    """Return the counters as :class:`SyncCounters` drives them (``filled_<buffer>``,
    ``released_<buffer>``: one per slot; ``simd_done``)."""
    members = {}
    for name, n in zip(BUFFER_NAMES, slots, strict=True):
        for kind in ("filled", "released"):
            members[f"{kind}_{name}"] = Out(data.ArrayLayout(unsigned(sync_bits), n))
    members["simd_done"] = Out(sync_bits)
    return wiring.Signature(members)


def counts_of(counts, kind: str, buffer: int) -> list:
    """Return the ``kind`` (filled / released) counters of ``buffer``, one per slot."""
    array = getattr(counts, f"{kind}_{BUFFER_NAMES[buffer]}")
    return [array[s] for s in range(array.shape().length)]


def retire_layout(slot_bits: int) -> data.StructLayout:
    """Return a transfer's retirement: it ``fill``s and/or ``release``s (buffer, slot)."""
    return data.StructLayout({"fill": 1, "release": 1, "buffer": 2, "slot": slot_bits})


def array_release_layout(slot_bits: int) -> data.StructLayout:
    """Return an array op's releases of its input (``a``) and weight (``b``) slots."""
    return data.StructLayout({"a": 1, "a_slot": slot_bits, "b": 1, "b_slot": slot_bits})


def simd_release_layout(slot_bits: int) -> data.StructLayout:
    """Return a SIMD op's release of its cold tile's output slot (``c``)."""
    return data.StructLayout({"c": 1, "c_slot": slot_bits})


class SyncCounters(wiring.Component):
    """The synchronisation counters (see the module docstring).

    Ports: ``start`` (clears them), events ``retire`` (DMA engine), ``array_release``,
    ``simd_release`` and ``simd_end`` (in the cycle an op ends), and ``counts``
    (:func:`counts_signature`), updated at the edge after each event.
    """

    def __init__(self, slots: tuple[int, int, int], *, sync_bits: int, slot_bits: int) -> None:
        self.slots, self.sync_bits = slots, sync_bits
        super().__init__({
            "start": In(1),
            "retire": In(retire_layout(slot_bits)),
            "array_release": In(array_release_layout(slot_bits)),
            "simd_release": In(simd_release_layout(slot_bits)),
            "simd_end": In(1),
            "counts": Out(counts_signature(slots, sync_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        bits = self.sync_bits
        retire = self.retire
        op_events = {INPUT: (self.array_release.a, self.array_release.a_slot),
                     WEIGHT: (self.array_release.b, self.array_release.b_slot),
                     OUTPUT: (self.simd_release.c, self.simd_release.c_slot)}
        # ``released`` = releases on completion + releases by a finishing op (two counters,
        # since both may happen in one cycle).
        for b, name in enumerate(BUFFER_NAMES):
            op, op_slot = op_events[b]
            for s in range(self.slots[b]):
                here = equals(retire.buffer, b) & equals(retire.slot, s)
                filled = Signal(bits, name=f"filled_{name}_{s}")
                by_done = Signal(bits, name=f"released_done_{name}_{s}")
                by_op = Signal(bits, name=f"released_op_{name}_{s}")
                events = ((filled, retire.fill & here), (by_done, retire.release & here),
                          (by_op, op & equals(op_slot, s)))
                for counter, event in events:
                    with m.If(self.start):
                        m.d.sync += counter.eq(0)
                    with m.Elif(event):
                        m.d.sync += counter.eq(counter + 1)
                m.d.comb += [getattr(self.counts, f"filled_{name}")[s].eq(filled),
                             getattr(self.counts, f"released_{name}")[s].eq(by_done + by_op)]
        simd_done = self.counts.simd_done
        with m.If(self.start):
            m.d.sync += simd_done.eq(0)
        with m.If(self.simd_end):
            m.d.sync += simd_done.eq(simd_done + 1)
        return m
