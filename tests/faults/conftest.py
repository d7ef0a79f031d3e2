"""The platform the fault tests break: every process on free ports, documents in SQLite unless a test says otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.documents import DocumentStore, open_store
from tests.faults.platform import Platform, running


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    async with running(tmp_path, f"sqlite:///{tmp_path / 'documents.sqlite3'}") as started:
        yield started


@pytest.fixture
async def store(platform: Platform) -> AsyncIterator[DocumentStore]:
    async with await open_store(platform.documents_url) as opened:
        yield opened
