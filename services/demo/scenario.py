"""``python -m services.demo scenario``: a year of a Huai'an-sized city through the controlled clock.

A private engine (controlled clock) and documents store, the workers in this process, and simulated people
and systems acting through the same ports the gateway uses (``actors.Front``): projects are signed, the
approval systems post their records, some projects stall, investors report problems, units work their
inboxes (some slowly), reporters confirm or send back, investors score the service. The clock moves a day
at a time; after each step the scenario waits until the platform has settled. At the end it prints what
the city's dashboard would show, computed from the documents.

Everything is drawn from one random seed, so a run is reproducible up to the order in which concurrent
jobs finish.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import tempfile
import time as wallclock
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pyzeebe import create_insecure_channel

from services.demo import city
from services.demo.actors import Front, TaskGone
from services.demo.dashboard import Dashboard, dashboard_of, engine_figures
from services.demo.deploy import deploy_models
from services.demo.runtime import Clock, InProcessWorkers, LocalEngine, settle
from services.demo.seed import SeedReport, fast_hasher, make_project, seed_directory
from services.workers.runtime import JobClock
from services.workers.settings import WorkerSettings
from shared.calendar import SHANGHAI
from shared.clock import EngineClock
from shared.documents import DocumentStore, open_store
from shared.documents.models import (
    Light,
    PageRequest,
    Period,
    ProblemOrigin,
    ProjectFilter,
    Role,
    Stage,
    Task,
    TaskFilter,
    TaskStatus,
    every_item,
)
from shared.domain import stages
from shared.domain.docking import ITEM_FOR_STAGE, ITEMS

DAY_MS = 86_400_000
MORNING = time(9, 0)


@dataclass
class ScenarioConfig:
    projects: int = 640  # signed during the simulated period
    start: date = date(2025, 1, 1)
    days: int = 365
    seed: int = 2025
    investors: int = 60
    stall_share: float = 0.4  # projects with one long gap between approvals
    report_share: float = 0.2  # projects whose investor reports a problem
    unit_report_share: float = 0.1  # projects whose assistant unit reports a problem
    cancel_share: float = 0.03
    slow_unit_share: float = 0.25
    quiet: float = 0.1  # seconds without engine records that count as settled
    data_dir: Path | None = None  # default: a temporary directory, removed afterwards
    documents_url: str | None = None  # default: a SQLite file in data_dir
    progress: bool = True  # print a line per simulated month


# -- the plan: what the outside world will do, drawn up front -------------------------------------------


@dataclass
class Posting:
    day: int
    source: str
    record: dict[str, Any]
    project_code: str
    stage: Stage | None  # the stage the record completes, if it does


@dataclass
class Plan:
    signings: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))  # day -> ProjectData
    postings: dict[int, list[Posting]] = field(default_factory=lambda: defaultdict(list))
    # day -> (project code, title, origin)
    reports: dict[int, list[tuple[str, str, ProblemOrigin]]] = field(default_factory=lambda: defaultdict(list))
    cancellations: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))


REPORT_TITLES = ("用地手续办理遇到困难", "施工许可材料反复补正", "水电气接入进度滞后", "环评审批等待时间过长",
                 "规划条件需要调整", "消防设计审查意见不明确")


def at_day(start: date, day: int, at: time = MORNING) -> datetime:
    return datetime.combine(start + timedelta(days=day), at, tzinfo=SHANGHAI)


def draw_plan(config: ScenarioConfig) -> Plan:
    rng = random.Random(config.seed)
    plan = Plan()
    weekdays = [d for d in range(config.days) if (config.start + timedelta(days=d)).weekday() < 5]
    for serial in range(1, config.projects + 1):
        day = rng.choice(weekdays[: max(1, len(weekdays) - 3)])
        signed_at = at_day(config.start, day, time(10 + rng.randint(0, 6), rng.randint(0, 59)))
        data = make_project(rng, 100_000 + serial, signed_at, config.investors)
        plan.signings[day].append(data)
        code = data.project_code
        stall_at = rng.randint(1, 7) if rng.random() < config.stall_share else None
        cancel_at = rng.randint(2, 6) if rng.random() < config.cancel_share else None
        current = day
        n = 0
        for position, stage in enumerate(stages.LIFE_CYCLE[1:], start=1):
            gap = rng.randint(95, 170) if position == stall_at else rng.randint(8, 45)
            approved = current + gap
            if cancel_at == position:
                if approved < config.days:
                    plan.cancellations[approved].append(code)
                break
            item = ITEMS[ITEM_FOR_STAGE[stage]]
            accepted = max(current + 1, approved - rng.randint(2, 6))
            if stage == Stage.CONSTRUCTION_PERMIT and accepted - 1 > current:
                review = accepted - 1
                if review < config.days:
                    plan.postings[review].append(Posting(review, "tuzhi", {
                        "reviewId": f"TZ-{code}-{n}", "projectCode": code, "reviewType": "施工图审查",
                        "conclusion": "通过", "finishedAt": office_time(config.start, review, rng).isoformat(),
                        "agency": "淮安市施工图审查中心"}, code, None))
                    n += 1
            for status, when in (("受理", accepted), ("办结", approved)):
                if when >= config.days:
                    break
                plan.postings[when].append(Posting(when, "gonggai", {
                    "lsh": f"GG-{code}-{n}", "xmdm": code, "sxbm": item.code, "sxmc": item.name, "blzt": status,
                    "blsj": office_time(config.start, when, rng).strftime("%Y-%m-%d %H:%M:%S"),
                    "bljgmc": "淮安市工程建设项目审批管理系统"}, code, stage if status == "办结" else None))
                n += 1
            current = approved
            if current >= config.days:
                break
        for share, origin in ((config.report_share, ProblemOrigin.INVESTOR),
                              (config.unit_report_share, ProblemOrigin.UNIT)):
            if rng.random() < share:
                report_day = day + rng.randint(10, 200)
                if report_day < config.days:
                    plan.reports[report_day].append((code, rng.choice(REPORT_TITLES), origin))
    return plan


def office_time(start: date, day: int, rng: random.Random) -> datetime:
    """A moment in the office hours of a day, never before the simulated morning it is posted in."""
    return at_day(start, day, time(9, 0)) + timedelta(minutes=rng.randint(0, 8 * 60 - 1))


# -- people: how they answer their inboxes ----------------------------------------------------------------


@dataclass
class Decision:
    day: int
    variables: dict[str, Any]
    by: str
    role: Role


class People:
    """Deterministic behaviour per task: when each person acts and what they answer."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        rng = random.Random(config.seed + 1)
        unit_ids = [u.id for u in city.units()]
        self.slow_units = {u for u in unit_ids if rng.random() < config.slow_unit_share}
        self.county_bias = {c.code: rng.uniform(-0.6, 0.5) for c in city.COUNTIES}
        self.rounds: Counter[tuple[str, str]] = Counter()

    def rng(self, task: Task) -> random.Random:
        who = ",".join(task.candidate_groups + task.candidate_users)
        return random.Random(f"{self.config.seed}:{task.element_id}:{task.problem_id}:{task.project_code}:{who}:"
                             f"{task.created_at.date()}")

    def decide(self, task: Task, today: int) -> Decision | None:
        rng = self.rng(task)
        if task.element_id == "resolve":
            unit = task.candidate_groups[0]
            delay = rng.randint(6, 45) if unit in self.slow_units else rng.randint(1, 6)
            return Decision(today + delay, {"resolution": "已协调相关单位办理完毕，问题已解决。"}, f"{unit}.staff",
                            Role.UNIT_STAFF)
        if task.element_id == "confirm":
            key = (task.problem_id or "", "confirm")
            self.rounds[key] += 1
            roll = rng.random()
            if roll < 0.07:
                return None  # never answers: the model confirms by default
            send_back = roll < 0.15 and self.rounds[key] == 1
            who = task.candidate_users[0] if task.candidate_users else f"{task.candidate_groups[0]}.staff"
            role = Role.INVESTOR if task.candidate_users else Role.UNIT_STAFF
            return Decision(today + rng.randint(1, 4),
                            {"decision": "sendBack" if send_back else "confirm",
                             "confirmComment": "仍未解决，请继续办理" if send_back else "已解决，感谢"}, who, role)
        if task.element_id == "assign_by_hand":
            county = task.variables.get("countyCode", "320812")
            return Decision(today + 1, {"assistantUnitId": f"assist-{county}", "approvalUnitId": "dept-fgw"},
                            "office-city.staff", Role.UNIT_STAFF)
        if task.element_id == "score":
            if rng.random() < 0.3:
                return None
            invitation = task.variables.get("invitation") or {}
            bias = self.county_bias.get(invitation.get("countyCode", ""), 0.0)

            def score(extra: float = 0.0) -> str:
                return str(min(5, max(1, round(rng.gauss(4.1 + bias + extra, 0.7)))))

            return Decision(today + rng.randint(1, 10),
                            {"countyScore": score(), "mainDepartmentScore": score(0.1),
                             "generalDepartmentScore": score(-0.1), "comment": "服务总体满意"},
                            task.candidate_users[0], Role.INVESTOR)
        return None


