"""python -m services.engine.exporters: export an engine data dir's record log.

    python -m services.engine.exporters --data-dir ./data/engine --exporter documents=sqlite:///./data/documents.sqlite3
                                        [--exporter redis=redis://127.0.0.1:6379/0]

The engine starts this itself when it is given exporters (`--exporter` / EXPORTER_*_URL, see
`python -m services.engine --help`), so it normally runs as the engine's child: it then reports its
positions on stdout for the engine's /metrics and log compaction, and exits when the engine goes away
(its stdin closes). Run by hand, against a data dir whose engine has started at least once, it resumes
each exporter from the position its target holds.

EVENTS_STREAM and EVENTS_MAXLEN name and bound the Redis stream, as for every service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import orjson

from services.engine.exporters.records import read_log_id
from services.engine.exporters.service import ExportService, ExportSettings, parse_exporter
from shared.logging import configure_logging, get_logger

REPORT_INTERVAL = 0.1


def parse_args(argv: list[str] | None = None) -> tuple[Path, str | None, ExportSettings, bool, int]:
    parser = argparse.ArgumentParser(prog="python -m services.engine.exporters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--exporter", action="append", required=True, metavar="NAME=URL")
    parser.add_argument("--log-id", help="the engine log's id (the engine passes it; otherwise read from the log)")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much")
    parser.add_argument("--report", action="store_true",
                        help="write positions to stdout as JSON lines and exit when stdin closes (run by the engine)")
    args = parser.parse_args(argv)
    exporters: dict[str, str] = {}
    try:
        for spec in args.exporter:
            kind, url = parse_exporter(spec)
            exporters[kind] = url
        maxlen = int(os.environ.get("EVENTS_MAXLEN", "100000"))
    except ValueError as error:
        parser.error(str(error))
    settings = ExportSettings(exporters=exporters, events_stream=os.environ.get("EVENTS_STREAM", "qly:events"),
                              events_maxlen=maxlen)
    return Path(args.data_dir), args.log_id, settings, args.report, args.nice


async def _report(service: ExportService) -> None:
    """One JSON line whenever something changed: what the engine shows on /metrics and compacts behind."""
    last = b""
    out = sys.stdout.buffer
    while True:
        line = orjson.dumps({kind: loop.status() for kind, loop in service.loops.items()}) + b"\n"
        if line != last:
            try:
                out.write(line)
                out.flush()
            except BrokenPipeError:  # the engine is gone: stop quietly, as when stdin closes
                os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
                return
            last = line
        await asyncio.sleep(REPORT_INTERVAL)


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def run(data_dir: Path, log_id: str, settings: ExportSettings, report: bool) -> None:
    service = ExportService(data_dir, log_id, settings)
    tasks = [asyncio.create_task(service.run(), name="exporters")]
    if report:
        tasks.append(asyncio.create_task(_report(service), name="report"))
        tasks.append(asyncio.create_task(_stdin_closed(), name="parent"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
    for task in [*tasks, stopping]:
        task.cancel()
    for task in [*tasks, stopping]:
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises what ended the exporters (e.g. no engine log in the data dir)


def main(argv: list[str] | None = None) -> int:
    data_dir, log_id, settings, report, nice = parse_args(argv)
    if nice > 0:
        os.nice(nice)
    configure_logging("engine-exporters")
    log = get_logger("engine.exporters")
    log_id = log_id or read_log_id(data_dir)
    if log_id is None:
        log.error("no engine log to export here: start the engine on this data dir first", data_dir=str(data_dir))
        return 2
    try:
        asyncio.run(run(data_dir, log_id, settings, report))
    except FileNotFoundError as error:
        log.error("exporters can't start", error=str(error))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
