"""Locust load of the gateway: leaders reading dashboards, unit staff working their inbox, approval systems
pushing signed records.

Runs in its own venv (.venv-load: locust monkey-patches with gevent) and imports nothing of the project:
``load/gateway_stack.py`` starts the platform, seeds a city, mints tokens and writes a stack file whose
path comes in QLY_LOAD_STACK. Scenario by QLY_LOAD_SCENARIO:

- ``dashboard``: only leaders, each reading the big-screen summary at a fixed rate (QLY_LOAD_RATE per user);
- ``mixed``: leaders (summary, analyses, horse race, red projects), unit staff (inbox, a task, claim and give
  back, their problems), approval systems (one signed record per post, a new record id each time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import time
import uuid
from pathlib import Path

import gevent
from locust import between, constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser

STACK = json.loads(Path(os.environ["QLY_LOAD_STACK"]).read_text())
SCENARIO = os.environ.get("QLY_LOAD_SCENARIO", "mixed")
RATE = float(os.environ.get("QLY_LOAD_RATE", "5"))


@events.quit.add_listener
def last_csv_write(**_: object) -> None:
    # Locust rewrites the --csv files once a second while it runs but not at exit, so they would miss the
    # run's last second; the users have stopped by now: one more pass of its writer makes them whole.
    gevent.sleep(1.2)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class DashboardReader(FastHttpUser):
    """A big screen polling the summary (the 'dashboard' scenario's only user)."""

    abstract = SCENARIO != "dashboard"
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        # Locust starts each second's users at the same instant, and constant_throughput keeps them in step:
        # without a random phase, 40 screens would ask in one burst every period. Real screens don't.
        time.sleep(random.random() / RATE)  # cooperative: gevent patches time.sleep

    @task
    def summary(self) -> None:
        self.client.get("/api/dashboards/summary", headers=bearer(STACK["tokens"]["leader"]),
                        name="GET /api/dashboards/summary")


class Leader(FastHttpUser):
    abstract = SCENARIO != "mixed"
    weight = 3
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.headers = bearer(STACK["tokens"]["leader"])

    @task(6)
    def summary(self) -> None:
        self.client.get("/api/dashboards/summary", headers=self.headers, name="GET /api/dashboards/summary")

    @task(2)
    def problems(self) -> None:
        self.client.get("/api/dashboards/problems", headers=self.headers, name="GET /api/dashboards/problems")

    @task(1)
    def horse_race(self) -> None:
        self.client.get("/api/dashboards/horse-race", headers=self.headers, name="GET /api/dashboards/horse-race")

    @task(2)
    def red_projects(self) -> None:
        self.client.get("/api/projects?light=red&size=20", headers=self.headers, name="GET /api/projects?light=red")

    @task(1)
    def project(self) -> None:
        code = random.choice(STACK["project_codes"])
        self.client.get(f"/api/projects/{code}", headers=self.headers, name="GET /api/projects/{code}")


class UnitStaff(FastHttpUser):
    abstract = SCENARIO != "mixed"
    weight = 5
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.username = random.choice(list(STACK["staff"]))
        self.headers = bearer(STACK["staff"][self.username]["token"])
        self.keys = STACK["staff"][self.username]["task_keys"]

    @task(5)
    def inbox(self) -> None:
        self.client.get("/api/tasks?size=20", headers=self.headers, name="GET /api/tasks")

    @task(2)
    def open_task(self) -> None:
        key = random.choice(self.keys)
        self.client.get(f"/api/tasks/{key}", headers=self.headers, name="GET /api/tasks/{key}")

    @task(1)
    def claim_and_give_back(self) -> None:
        key = random.choice(self.keys)
        with self.client.post(f"/api/tasks/{key}/claim", headers=self.headers, name="POST /api/tasks/{key}/claim",
                              catch_response=True) as response:
            if response.status_code == 409:  # a colleague holds it: a normal answer, not a failure
                response.success()
                return
        self.client.post(f"/api/tasks/{key}/unclaim", headers=self.headers, name="POST /api/tasks/{key}/unclaim")

    @task(2)
    def problems(self) -> None:
        self.client.get("/api/problems?size=20", headers=self.headers, name="GET /api/problems")


class ApprovalSystem(FastHttpUser):
    abstract = SCENARIO != "mixed"
    weight = 2
    wait_time = between(0.5, 1.5)

    @task
    def post_record(self) -> None:
        record = {"lsh": f"LOAD-{uuid.uuid4().hex}", "xmdm": random.choice(STACK["project_codes"]),
                  "sxbm": "GG-HP-01", "sxmc": "环境影响评价审批", "blzt": "受理",
                  "blsj": time.strftime("%Y-%m-%d %H:%M:%S"), "bljgmc": "生态环境局"}
        body = json.dumps(record, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        digest = hmac.new(STACK["hmac"]["gonggai"].encode(), timestamp.encode() + b"." + body,
                          hashlib.sha256).hexdigest()
        self.client.post("/api/ingest/approvals", data=body, name="POST /api/ingest/approvals", headers={
            "Content-Type": "application/json", "X-Qly-System": "gonggai", "X-Qly-Timestamp": timestamp,
            "X-Qly-Signature": f"sha256={digest}"})
