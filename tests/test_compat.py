"""colsim.compat: every private dependency name it lists exists in the installed versions."""

from __future__ import annotations

import gc
import inspect
import warnings

import numpy as np
import pytest

from colsim import compat
from colsim.toolchain import verilator_root


def test_numba_accepts_the_option_without_runtime() -> None:
    from numba import njit  # an unknown njit option raises KeyError at compile time

    double = njit(**compat.NUMBA_WITHOUT_RUNTIME)(lambda a: a[0] * 2)
    assert double(np.array([21])) == 42


def test_verilated_mk_has_the_precompiled_header_variable() -> None:
    makefile = verilator_root() / "include" / "verilated.mk"
    assert f"$({compat.VERILATOR_PCH_INCLUDE_VARIABLE})" in makefile.read_text()


def test_cocotb_runner_adds_the_public_argument_in_its_build_command() -> None:
    from cocotb_tools.runner import Verilator

    source = inspect.getsource(Verilator._build_command)
    assert f'"{compat.COCOTB_VERILATOR_PUBLIC_ARGUMENT}"' in source


def test_editable_verilator_overrides_the_runner_build_command() -> None:
    from cocotb_tools.runner import Verilator

    runner = compat.editable_verilator()
    assert issubclass(runner, Verilator) and "_build_command" in vars(Verilator)
    assert runner._build_command is not Verilator._build_command


def test_amaranth_finds_its_yosys_with_a_run_method() -> None:
    binary = compat.find_yosys(lambda version: version >= (0, 40))
    assert "ignore_warnings" in inspect.signature(binary.run).parameters


def test_silence_unused_stops_the_unused_elaboratable_warning(monkeypatch) -> None:
    from amaranth.hdl import Elaboratable, UnusedElaboratable

    # Amaranth enables the warning class once a first design is elaborated; do that here.
    monkeypatch.setattr(UnusedElaboratable, "_MustUse__silence", False)

    class Block(Elaboratable):
        def elaborate(self, platform):
            raise AssertionError("never elaborated")

    def warnings_when_dropped(silence: bool) -> list:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            block = Block()
            if silence:
                compat.silence_unused(block)
            del block
            gc.collect()
        return [w for w in caught if issubclass(w.category, UnusedElaboratable)]

    assert len(warnings_when_dropped(False)) == 1  # the mechanism the flag switches off
    assert warnings_when_dropped(True) == []


def test_cocotb_handles_have_a_logger() -> None:
    from cocotb.handle import SimHandleBase

    assert hasattr(SimHandleBase, "_log")


def test_torch_hook_dicts_and_self_attention_block() -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, batch_first=True).eval()
    handle = layer.register_forward_hook(lambda *_: None)
    pre = layer.register_forward_pre_hook(lambda *_: None)
    assert (len(compat.forward_hooks(layer)), len(compat.forward_pre_hooks(layer))) == (1, 1)
    handle.remove()
    pre.remove()
    assert not compat.forward_hooks(layer) and not compat.forward_pre_hooks(layer)
    with torch.no_grad():
        x = torch.randn(1, 3, 8)
        assert compat.self_attention_block(layer, x).shape == x.shape


def test_numba_cache_keeps_its_index_stamp_where_key_numba_cache_sets_it(tmp_path) -> None:
    from numba import njit

    source = tmp_path / "cached.py"
    source.write_text("def one():\n    return 1\n")
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    cached = njit(cache=True)(namespace["one"])
    stamp = cached._cache._cache_file._source_stamp
    compat.key_numba_cache(cached, "sources")
    assert cached._cache._cache_file._source_stamp == (stamp, "sources")
    compat.key_numba_cache(njit(lambda: 1), "sources")  # no disk cache: nothing to key
