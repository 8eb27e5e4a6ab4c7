"""Fuzz the hardware TOML and the DRAM TOML schema: any generated pair of files either loads
and simulates a tiny layer to completion within a bounded time, or is refused with one line.

Each example changes a few keys of the reference files (zero, negative, halved, doubled,
NaN, infinite, a wrong type, another choice); the default run tries 60 examples (about a
quarter of them load and simulate), ``--full`` 1000.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colsim.config import load_hardware_config, reference_hardware
from colsim.config.loader import to_mapping
from colsim.errors import ColsimError
from colsim.models.spec import FfnLayer, WorkloadSpec
from colsim.sim.dram import DramConfig
from colsim.sim.fast.workload import WorkloadRun, simulate_workload

SPEC = WorkloadSpec("fuzz", "pure", "test", (FfnLayer("l", 8, 16, 64, False),), "fuzz layer")
SECONDS = 60.0  # a generous bound on one load and simulation on a loaded machine
CHOICES = {"controller.refresh": ["all-bank", "per-bank", "off", "sometimes"],
           "dram.preset": ["gddr6", "hbm2", "ddr9"]}


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


HARDWARE = {k: v for k, v in _flatten(to_mapping(reference_hardware())).items()
            if k not in ("dram.file",)}
DRAM = _flatten(to_mapping(DramConfig()))


def _variants(key: str, value: Any) -> list[Any]:
    """Return the values a key may take in an example: its default first."""
    if key in CHOICES:
        return CHOICES[key]
    if isinstance(value, bool):
        return [value, not value, 1]
    if isinstance(value, int):
        return [value, 0, -1, max(1, value // 2), value * 2, value + 1, "x", 1.5]
    if isinstance(value, float):
        return [value, 0.0, -1.0, value / 2, value * 2, math.nan, math.inf, "x"]
    if isinstance(value, list):
        return [value, value[::-1], value[:-1]]
    return [value, ""]


def _changes(defaults: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.lists(st.sampled_from(sorted(defaults)), max_size=4, unique=True)
    return keys.flatmap(lambda chosen: st.fixed_dictionaries(
        {key: st.sampled_from(_variants(key, defaults[key])) for key in chosen}))


def _toml(flat: dict[str, Any]) -> str:
    """Return ``flat`` (dotted keys) as TOML text, one table per prefix."""
    tables: dict[str, list[str]] = {}
    for dotted, value in flat.items():
        table, _, key = dotted.rpartition(".")
        tables.setdefault(table, []).append(f"{key} = {_toml_value(value)}")
    text = "\n".join(tables.pop("", []))
    return text + "".join(f"\n[{name}]\n" + "\n".join(lines) for name, lines in tables.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def check_config(hardware: dict[str, Any], dram: dict[str, Any]) -> None:
    """Load the changed files and simulate the tiny layer, or expect a one-line refusal."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "dram.toml").write_text(_toml(dram))
        path = Path(folder) / "hw.toml"
        path.write_text(_toml({**hardware, "dram.file": "dram.toml"}))
        started = time.perf_counter()
        try:
            hw = load_hardware_config(path)
            result = simulate_workload(
                WorkloadRun(spec=SPEC, hw=hw, iterations=2))
        except ColsimError as exc:
            message = str(exc)
            assert message and "\n" not in message, repr(message)
            return
        assert result.total().cycles > 0
        assert time.perf_counter() - started < SECONDS


FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=60, **FUZZ)
@given(hardware=_changes(HARDWARE), dram=_changes(DRAM))
def test_any_config_simulates_or_is_refused_with_one_line(hardware, dram) -> None:
    check_config(hardware, dram)


@pytest.mark.full
@settings(max_examples=1000, **FUZZ)
@given(hardware=_changes(HARDWARE), dram=_changes(DRAM))
def test_many_configs_simulate_or_are_refused_with_one_line(hardware, dram) -> None:
    check_config(hardware, dram)
