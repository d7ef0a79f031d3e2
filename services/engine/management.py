"""Zeebe's management HTTP endpoints: /ready, /health, /metrics, and the actuator clock.

A small HTTP/1.1 server on asyncio: the endpoints take tiny JSON bodies and are called by probes and
tests, so a web framework would only add weight to the engine process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from services.engine.timers import iso_ms

MAX_BODY = 64 * 1024


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str = "application/json"


Handler = Callable[[str, str, Any], Awaitable[Reply]]


class ManagementServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                try:
                    method, target, _ = request_line.decode("latin-1").split(" ", 2)
                except ValueError:
                    await self._write(writer, Reply(400, {"error": "malformed request line"}), keep_alive=False)
                    break
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    await self._write(writer, Reply(413, {"error": "body too large"}), keep_alive=False)
                    break
                raw = await reader.readexactly(length) if length else b""
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError:
                    reply = Reply(400, {"error": "the body is not valid JSON"})
                else:
                    try:
                        reply = await self.handler(method.upper(), target.split("?", 1)[0], body)
                    except Exception as error:  # answer, don't drop the connection
                        reply = Reply(500, {"error": repr(error)})
                keep_alive = headers.get("connection", "").lower() != "close"
                await self._write(writer, reply, keep_alive=keep_alive)
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, reply: Reply, *, keep_alive: bool) -> None:
        payload = reply.body if isinstance(reply.body, bytes) else (
            reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode())
        reason = HTTPStatus(reply.status).phrase
        head = (f"HTTP/1.1 {reply.status} {reason}\r\nContent-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
        writer.write(head.encode() + payload)
        await writer.drain()


def clock_body(epoch_ms: int) -> dict[str, Any]:
    return {"epochMilli": epoch_ms, "instant": iso_ms(epoch_ms)}
