"""The Verilog harness a block is compiled in for its cocotb bench (Verilator).

:func:`harness_verilog` puts a module named after the block around its generated core
(``<module>_core``). With an empty :class:`Harness` it only passes the core's ports through
(cocotb then sees ports only: see :class:`~colsim.testbench.runner.PortsOnlyVerilator`).
A harness can also take per-cycle work off the bench's Python side:

* **program memories** (``programs``: ``(port, depth)`` pairs, depth a power of two): the
  input stream ``port`` is fed from ``<port>__program`` (``depth`` payload words, written
  by the bench through VPI, no simulated time) instead of the bench. Inputs
  ``<port>__count`` (words to send) and one ``program_restart``: while it is high the
  streams offer nothing, and at a rising edge with it high every stream rewinds to word 0.
  After that a stream offers its words in order, back to back, as its ``ready`` allows.
* **toggled streams** (``toggled``: input streams the core always accepts): an input
  ``<port>__toggle`` replaces ``valid``; every change of it offers ``payload`` for one
  rising edge, so a bench writes once per beat and never has to lower ``valid``.
* **wake** (``wake``: output bits of the core): an output ``wake``, high while any of them
  is or while the alarm rings (``harness_cycle``, rising edges since reset, equals the
  input ``alarm_at`` and ``alarm_on`` is high). A bench sleeps on one edge of ``wake``
  instead of on the first of a signal's edge and a timer (two tasks in cocotb).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from colsim.errors import ColsimError

ALARM_BITS = 32  # the harness's cycle counter (2^32 cycles: hours of simulation)


@dataclass(frozen=True)
class Harness:
    """What the harness around a block adds (see the module docstring)."""

    programs: tuple[tuple[str, int], ...] = ()
    toggled: tuple[str, ...] = ()
    wake: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the harness as plain values (part of the build folder's key)."""
        return {"programs": dict(sorted(self.programs)), "toggled": sorted(self.toggled),
                "wake": sorted(self.wake)}


def harness_verilog(verilog: str, module: str, ports: list[dict[str, Any]],
                    harness: Harness | None = None) -> str:
    """Return ``verilog`` (module ``<module>_core``, ``ports`` as :func:`port_list` gives
    them) plus the harness module ``module`` around it."""
    harness = harness or Harness()
    widths = {p["name"]: p["width"] for p in ports}
    replaced = {f"{name}__{member}" for name, _ in harness.programs
                for member in ("valid", "payload", "ready")}
    replaced |= {f"{name}__valid" for name in harness.toggled}
    outer = [p for p in ports if p["name"] not in replaced]
    body: list[str] = []
    for name in harness.toggled:
        _add(outer, body, *_toggled_stream(name))
    for name, depth in harness.programs:
        _add(outer, body, *_program_feeder(name, depth, widths[f"{name}__payload"]))
    if harness.programs:
        outer.append(_port("program_restart", "in", 1))
    if harness.wake:
        _add(outer, body, *_alarm(harness.wake))
    declarations = ",\n".join(_declaration(p) for p in outer)
    connections = ", ".join(f".{p['name']}({p['name']})" for p in ports)
    lines = "".join(f"  {line}\n" for line in body)
    return (f"{verilog}\nmodule {module} (\n{declarations}\n);\n{lines}"
            f"  {module}_core core ({connections});\nendmodule\n")


def _toggled_stream(name: str) -> tuple[list[dict], list[str]]:
    """Return the ports and lines of a stream whose ``valid`` is one cycle per toggle."""
    return [_port(f"{name}__toggle", "in", 1)], [
        f"reg {name}__toggled;",
        f"wire {name}__valid = {name}__toggle ^ {name}__toggled;",
        f"always @(posedge clk) {name}__toggled <= ~rst & {name}__toggle;",
    ]


def _program_feeder(name: str, depth: int, width: int) -> tuple[list[dict], list[str]]:
    """Return the ports and lines of a stream fed from a ``depth``-word program memory."""
    bits = log2_depth(depth)
    return [_port(f"{name}__count", "in", bits + 1)], [
        f"reg [{width - 1}:0] {name}__program [0:{depth - 1}];",
        f"reg [{bits}:0] {name}__next;",
        f"wire {name}__ready;",
        f"wire {name}__valid = ~program_restart & ({name}__next < {name}__count);",
        f"wire [{width - 1}:0] {name}__payload = {name}__program[{name}__next[{bits - 1}:0]];",
        "always @(posedge clk)",
        f"  if (rst | program_restart) {name}__next <= {bits + 1}'d0;",
        f"  else if ({name}__valid & {name}__ready) {name}__next <= {name}__next + 1'b1;",
    ]


def _alarm(wake: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """Return the ports and lines of the cycle counter, its alarm and ``wake``."""
    ports = [_port("alarm_at", "in", ALARM_BITS), _port("alarm_on", "in", 1),
             _port("wake", "out", 1)]
    return ports, [
        f"reg [{ALARM_BITS - 1}:0] harness_cycle;",
        f"always @(posedge clk) harness_cycle <= rst ? {ALARM_BITS}'d0 : harness_cycle + 1'b1;",
        f"assign wake = (alarm_on & (harness_cycle == alarm_at)) | {' | '.join(wake)};",
    ]


def log2_depth(depth: int) -> int:
    """Return log2 of a program memory depth (a power of two, at least 2)."""
    if depth < 2 or depth & (depth - 1):
        raise ColsimError(f"a program memory's depth must be a power of two >= 2, not {depth}")
    return depth.bit_length() - 1


def _add(outer: list[dict], body: list[str], ports: list[dict], lines: list[str]) -> None:
    outer += ports
    body += lines


def _port(name: str, direction: str, width: int) -> dict[str, Any]:
    return {"name": name, "direction": direction, "width": width}


def _declaration(port: dict[str, Any]) -> str:
    direction = "input" if port["direction"] == "in" else "output"
    width = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
    return f"  {direction} wire {width}{port['name']}"
