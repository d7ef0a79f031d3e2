from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.mongo",
    "tests.fixtures.documents",
    "tests.fixtures.engine",
]

_BROWSER = Path(__file__).parent / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in this thread once it has started, and every
    # asyncio test after it then fails ("Runner.run() cannot be called from a running event loop"): the
    # browser tests run last. The sort is stable, so every other test keeps its order.
    items.sort(key=lambda item: _BROWSER in item.path.parents)
