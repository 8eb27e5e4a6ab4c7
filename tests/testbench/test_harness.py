"""The Verilator harness around a block: pass-through ports, program memories (and their
depth), toggled streams and the wake alarm build clean; bad depths are one clear error."""

from __future__ import annotations

import subprocess

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from colsim.errors import ColsimError
from colsim.hw.verilog import port_list, to_verilog
from colsim.testbench.ffn_case import MIN_PROGRAM_DEPTH, STREAMS, top_harness
from colsim.testbench.harness import Harness, harness_verilog
from colsim.toolchain import verilator_environment, verilator_executable


class _Echo(wiring.Component):
    """A stream in, its payload registered out (enough ports for a wrapper)."""

    def __init__(self) -> None:
        super().__init__({"i_word": In(stream.Signature(12)), "o_word": Out(12)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i_word.ready.eq(1)
        with m.If(self.i_word.valid):
            m.d.sync += self.o_word.eq(self.i_word.payload)
        return m


class _Program:
    """Stands in for a compiled program: only its words' counts matter here."""

    def __init__(self, **lengths: int) -> None:
        self.lengths = lengths

    def words(self) -> dict[str, list[int]]:
        return {name: [0] * self.lengths.get(name, 0) for name in STREAMS}


def test_top_harness_rounds_programs_up_to_a_power_of_two():
    assert top_harness() == Harness(
        programs=tuple((f"i_{name}", MIN_PROGRAM_DEPTH) for name in STREAMS),
        toggled=("i_resp",), wake=("o_req__valid",))
    longest = MIN_PROGRAM_DEPTH + 1
    depths = dict(top_harness([_Program(dma=10), _Program(array=longest)]).programs)
    assert set(depths.values()) == {2 * MIN_PROGRAM_DEPTH}
    depths = dict(top_harness([_Program(dma=2 * MIN_PROGRAM_DEPTH)]).programs)
    assert depths["i_dma"] == 2 * MIN_PROGRAM_DEPTH


@pytest.mark.parametrize("harness", [Harness(), Harness(programs=(("i_word", 8),)),
                                     Harness(toggled=("i_word",)), Harness(wake=("o_word[0]",))],
                         ids=["ports", "program", "toggled", "wake"])
def test_wrapper_builds_clean(tmp_path, harness):
    component = _Echo()
    ports = port_list(component)
    verilog = harness_verilog(to_verilog(component, "echo_core"), "echo", ports, harness)
    path = tmp_path / "echo.v"
    path.write_text(verilog)
    # The warnings the bench's Verilator build stops on (its defaults, not -Wall: the
    # harness's program memory is written through VPI, so it looks undriven to a linter).
    result = subprocess.run([str(verilator_executable()), "--lint-only", "--top-module", "echo",
                             str(path)], capture_output=True, text=True,
                            env=verilator_environment())
    assert result.returncode == 0 and "%Warning" not in result.stderr, result.stderr
    start = verilog.index("module echo (")
    header = verilog[start:verilog.index(");", start)]
    if harness.programs:  # the stream is fed inside: its count and the restart are inputs
        assert "i_word__valid" not in header and "i_word__payload" not in header
        assert "input wire [3:0] i_word__count" in header and "program_restart" in header
        assert "reg [11:0] i_word__program [0:7];" in verilog
    elif harness.toggled:  # valid is made from the toggle; the payload is still a port
        assert "i_word__valid" not in header and "input wire i_word__toggle" in header
        assert "input wire [11:0] i_word__payload" in header
    elif harness.wake:  # the alarm's inputs and the wake output join the ports
        assert "input wire [31:0] alarm_at" in header and "output wire wake" in header
        assert "input wire i_word__valid" in header
    else:
        assert "input wire i_word__valid" in header
        assert "input wire [11:0] i_word__payload" in header


def test_program_depth_must_be_a_power_of_two():
    component = _Echo()
    with pytest.raises(ColsimError, match="power of two >= 2, not 6"):
        harness_verilog(to_verilog(component, "echo_core"), "echo", port_list(component),
                        Harness(programs=(("i_word", 6),)))
