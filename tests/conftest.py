"""Suite-wide options: ``--full`` runs every slow case; by default one sample of each."""

from __future__ import annotations

import pytest


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
