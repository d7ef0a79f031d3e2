"""Prometheus metrics for the services that are not the engine (workers, gateway): counters, gauges and
histograms with labels, rendered in Prometheus' text exposition format (version 0.0.4).

The engine has its own renderer (services/engine/metrics.py), tuned for its hot path; this one serves
services whose metrics change a few hundred times a second at most. No client library: the format is a
page of text, and what we need of it (labelled counters, gauges read at scrape time, fixed-bucket
histograms) fits in this module.

``serve_metrics(registry, host, port)`` answers ``GET /metrics`` on its own port, for a process with no
HTTP server of its own (the workers). Gauges whose value must be read from somewhere (the notification
outbox in the documents store) are filled by ``on_scrape`` callbacks just before rendering.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager

from shared.logging import get_logger

_log = get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = tuple(labels)

    def _key(self, values: dict[str, str]) -> LabelValues:
        if set(values) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {tuple(values)}")
        return tuple(str(values[name]) for name in self.labels)

    def _label_text(self, key: LabelValues, extra: str = "") -> str:
        parts = [f'{name}="{_escape(value)}"' for name, value in zip(self.labels, key, strict=True)]
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}" if parts else ""

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self.values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self.values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        return [f"{self.name}{self._label_text(key)} {_number(v)}" for key, v in sorted(self.values.items())]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self.values: dict[LabelValues, float] = {}

    def set(self, value: float, **labels: str) -> None:
        self.values[self._key(labels)] = float(value)

    def value(self, **labels: str) -> float:
        return self.values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        return [f"{self.name}{self._label_text(key)} {_number(v)}" for key, v in sorted(self.values.items())]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = (),
                 buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, help_text, labels)
        if list(buckets) != sorted(buckets) or not buckets:
            raise ValueError("buckets must be increasing")
        self.buckets = tuple(buckets)
        self.series: dict[LabelValues, tuple[list[int], list[float]]] = {}  # counts per bucket; [sum, count]

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = ([0] * (len(self.buckets) + 1), [0.0, 0.0])
        series[0][bisect.bisect_left(self.buckets, value)] += 1
        series[1][0] += value
        series[1][1] += 1

    @contextmanager
    def time(self, **labels: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - started, **labels)

    def count(self, **labels: str) -> int:
        series = self.series.get(self._key(labels))
        return int(series[1][1]) if series else 0

    def lines(self) -> list[str]:
        out: list[str] = []
        for key, (counts, (total, count)) in sorted(self.series.items()):
            cumulative = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += n
                le = 'le="' + ("+Inf" if math.isinf(bound) else repr(float(bound))) + '"'
                out.append(f"{self.name}_bucket{self._label_text(key, le)} {cumulative}")
            out.append(f"{self.name}_sum{self._label_text(key)} {_number(round(total, 6))}")
            out.append(f"{self.name}_count{self._label_text(key)} {_number(count)}")
        return out


class Registry:
    """The metrics of one process. Names are unique; asking twice for a name returns the same metric."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._on_scrape: list[Callable[[], Awaitable[None]]] = []

    def _get(self, cls: type[_Metric], name: str, help_text: str, labels: Sequence[str], **extra: object) -> _Metric:
        existing = self._metrics.get(name)
        if existing is not None:
            if type(existing) is not cls or existing.labels != tuple(labels):
                raise ValueError(f"metric {name} already registered as {existing.kind} {existing.labels}")
            return existing
        metric = cls(name, help_text, labels, **extra)  # type: ignore[call-arg]
        self._metrics[name] = metric
        return metric

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self._get(Counter, name, help_text, labels)  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        return self._get(Gauge, name, help_text, labels)  # type: ignore[return-value]

    def histogram(self, name: str, help_text: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return self._get(Histogram, name, help_text, labels, buckets=buckets)  # type: ignore[return-value]

    def on_scrape(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` before each scrape (to read a gauge from a database, say)."""
        self._on_scrape.append(callback)

    async def collect(self) -> str:
        for callback in self._on_scrape:
            try:
                await callback()
            except Exception as error:  # a scrape still answers; the gauge keeps its last value
                _log.warning("metrics collector failed", error=repr(error))
        return self.render()

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.header())
            lines.extend(metric.lines())
        return "\n".join(lines) + "\n"


async def serve_metrics(registry: Registry, host: str, port: int) -> asyncio.Server:
    """A minimal HTTP/1.1 server: ``GET /metrics`` → the registry; anything else 404. Returns the server
    (its port is ``server.sockets[0].getsockname()[1]``; port 0 picks a free one)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=10)
            while True:  # headers: nothing in them matters here
                line = await asyncio.wait_for(reader.readline(), timeout=10)
                if line in (b"\r\n", b"\n", b""):
                    break
            parts = request_line.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?", 1)[0] == "/metrics":
                status, body, content_type = "200 OK", (await registry.collect()).encode(), CONTENT_TYPE
            else:
                status, body, content_type = "404 Not Found", b"only GET /metrics here\n", "text/plain"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(answer, host, port, reuse_address=True)
