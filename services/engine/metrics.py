"""Counters and latency histograms, rendered in Prometheus' text format on /metrics."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclass
class Metrics:
    records: int = 0
    jobs_created: int = 0
    jobs_activated: int = 0
    jobs_completed: int = 0
    jobs_failed: int = 0
    incidents_created: int = 0
    instances_created: int = 0
    instances_completed: int = 0
    instances_active: int = 0
    timers_fired: int = 0
    messages_published: int = 0
    messages_correlated: int = 0
    commits: int = 0
    processing_seconds: float = 0.0
    commands: dict[str, int] = field(default_factory=dict)
    command_latency: dict[str, Histogram] = field(default_factory=dict)
    commit_latency: Histogram = field(default_factory=Histogram)

    def command(self, name: str, seconds: float, ok: bool = True) -> None:
        label = f'{name}",outcome="{"ok" if ok else "rejected"}'
        self.commands[label] = self.commands.get(label, 0) + 1
        histogram = self.command_latency.get(name)
        if histogram is None:
            histogram = self.command_latency[name] = Histogram()
        histogram.observe(seconds)

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines: list[str] = []

        def counter(name: str, value: float, help_text: str, kind: str = "counter") -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.append(f"{name} {value}")

        counter("zeebe_records_written_total", self.records, "Records appended to the log")
        counter("zeebe_jobs_created_total", self.jobs_created, "Jobs created")
        counter("zeebe_jobs_activated_total", self.jobs_activated, "Jobs activated by workers")
        counter("zeebe_jobs_completed_total", self.jobs_completed, "Jobs completed")
        counter("zeebe_jobs_failed_total", self.jobs_failed, "Jobs failed by workers")
        counter("zeebe_incidents_created_total", self.incidents_created, "Incidents raised")
        counter("zeebe_process_instances_created_total", self.instances_created, "Process instances created")
        counter("zeebe_process_instances_completed_total", self.instances_completed, "Process instances completed")
        counter("zeebe_process_instances_active", self.instances_active, "Process instances active", "gauge")
        counter("zeebe_timers_fired_total", self.timers_fired, "Timers triggered")
        counter("zeebe_messages_published_total", self.messages_published, "Messages published")
        counter("zeebe_messages_correlated_total", self.messages_correlated, "Message correlations")
        counter("zeebe_commits_total", self.commits, "Group commits to the journal")
        counter("zeebe_processing_seconds_total", round(self.processing_seconds, 6), "Time spent processing")
        for name, value in (extra or {}).items():
            counter(name, value, name.replace("_", " "), "gauge")
        lines.append("# HELP zeebe_gateway_commands_total gRPC commands by name and outcome")
        lines.append("# TYPE zeebe_gateway_commands_total counter")
        for label, value in sorted(self.commands.items()):
            lines.append(f'zeebe_gateway_commands_total{{command="{label}"}} {value}')
        lines.append("# HELP zeebe_gateway_command_latency_seconds Latency from request to durable answer")
        lines.append("# TYPE zeebe_gateway_command_latency_seconds histogram")
        for name, histogram in sorted(self.command_latency.items()):
            _histogram_lines(lines, "zeebe_gateway_command_latency_seconds", f'command="{name}"', histogram)
        lines.append("# HELP zeebe_journal_commit_seconds Time to write and sync one group commit")
        lines.append("# TYPE zeebe_journal_commit_seconds histogram")
        _histogram_lines(lines, "zeebe_journal_commit_seconds", "", self.commit_latency)
        return "\n".join(lines) + "\n"


def _histogram_lines(lines: list[str], name: str, label: str, histogram: Histogram) -> None:
    cumulative = 0
    sep = "," if label else ""
    for bound, count in zip((*_BUCKETS, float("inf")), histogram.counts, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(bound)
        lines.append(f'{name}_bucket{{{label}{sep}le="{le}"}} {cumulative}')
    lines.append(f"{name}_sum{{{label}}} {histogram.total:.6f}" if label else f"{name}_sum {histogram.total:.6f}")
    lines.append(f"{name}_count{{{label}}} {histogram.count}" if label else f"{name}_count {histogram.count}")


def render_jobs_by_type(jobs: Iterable[Any]) -> str:
    """Open jobs by type and state: the backlog per job type (ACTIVATABLE), what workers hold (ACTIVATED),
    what waits out a retry back-off (FAILED) and what stopped on an incident (INCIDENT). Counted at scrape
    time over the open jobs, so no bookkeeping is added to the engine's hot path."""
    counts = Counter((job.type, job.state) for job in jobs)
    lines = ["# HELP zeebe_jobs_open Open jobs by job type and state (ACTIVATABLE is the backlog)",
             "# TYPE zeebe_jobs_open gauge"]
    for (job_type, state), count in sorted(counts.items()):
        escaped = job_type.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        lines.append(f'zeebe_jobs_open{{type="{escaped}",state="{state}"}} {count}')
    return "\n".join(lines) + "\n"
