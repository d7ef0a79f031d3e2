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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

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
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("TLS needs both --tls-cert and --tls-key")
    return EngineConfig(
        data_dir=Path(args.data_dir), host=args.host, port=args.port, management_port=args.management_port,
        clock_controlled=args.clock_controlled, tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None, synchronous=args.sync,
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
