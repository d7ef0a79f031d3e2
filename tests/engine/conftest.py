from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import EngineProcess


@pytest.fixture
async def gateway(engine: EngineProcess) -> AsyncIterator[RawGateway]:
    client = RawGateway(engine.address)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def log(engine: EngineProcess) -> RecordLog:
    return RecordLog(engine)
