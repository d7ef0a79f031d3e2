"""python -m services.engine: the Zeebe-protocol engine.

Options (each also an environment variable):
  --data-dir         ENGINE_DATA_DIR          ./data/engine
  --host             ENGINE_HOST              127.0.0.1
  --port             ENGINE_PORT              26500   (gRPC gateway)
  --management-port  ENGINE_MANAGEMENT_PORT   9600    (/ready, /health, /metrics, /actuator/clock)
  --clock-controlled ZEEBE_CLOCK_CONTROLLED   false   (serves Zeebe's actuator clock API)
  --tls-cert/--tls-key ENGINE_TLS_CERT/KEY    unset   (TLS when both are given)
  --sync             ENGINE_SYNC              FULL    (SQLite synchronous: FULL survives power loss,
                                                       NORMAL survives a crash of the process)
  --exporter documents=URL  EXPORTER_DOCUMENTS_URL  unset (engine views in the documents store: sqlite:///…
                                                     or mongodb://…)
  --exporter redis=URL      EXPORTER_REDIS_URL      unset (live engine events on the Redis stream EVENTS_STREAM,
                                                     default qly:events, trimmed to about EVENTS_MAXLEN)
  --log-retention    ENGINE_LOG_RETENTION     1000000 (records always kept behind the head, ~0.4 GB; older ones are
                                                       deleted once every exporter has passed them)
  --log-compact-interval ENGINE_LOG_COMPACT_INTERVAL 10 (seconds between compactions)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from services.engine.exporters.service import KINDS, ExportSettings, parse_exporter
from services.engine.server import DataDirInUse, EngineConfig, EngineServer
from shared.logging import configure_logging, get_logger


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def parse_args(argv: list[str] | None = None) -> EngineConfig:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m services.engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=env.get("ENGINE_DATA_DIR", "./data/engine"))
    parser.add_argument("--host", default=env.get("ENGINE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("ENGINE_PORT", "26500")))
    parser.add_argument("--management-port", type=int, default=int(env.get("ENGINE_MANAGEMENT_PORT", "9600")))
    parser.add_argument("--clock-controlled", action="store_true", default=_flag(env.get("ZEEBE_CLOCK_CONTROLLED")))
    parser.add_argument("--tls-cert", default=env.get("ENGINE_TLS_CERT"))
    parser.add_argument("--tls-key", default=env.get("ENGINE_TLS_KEY"))
    parser.add_argument("--sync", choices=["FULL", "NORMAL"], default=env.get("ENGINE_SYNC", "FULL").upper())
    parser.add_argument("--exporter", action="append", default=[], metavar="NAME=URL")
    # string defaults go through `type` too, so a bad variable gets argparse's precise error
    parser.add_argument("--log-retention", type=int, default=env.get("ENGINE_LOG_RETENTION", "1000000"))
    parser.add_argument("--log-compact-interval", type=float, default=env.get("ENGINE_LOG_COMPACT_INTERVAL", "10"))
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("TLS needs both --tls-cert and --tls-key")
    if args.log_retention < 1:
        parser.error("--log-retention must keep at least 1 record")
    if args.log_compact_interval <= 0:
        parser.error("--log-compact-interval must be positive")
    exporters: dict[str, str] = {}
    specs = [f"{kind}={env[f'EXPORTER_{kind.upper()}_URL']}" for kind in KINDS
             if env.get(f"EXPORTER_{kind.upper()}_URL", "").strip()]
    try:
        for spec in [*specs, *args.exporter]:  # a flag overrides the variable of the same exporter
            kind, url = parse_exporter(spec)
            exporters[kind] = url
        maxlen = int(env.get("EVENTS_MAXLEN", "100000"))
    except ValueError as error:
        parser.error(str(error))
    export = ExportSettings(exporters=exporters, events_stream=env.get("EVENTS_STREAM", "qly:events"),
                            events_maxlen=maxlen)
    return EngineConfig(
        data_dir=Path(args.data_dir), host=args.host, port=args.port, management_port=args.management_port,
        clock_controlled=args.clock_controlled, tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None, synchronous=args.sync,
        exporters=export, log_retention=args.log_retention, log_compact_interval=args.log_compact_interval,
    )


async def serve(config: EngineConfig) -> None:
    server = EngineServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    configure_logging("engine")
    log = get_logger("engine")
    try:
        asyncio.run(serve(config))
    except (DataDirInUse, OSError) as error:
        log.error("engine can't start", error=str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
