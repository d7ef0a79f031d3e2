"""The configured exporters of one engine data dir, running together on one event loop.

Each exporter has its own record reader (its own connection and thread) and its own loop, so a slow or
unreachable target holds up only itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from services.engine.exporters.records import RecordReader
from services.engine.exporters.runner import ExporterLoop, LoopSettings, Target

log = structlog.get_logger("engine.exporters")

KINDS = ("documents", "redis")
_SCHEMES = {"documents": ("sqlite", "mongodb", "mongodb+srv"), "redis": ("redis", "rediss", "unix")}


def parse_exporter(spec: str) -> tuple[str, str]:
    """`documents=sqlite:///path` → ("documents", "sqlite:///path"); raises ValueError naming the problem."""
    name, sep, url = spec.partition("=")
    name = name.strip()
    url = url.strip()
    if not sep or not url:
        raise ValueError(f"an exporter is NAME=URL (documents=… or redis=…), got {spec!r}")
    if name not in KINDS:
        raise ValueError(f"unknown exporter {name!r}: choose from {', '.join(KINDS)}")
    scheme = urlsplit(url).scheme
    if scheme not in _SCHEMES[name]:
        raise ValueError(f"the {name} exporter needs a {' or '.join(s + '://' for s in _SCHEMES[name])} URL, "
                         f"got {url!r}")
    return name, url


@dataclass
class ExportSettings:
    exporters: dict[str, str] = field(default_factory=dict)  # kind -> URL
    events_stream: str = "qly:events"
    events_maxlen: int = 100_000
    loop: LoopSettings = field(default_factory=LoopSettings)


def exporter_id(kind: str, log_id: str) -> str:
    return f"{kind}-{log_id}"


def make_target(kind: str, url: str, log_id: str, settings: ExportSettings) -> Target:
    if kind == "documents":
        from services.engine.exporters.documents import DocumentsTarget

        return DocumentsTarget(exporter_id(kind, log_id), url)
    if kind == "redis":
        from services.engine.exporters.live import RedisTarget

        return RedisTarget(exporter_id(kind, log_id), url, stream=settings.events_stream,
                           maxlen=settings.events_maxlen)
    raise ValueError(f"unknown exporter {kind!r}")


class ExportService:
    def __init__(self, data_dir: Path, log_id: str, settings: ExportSettings) -> None:
        self.data_dir = data_dir
        self.log_id = log_id
        self.settings = settings
        self.loops: dict[str, ExporterLoop] = {}

    async def run(self) -> None:
        tasks = []
        for kind, url in self.settings.exporters.items():
            target = make_target(kind, url, self.log_id, self.settings)
            loop = self.loops[kind] = ExporterLoop(kind, target, RecordReader(self.data_dir), self.settings.loop)
            tasks.append(asyncio.create_task(loop.run(), name=f"exporter-{kind}"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for loop in self.loops.values():
                await loop.target.close()
                await loop.reader.close()

    def positions(self) -> dict[str, int | None]:
        """Acknowledged position per configured exporter (None until it has read its target's)."""
        return {kind: (self.loops[kind].position if kind in self.loops else None) for kind in self.settings.exporters}
