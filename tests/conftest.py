"""Suite-wide options and fixtures.

``--full`` runs every slow case; by default one sample of each slow test function runs.

A block's spec (``tests/hw/test_<block>.py``) is one test body over its case table that
calls the ``run`` fixture: the module names a runner per implementation in ``RUNNERS``
(``case, tmp_path -> what the implementation returned``), and ``run`` hands the test each of
them in turn, so every case runs on the reference model, the Amaranth simulator and
Verilator.
"""

from __future__ import annotations

import pytest

IMPLEMENTATIONS = (
    pytest.param("model", id="model"),
    pytest.param("amaranth", id="amaranth"),
    pytest.param("verilator", id="verilator", marks=(pytest.mark.slow, pytest.mark.cocotb)),
)
"""The reference model, the Amaranth simulator and Verilator through cocotb (slow: each
spec runs one Verilator case by default, the first of its table, and all with ``--full``)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run every case marked slow (default: the first case of each slow test function)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the first slow case of each test function and skip the rest, and skip the tests
    marked ``full``, unless ``--full``."""
    if config.getoption("--full"):
        return
    sampled: set[tuple[str, str]] = set()
    skip = pytest.mark.skip(reason="slow case outside the default sample; run with --full")
    for item in items:
        if item.get_closest_marker("full") is not None:
            item.add_marker(pytest.mark.skip(reason="runs with --full only"))
            continue
        if item.get_closest_marker("slow") is None:
            continue
        key = (str(item.path), getattr(item, "originalname", item.name))
        if key in sampled:
            item.add_marker(skip)
        else:
            sampled.add(key)


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> str:
    """Name the implementation a spec runs on: ``model``, ``amaranth`` or ``verilator``."""
    return request.param


@pytest.fixture
def run(implementation: str, request: pytest.FixtureRequest):
    """Return the test module's runner (``RUNNERS``) of the implementation under test."""
    return request.module.RUNNERS[implementation]
