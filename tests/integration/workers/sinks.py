"""Local stand-ins for the services outside the machine, at their wire boundary: an HTTP endpoint (robots,
SMS gateway), an SMTP server, and a TCP proxy that can stop passing a client's bytes (a network cut)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Listener:
    """A server on a free local port; a subclass answers each connection in ``_serve``."""

    server: asyncio.AbstractServer | None
    port: int

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HttpSink(Listener):
    """Records JSON posts; answers each with the next of ``statuses`` (then 200) and a robot's errcode body."""

    requests: list[Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    errcodes: list[int] = field(default_factory=list)
    before_answer: Callable[[Request], Awaitable[None]] | None = None
    server: asyncio.AbstractServer | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/robot/send?access_token=test-token"

    @property
    def delivered(self) -> list[Request]:
        """The requests that were answered with success."""
        return [r for r in self.requests if r.headers.get("x-answered") == "200"]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = json.loads(await reader.readexactly(length)) if length else {}
                parts = urlsplit(target)
                request = Request(parts.path, parse_qs(parts.query), headers, body)
                self.requests.append(request)
                if self.before_answer is not None:
                    await self.before_answer(request)
                status = self.statuses.pop(0) if self.statuses else 200
                errcode = self.errcodes.pop(0) if self.errcodes and status == 200 else 0
                if status == 200 and errcode == 0:
                    headers["x-answered"] = "200"
                payload = json.dumps({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "error"}).encode()
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: "
                             f"{len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


@dataclass
class SmtpSink(Listener):
    """A tiny SMTP server (RFC 5321's happy path): records every message it accepts."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse_recipients: set[str] = field(default_factory=set)
    server: asyncio.AbstractServer | None = None
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(text: str) -> None:
            writer.write(text.encode() + b"\r\n")

        try:
            reply("220 sink ESMTP")
            await writer.drain()
            while line := await reader.readline():
                command = line.decode(errors="replace").strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    reply("250-sink\r\n250 8BITMIME" if verb == "EHLO" else "250 sink")
                elif verb == "MAIL":
                    reply("250 OK")
                elif verb == "RCPT":
                    address = command.partition(":")[2].strip().strip("<>")
                    reply("550 no such user" if address in self.refuse_recipients else "250 OK")
                elif verb == "DATA":
                    reply("354 end with .")
                    await writer.drain()
                    lines = []
                    while (data := await reader.readline()) not in (b".\r\n", b".\n", b""):
                        lines.append(data[1:] if data.startswith(b"..") else data)
                    self.messages.append(message_from_bytes(b"".join(lines), policy=policy.default))  # type: ignore[arg-type]
                    reply("250 queued")
                elif verb == "QUIT":
                    reply("221 bye")
                    await writer.drain()
                    return
                else:
                    reply("250 OK")
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()


class Proxy(Listener):
    """A TCP proxy to ``upstream_port``; ``cut()`` drops whatever clients send from then on (their requests
    never arrive), as a network partition or a process frozen mid-call would."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.cut_off = False
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.cut_off = True

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers += [client_writer, upstream_writer]

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, upstream: bool) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await source.read(65536):
                    if upstream and self.cut_off:
                        continue
                    sink.write(data)
                    await sink.drain()
            sink.close()

        for task in (asyncio.create_task(pump(client_reader, upstream_writer, True)),
                     asyncio.create_task(pump(upstream_reader, client_writer, False))):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