# -- the run ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the simulated outside world did: the figures the documents must agree with."""

    signed: int = 0
    records_posted: int = 0
    investor_reports: int = 0
    unit_reports: int = 0
    cancellations: int = 0
    resolutions: int = 0
    confirmations: int = 0
    send_backs: int = 0
    assignments_by_hand: int = 0
    evaluations: int = 0
    tasks_gone: int = 0
    stage_expected: dict[str, str] = field(default_factory=dict)  # project code -> stage the records imply


class Scenario:
    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.plan = draw_plan(config)
        self.people = People(config)
        self.tally = Tally()
        self.decisions: dict[int, Decision | None] = {}
        self.period = Period(start=at_day(config.start, 0, time(0)), end=at_day(config.start, config.days, time(0)))

    async def run(self) -> Dashboard:
        config = self.config
        # A saturated inbox poller says so at WARNING on every poll; the settle loop already waits for it.
        logging.getLogger("pyzeebe.worker.job_poller").setLevel(logging.ERROR)
        own_dir = config.data_dir is None
        data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="qly-scenario-"))
        engine = LocalEngine(data_dir)
        began = wallclock.monotonic()
        await engine.start()
        clock = Clock(engine.management_url)
        workers: InProcessWorkers | None = None
        store: DocumentStore | None = None
        front: Front | None = None
        try:
            await clock.pin(int(at_day(config.start, 0).timestamp() * 1000))
            engine_clock = EngineClock(engine.management_url, refresh_interval=1.0)
            await engine_clock.refresh()
            store = await open_store(config.documents_url or f"sqlite:///{data_dir / 'documents.sqlite3'}",
                                     clock=JobClock(engine_clock))
            front = Front(create_insecure_channel(grpc_address=engine.address), store)
            await deploy_models(front.zeebe)
            await seed_directory(store, fast_hasher(), SeedReport(), investors=config.investors)
            workers = InProcessWorkers(engine.address, engine.management_url, store,
                                       settings=WorkerSettings(worker_events=False), engine_clock=engine_clock)
            await workers.start()
            for day in range(config.days):
                await self.act(day, front, store)
                await settle(workers, engine.management_url, quiet=config.quiet, http=clock.http)
                await clock.add(DAY_MS)
                await settle(workers, engine.management_url, quiet=config.quiet, http=clock.http)
                tomorrow = config.start + timedelta(days=day + 1)
                if config.progress and (tomorrow.day == 1 or day == config.days - 1):
                    print(await self.progress_line(store, day + 1), flush=True)
            # The last day's work gets a longer look: the figures below must be final.
            await settle(workers, engine.management_url, quiet=1.0, http=clock.http)
            dashboard = await dashboard_of(store, self.period)
            dashboard.engine = await engine_figures(engine.management_url)
            dashboard.wall_seconds = wallclock.monotonic() - began
            return dashboard
        finally:
            if workers is not None:
                await workers.stop()
            if front is not None:
                await front.channel.close()
            await clock.aclose()
            if store is not None:
                await store.close()
            engine.stop()
            if own_dir:
                shutil.rmtree(data_dir, ignore_errors=True)

    async def act(self, day: int, front: Front, store: DocumentStore) -> None:
        """Everything the outside world does on simulated day ``day`` (the engine clock is at its morning)."""
        now = at_day(self.config.start, day)
        for data in self.plan.signings.get(day, ()):
            await front.sign(data)
            self.tally.signed += 1
            self.tally.stage_expected[data.project_code] = Stage.SIGNED.value
        for posting in self.plan.postings.get(day, ()):
            await front.post_approval(posting.source, posting.record)
            self.tally.records_posted += 1
            expected = self.tally.stage_expected.get(posting.project_code)
            if posting.stage is not None and expected is not None and stages.advances(expected, posting.stage):
                self.tally.stage_expected[posting.project_code] = posting.stage.value
        for code, title, origin in self.plan.reports.get(day, ()):
            project = await store.projects.get(code)
            if project is None or stages.is_final(project.stage):
                continue
            investor = origin == ProblemOrigin.INVESTOR
            reporter = project.investor_user_ids[0] if investor else f"assist-{project.county.code}.staff"
            await front.report_problem(problem_id=f"R-{code}-{day}", project_code=code,
                                       county_code=project.county.code, reporter=reporter, origin=origin,
                                       category="other", title=title, at=now)
            if investor:
                self.tally.investor_reports += 1
            else:
                self.tally.unit_reports += 1
        for code in self.plan.cancellations.get(day, ()):
            project = await store.projects.get(code)
            if project is not None and not stages.is_final(project.stage):
                await front.cancel(code)
                self.tally.cancellations += 1
                self.tally.stage_expected[code] = Stage.CANCELLED.value
        await self.work_inboxes(day, front, store, now)

    async def work_inboxes(self, day: int, front: Front, store: DocumentStore, now: datetime) -> None:
        due: list[tuple[Task, Decision]] = []
        async for task in every_item(lambda page: store.tasks.list(TaskFilter(status=TaskStatus.OPEN), page)):
            if task.job_key not in self.decisions:
                self.decisions[task.job_key] = self.people.decide(task, day)
            decision = self.decisions[task.job_key]
            if decision is not None and decision.day <= day:
                due.append((task, decision))
        for task, decision in due:
            try:
                await front.complete(task, decision.variables, by=decision.by, role=decision.role, at=now)
            except TaskGone:
                self.tally.tasks_gone += 1
                continue
            self.decisions[task.job_key] = None
            if task.element_id == "resolve":
                self.tally.resolutions += 1
            elif task.element_id == "confirm":
                if decision.variables["decision"] == "sendBack":
                    self.tally.send_backs += 1
                else:
                    self.tally.confirmations += 1
            elif task.element_id == "score":
                self.tally.evaluations += 1
            elif task.element_id == "assign_by_hand":
                self.tally.assignments_by_hand += 1

    async def progress_line(self, store: DocumentStore, day: int) -> str:
        month = (self.config.start + timedelta(days=day - 1)).strftime("%Y-%m")
        so_far = Period(start=self.period.start, end=at_day(self.config.start, day, time(0)))
        stats = await store.problems.stats(so_far)
        red = (await store.projects.list(ProjectFilter(light=Light.RED), PageRequest(size=1))).total
        flags = sum((await store.flags.count_open_by_unit()).values())
        return (f"  {month}: signed {self.tally.signed}, records {self.tally.records_posted}, red now {red}, "
                f"problems found {stats.found} resolved {stats.resolved}, open flags {flags}, "
                f"evaluations {self.tally.evaluations}")


def run(config: ScenarioConfig) -> tuple[Dashboard, Tally]:
    scenario = Scenario(config)
    dashboard = asyncio.run(scenario.run())
    return dashboard, scenario.tally


__all__ = ["Dashboard", "Scenario", "ScenarioConfig", "Tally", "dashboard_of", "draw_plan", "run"]
