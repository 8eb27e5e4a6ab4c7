"""Channel interleaver: the DMA's requests onto ``dma.channels`` of the DRAM's channels.

Behaviour is that of :meth:`colsim.hw.interleave_model.Interleave.physical` (read the model's
docstring: a block's transactions gathered into consecutive columns, then the channels):
the request's ``addr`` becomes the DRAM address of the accelerator address it names; every
other payload field passes unchanged.

Ports: ``i_req`` (stream of the caller's request layout, which has an ``addr`` field) and
``o_req`` (the same layout, translated). Timing: none — the translation is combinational
(``o_req.valid`` is ``i_req.valid``, ``i_req.ready`` is ``o_req.ready``), so the port's
timing is the DMA engine's. A division by a non-power of two (``below·used`` or ``gather``
with 6 GDDR6 channels) is a multiplication by its exact reciprocal
(:func:`colsim.hw.remap_model.reciprocal`).
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
        check_interleave(interleave, self)
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
        spec = self._interleave
        address = source.payload.addr
        shift = (spec.transaction_bytes - 1).bit_length()
        t = address[shift:]

        # --- Gather: t = r·k + o -> u = (k·(r // gather) + o)·gather + r % gather ---------
        u = t
        if spec.burst > 1:
            burst_bits = (spec.burst - 1).bit_length()
            hi, lo = _divmod(m, t[burst_bits:], spec.gather, "block")
            u = Signal(len(t), name="gathered")
            m.d.comb += u.eq(Cat(t[:burst_bits], hi) * spec.gather + lo)

        # --- Channels: u = high·(below·used) + low -> high·(below·channels) + low --------
        physical = u
        if spec.used != spec.channels:
            high, low = _divmod(m, u, spec.below * spec.used, "channel")
            physical = Signal(len(t), name="physical")
            m.d.comb += physical.eq(high * (spec.below * spec.channels) + low)
        m.d.comb += sink.payload.addr.eq(Cat(address[:shift], physical))
        return m


def _divmod(m: Module, value, divisor: int, name: str) -> tuple[Signal, Signal]:
    """Return signals of ``value // divisor`` and ``value % divisor`` (bit fields for a power
    of two, else a multiplication by the exact reciprocal)."""
    quotient = Signal(len(value), name=f"{name}_high")
    remainder = Signal(len(value), name=f"{name}_low")
    if divisor & (divisor - 1) == 0:
        bits = (divisor - 1).bit_length()
        m.d.comb += [quotient.eq(value[bits:]), remainder.eq(value[:bits])]
    else:
        multiplier, product_shift = reciprocal(divisor, len(value))
        m.d.comb += [quotient.eq((value * multiplier) >> product_shift),
                     remainder.eq(value - quotient * divisor)]
    return quotient, remainder


def check_interleave(interleave: Interleave, component: object) -> None:
    """Raise ``ConfigError`` unless the RTL computes ``interleave`` (its transaction size
    must be a power of two: the offset is a bit field); ``component``, the one being
    constructed, is then never built, so Amaranth is told it is not "unused"."""
    size = interleave.transaction_bytes
    if size & (size - 1):
        silence_unused(component)
        raise ConfigError(f"the DRAM's `transaction_bytes` must be a power of two for the "
                          f"channel interleaver, not {size}")
