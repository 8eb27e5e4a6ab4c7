"""Sparse backing store of the DRAM contents, with backdoor access for testbenches."""

from __future__ import annotations

from colsim.errors import ColsimError


class BackingStore:
    """Byte-addressed memory that only allocates the blocks ever written.

    Untouched bytes read as ``fill``. ``backdoor_read`` / ``backdoor_write`` bypass the
    timing model entirely (preloading weights, checking results).
    """

    def __init__(self, capacity_bytes: int, *, block_bytes: int = 4096, fill: int = 0) -> None:
        if not 0 <= fill <= 255:
            raise ColsimError(f"`fill` must be a byte value, not {fill}")
        self.capacity_bytes = capacity_bytes
        self.block_bytes = block_bytes
        self.fill = fill
        self._blocks: dict[int, bytearray] = {}

    def _check(self, addr: int, length: int) -> None:
        """Raise unless ``length`` bytes at ``addr`` lie inside the memory."""
        if addr < 0 or length < 0 or addr + length > self.capacity_bytes:
            raise ColsimError(
                f"access of {length} bytes at {addr:#x} is outside the memory of "
                f"{self.capacity_bytes:#x} bytes"
            )

    def _spans(self, addr: int, length: int):
        """Yield ``(block, offset, size)`` pieces covering ``length`` bytes at ``addr``."""
        end = addr + length
        while addr < end:
            block, offset = divmod(addr, self.block_bytes)
            size = min(self.block_bytes - offset, end - addr)
            yield block, offset, size
            addr += size

    def backdoor_write(self, addr: int, data: bytes) -> None:
        """Store ``data`` at ``addr`` immediately."""
        self._check(addr, len(data))
        done = 0
        for block, offset, size in self._spans(addr, len(data)):
            buf = self._blocks.setdefault(block, bytearray([self.fill]) * self.block_bytes)
            buf[offset : offset + size] = data[done : done + size]
            done += size

    def backdoor_read(self, addr: int, length: int) -> bytes:
        """Return ``length`` bytes at ``addr`` immediately."""
        self._check(addr, length)
        out = bytearray()
        for block, offset, size in self._spans(addr, length):
            buf = self._blocks.get(block)
            out += bytes([self.fill]) * size if buf is None else buf[offset : offset + size]
        return bytes(out)
