"""The FFN top's DRAM port: a request stream out and a response stream in.

:class:`DramPort` is the one signature of that port, shared by the top (its ``o_req`` /
``i_resp`` ports), the DMA engine that drives it, the co-simulation bench that decodes the
requests and encodes the responses, and every test that drives it.

* ``o_req``: stream of {``addr`` (DRAM byte address), ``write``, ``tag``, ``data`` (the write
  beat), ``strobe`` (its byte enables)}; ``valid`` never waits on ``ready``.
* ``i_resp``: stream of {``tag``, ``data`` (read data)}, one beat per completed transaction,
  in any order; the top always accepts it (``ready`` is high).

The tag (:meth:`DramPort.tag_layout`) names the in-flight entry of the transfer and where the
beat's data goes on chip (:mod:`colsim.hw.onchip`); the memory returns it unchanged. With DMA
requests of several transactions under a cap (:func:`~colsim.hw.request_cap.request_slots`)
the request also has ``first`` (the transaction opens its transfer) and the tag ``slot`` (the
request's slot in the DMA port's table, written by the port).
"""

from __future__ import annotations

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.config import HardwareConfig
from colsim.hw.ffn_datapath import ELEMENT
from colsim.hw.program import program_format
from colsim.hw.request_cap import request_slots, slot_bits

REQUEST, RESPONSE = "o_req", "i_resp"  # the port names (the bench drives them by name)


class DramPort(wiring.Signature):
    """The DRAM port of a top built for ``hw`` (see the module docstring), as the top sees it."""

    def __init__(self, hw: HardwareConfig) -> None:
        if not isinstance(hw, HardwareConfig):
            raise TypeError(f"`hw` must be a HardwareConfig, not {hw!r}")
        fmt = program_format(hw)
        beat = fmt.geometry.elements * ELEMENT
        slots = request_slots(hw)
        self._tag = data.StructLayout({
            "entry": hw.dma.tag_bits, "dest": 2, "row": fmt.row_bits,
            "mask": fmt.geometry.segments, "lane": fmt.lane_bits, "width": fmt.width_bits,
            **({"slot": slot_bits(slots)} if slots else {}),
        })
        self._request = data.StructLayout({
            "addr": hw.sequencer.address_bits, "write": 1, "tag": self._tag,
            "data": beat, "strobe": beat // 8, **({"first": 1} if slots else {}),
        })
        self._response = data.StructLayout({"tag": self._tag, "data": beat})
        self._fields = tuple((name, field.offset, (1 << field.width) - 1)
                             for name, field in self._request)
        super().__init__({REQUEST: Out(stream.Signature(self._request)),
                          RESPONSE: In(stream.Signature(self._response))})

    @property
    def tag_layout(self) -> data.StructLayout:
        """The request tag: in-flight entry and where the beat's data goes on chip."""
        return self._tag

    @property
    def request_layout(self) -> data.StructLayout:
        """The payload of ``o_req``."""
        return self._request

    @property
    def response_layout(self) -> data.StructLayout:
        """The payload of ``i_resp``."""
        return self._response

    def decode_request(self, word: int) -> dict[str, int]:
        """Return the fields of a request payload packed into the integer ``word``."""
        return {name: (word >> offset) & mask for name, offset, mask in self._fields}

    def encode_response(self, tag: int, beat: int) -> int:
        """Return the response payload carrying ``tag`` (packed) and ``beat`` as an integer."""
        layout = self._response
        return (tag << layout["tag"].offset) | (beat << layout["data"].offset)

    def __eq__(self, other):
        return (isinstance(other, DramPort) and self._request == other._request
                and self._response == other._response)

    def __repr__(self) -> str:
        return f"DramPort({self._request!r}, {self._response!r})"
