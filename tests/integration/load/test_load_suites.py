"""`make load`'s engine suite, run for a few seconds through load/run.py: every RPC it drives answers, locust
writes its reports, and the engine's record log shows the life cycles it ran."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RPCS = ("DeployResource", "CreateProcessInstance", "PublishMessage", "ActivateJobs", "CompleteJob", "FailJob")


def count(db: Path, sql: str, *params: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def records(db: Path, value_type: str, intent: str, **match: str) -> int:
    sql = "SELECT count(*) FROM records WHERE value_type = ? AND intent = ?"
    sql += "".join(f" AND json_extract(value, '$.{field}') = ?" for field in match)
    return count(db, sql, value_type, intent, *match.values())


def test_engine_suite_runs_life_cycles_and_reports_each_rpc(tmp_path: Path) -> None:
    # The same recipe as `make load` (a no-op once .venv-load matches requirements-load.lock).
    subprocess.run(["make", "-s", "venv-load"], cwd=ROOT, check=True, timeout=900)
    reports, data = tmp_path / "reports", tmp_path / "data"
    # A tenth of the jobs failed (not the suite's 1%) so that a run this short surely loads the retry path.
    env = {**os.environ, "LOAD_FAIL_RATE": "0.1"}
    result = subprocess.run(
        [sys.executable, "load/run.py", "--suites", "engine", "--duration", "8", "--creators", "4", "--workers", "3",
         "--reports", str(reports), "--engine-data-dir", str(data)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr

    with open(reports / "engine_stats.csv", newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    for rpc in RPCS:
        assert int(rows[rpc]["Request Count"]) > 0, rpc
        assert rows[rpc]["Failure Count"] == "0", rpc
    assert rows["DeployResource"]["Request Count"] == "1"
    assert "CreateProcessInstance" in (reports / "engine.html").read_text()
    assert "engine  Aggregated" in result.stdout and "completed" in result.stdout

    db = data / "engine" / "engine.sqlite3"
    assert records(db, "DEPLOYMENT", "CREATED") == 1
    created = records(db, "PROCESS_INSTANCE_CREATION", "CREATED", bpmnProcessId="lifecycle-load")
    assert created >= int(rows["CreateProcessInstance"]["Request Count"])  # plus any cut off at the end
    completed = records(db, "PROCESS_INSTANCE", "ELEMENT_COMPLETED", bpmnElementType="PROCESS")
    assert 0 < completed <= created
    # Both ways through the model ran: straight to registered, and on to approval progress by message.
    assert records(db, "PROCESS_INSTANCE", "ELEMENT_COMPLETED", elementId="end_registered") > 0
    assert records(db, "PROCESS_INSTANCE", "ELEMENT_COMPLETED", elementId="end_approved") > 0
    assert records(db, "PROCESS_MESSAGE_SUBSCRIPTION", "CORRELATED", messageName="approval-progress") > 0
    assert records(db, "TIMER", "CREATED", targetElementId="stalled") > 0  # the approval's boundary timer
    # Jobs of every type were completed with the workers' variables, and failed jobs kept retries: no incident.
    for job_type in ("load.docking", "load.assignment", "load.notification"):
        assert records(db, "JOB", "COMPLETED", type=job_type) > 0, job_type
    assert records(db, "VARIABLE", "CREATED", name="dockingStatus") > 0
    assert records(db, "JOB", "FAILED") > 0
    assert count(db, "SELECT count(*) FROM records WHERE value_type = 'INCIDENT'") == 0
