"""Channel interleaver: the DMA's requests onto ``dma.channels`` of the DRAM's channels.

Behaviour is that of :meth:`colsim.hw.interleave_model.Interleave.physical` (read the model's
docstring): the request's ``addr`` becomes the DRAM address of the accelerator address it
names; every other payload field passes unchanged.

Ports: ``i_req`` (stream of the caller's request layout, which has an ``addr`` field) and
``o_req`` (the same layout, translated). Timing: none — the translation is combinational
(``o_req.valid`` is ``i_req.valid``, ``i_req.ready`` is ``o_req.ready``), so the port's
timing is the DMA engine's. The division by ``below·used`` (6 GDDR6 channels: a non-power
of two) is a multiplication by its exact reciprocal (:func:`colsim.hw.remap_model.reciprocal`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.compat import silence_unused
from colsim.errors import ConfigError
from colsim.hw.interleave_model import Interleave
from colsim.hw.remap_model import reciprocal


class ChannelInterleaver(wiring.Component):
    """Translate the ``addr`` of each request of ``layout`` by ``interleave``."""

    def __init__(self, interleave: Interleave, layout: data.StructLayout) -> None:
        if not isinstance(interleave, Interleave):
            raise TypeError(f"`interleave` must be an Interleave, not {interleave!r}")
        if "addr" not in dict(layout.members):
            raise TypeError(f"`layout` must have an `addr` field, not {layout!r}")
        try:
            check_interleave(interleave)
        except ConfigError:
            silence_unused(self)  # never built, so never "unused"
            raise
        self._interleave = interleave
        super().__init__({"i_req": In(stream.Signature(layout)),
                          "o_req": Out(stream.Signature(layout))})

    @property
    def interleave(self) -> Interleave:
        """The translation this block computes."""
        return self._interleave

    def elaborate(self, platform):
        m = Module()
        source, sink = self.i_req, self.o_req
        m.d.comb += [sink.valid.eq(source.valid), source.ready.eq(sink.ready),
                     sink.payload.eq(source.payload)]
        if self._interleave.identity:
            return m

        # --- Transaction index t and offset; t = high·(below·used) + low ------------------
        spec = self._interleave
        address = source.payload.addr
        shift = (spec.transaction_bytes - 1).bit_length()
        t = address[shift:]
        group, physical_group = spec.below * spec.used, spec.below * spec.channels
        high = Signal(len(t), name="high")
        low = Signal(len(t), name="low")
        if group & (group - 1) == 0:  # a power of two: bit fields
            bits = (group - 1).bit_length()
            m.d.comb += [high.eq(t[bits:]), low.eq(t[:bits])]
        else:
            multiplier, product_shift = reciprocal(group, len(t))
            m.d.comb += high.eq((t * multiplier) >> product_shift)
            m.d.comb += low.eq(t - high * group)

        # --- Physical index p = high·(below·channels) + low, offset kept ----------------
        physical = Signal(len(t), name="physical")
        m.d.comb += physical.eq(high * physical_group + low)
        m.d.comb += sink.payload.addr.eq(Cat(address[:shift], physical))
        return m


def check_interleave(interleave: Interleave) -> None:
    """Raise ``ConfigError`` unless the RTL computes ``interleave`` (its transaction size
    must be a power of two: the offset is a bit field)."""
    size = interleave.transaction_bytes
    if size & (size - 1):
        raise ConfigError(f"the DRAM's `transaction_bytes` must be a power of two for the "
                          f"channel interleaver, not {size}")
