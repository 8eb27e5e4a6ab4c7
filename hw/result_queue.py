"""The result queue of the FFN top: finished tiles handed from the array to the SIMD engine.

A ring of ``depth`` entries, each holding the (one or two) tiles of one SIMD op in the
:class:`~colsim.hw.ffn_datapath.TileStore`. The array engine ``claim``s the tail entry in
the cycle it accepts the last step of a tile (its ``part``; ``emits`` when the tile
completes the entry), which it may only do while the tail entry is free (``room``); a small
FIFO of claims (at most :data:`CLAIMS` tiles between their last step and their last row)
names the entry and part the draining rows go to (``drain``), and a tile's last row pops
it (``drained``). The array's ``push`` (the op ending the entry's last tile) hands the tail
entry to the SIMD engine; ``due`` says the head entry's tiles have all drained and the
SIMD engine's ``pop`` frees it. Every change is visible from the next cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from colsim.hw.ffn_datapath import drain_signature, equals, select

CLAIMS = 4  # tiles between their last step and their last row (the array holds at most 2)


def pointer_bits(depth: int) -> int:
    """Return the width of an entry index of a ``depth``-entry queue."""
    return max(1, (depth - 1).bit_length())


def claim_signature() -> wiring.Signature:
    """Return the array engine's port of the queue, as the array engine sees it."""
    return wiring.Signature({"claim": Out(1), "part": Out(1), "emits": Out(1), "push": Out(1),
                             "room": In(1)})


def pop_signature(depth: int) -> wiring.Signature:
    """Return the SIMD engine's port of the queue, as the SIMD engine sees it."""
    return wiring.Signature({"pop": Out(1), "due": In(1), "head": In(pointer_bits(depth))})


class ResultQueue(wiring.Component):
    """The result queue's bookkeeping (see the module docstring).

    Ports: ``start`` (empties it), ``array`` (:func:`claim_signature`), ``simd``
    (:func:`pop_signature`), ``drain`` (:func:`~colsim.hw.ffn_datapath.drain_signature`).
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        super().__init__({"start": In(1), "array": In(claim_signature()),
                          "simd": In(pop_signature(depth)),
                          "drain": Out(drain_signature(depth))})

    def elaborate(self, platform):
        m = Module()
        depth, bits = self.depth, pointer_bits(self.depth)
        array, simd, drain = self.array, self.simd, self.drain
        head, tail = simd.head, Signal(bits, name="tail")
        count = Signal(range(depth + 1), name="count")
        complete = Signal(depth, name="complete")
        claims = [Signal(bits + 2, name=f"claim_{i}") for i in range(CLAIMS)]
        claim_count = Signal(range(CLAIMS + 1), name="claim_count")
        front = claims[0]
        m.d.comb += [drain.entry.eq(front[:bits]), drain.part.eq(front[bits]),
                     array.room.eq(~equals(count, depth)),
                     simd.due.eq(count.any() & select(list(complete), head))]

        def advance(pointer):
            return Mux(equals(pointer, depth - 1), 0, pointer + 1)

        entry_done = Signal(depth)
        for e in range(depth):
            m.d.comb += entry_done[e].eq(drain.drained & front[bits + 1]
                                         & equals(drain.entry, e))
        freed = Signal(depth)
        for e in range(depth):
            m.d.comb += freed[e].eq(simd.pop & equals(head, e))
        incoming = Cat(tail, array.part, array.emits)
        with m.If(self.start):
            m.d.sync += [head.eq(0), tail.eq(0), count.eq(0), complete.eq(0),
                         claim_count.eq(0)]
        with m.Else():
            m.d.sync += complete.eq((complete | entry_done) & ~freed)
            with m.If(array.push):
                m.d.sync += tail.eq(advance(tail))
            with m.If(simd.pop):
                m.d.sync += head.eq(advance(head))
            with m.If(array.push & ~simd.pop):
                m.d.sync += count.eq(count + 1)
            with m.Elif(simd.pop & ~array.push):
                m.d.sync += count.eq(count - 1)
            # Claim FIFO: shift out on ``drained``, append on ``claim``.
            position = Signal(range(CLAIMS + 1), name="claim_position")
            m.d.comb += position.eq(claim_count - drain.drained)
            for i in range(CLAIMS):
                shifted = claims[i + 1] if i + 1 < CLAIMS else claims[i]
                with m.If(array.claim & equals(position, i)):
                    m.d.sync += claims[i].eq(incoming)
                with m.Elif(drain.drained):
                    m.d.sync += claims[i].eq(shifted)
            m.d.sync += claim_count.eq(claim_count + array.claim - drain.drained)
        return m
