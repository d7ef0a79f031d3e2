"""``notification.send``: notify the people a job is about, through the outbox, exactly once per job.

| task type | headers | reads | writes |
|---|---|---|---|
| ``notification.send`` | ``template`` (see templates.py), ``audience`` (comma list of ``unit``, ``units``, ``leaders``, ``office``) | ``problemId``, ``projectCode``, ``assignment``, ``assignments``, ``dueAt`` | ``notified`` |

Each (channel, recipient) pair of a job is one outbox document keyed ``<job key>:<channel>:<recipient>``, so
a redelivered job (a worker crashed after sending, before completing) finds what it already sent and sends
only what is still pending. A sender claims a message for a lease as long as the job's timeout before
sending. Failures that may heal (network, 5xx, rate limits, SMTP 4xx) fail the job with a doubling
back-off; the engine redelivers it and only the pending messages go out; once the model's retries are
spent the job becomes an incident. Failures that cannot heal mark that message failed for good.

Channels: every person of the audience gets an email (when SMTP is configured and they have an address)
and an SMS (when the SMS gateway is configured and they have a phone); each configured group robot
(DingTalk, WeCom) gets one message per job, mentioning the audience's phones.
"""

from datetime import timedelta
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from services.workers.notification import channels
from services.workers.notification.templates import TEMPLATES, Facts, render
from services.workers.runtime import PermanentFailure, RetryLater, WorkerContext, parse_time
from shared.calendar import SHANGHAI
from shared.documents.models import (
    Channel,
    NewNotification,
    Notification,
    NotificationStatus,
    PageRequest,
    Role,
    User,
)
from shared.logging import get_logger

FAMILY = "notification"
TIMEOUT_MS = 60_000
AUDIENCES = {"unit", "units", "leaders", "office"}
ROBOT = {Channel.DINGTALK: "dingtalk-robot", Channel.WECOM: "wecom-robot"}

log = get_logger(__name__)


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    settings = ctx.settings

    async def audience_of(names: list[str], unit_ids: list[str], county_code: str | None) -> list[User]:
        people: dict[str, User] = {}
        for name in names:
            if name in ("unit", "units"):
                for unit_id in unit_ids:
                    people.update({u.username: u for u in await ctx.store.users.members_of(unit_id)})
            elif name == "leaders":
                page = await ctx.store.users.list(role=Role.LEADER, active=True, page=PageRequest(size=500))
                people.update({u.username: u for u in page.items})
            elif name == "office":
                for office in ("office-city", f"office-{county_code}" if county_code else None):
                    if office:
                        people.update({u.username: u for u in await ctx.store.users.members_of(office)})
        return sorted(people.values(), key=lambda u: u.username)

    def plan(job: Job, people: list[User], subject: str, body: str, project_code: str | None) -> list[NewNotification]:
        now = ctx.now()
        out: list[NewNotification] = []

        def add(channel: Channel, recipient: str, text: str) -> None:
            out.append(NewNotification(id=f"{job.key}:{channel.value}:{recipient}", channel=channel,
                                       recipient=recipient, subject=subject, body=text, project_code=project_code,
                                       created_at=now))

        for person in people:
            if settings.smtp_host and person.email:
                add(Channel.EMAIL, person.email, body)
            if settings.sms_gateway_url and person.phone:
                add(Channel.SMS, person.phone, body)
        mobiles = [p.phone for p in people if p.phone]
        mentions = (" " + " ".join(f"@{m}" for m in mobiles)) if mobiles else ""
        if settings.dingtalk_webhook_url:
            add(Channel.DINGTALK, ROBOT[Channel.DINGTALK], body + mentions)
        if settings.wecom_webhook_url:
            add(Channel.WECOM, ROBOT[Channel.WECOM], body)
        return out

    async def deliver(note: Notification, mobiles: list[str]) -> None:
        if note.channel == Channel.EMAIL:
            await channels.send_email(settings, note.recipient, note.subject, note.body, note.id)
        elif note.channel == Channel.SMS:
            await channels.send_sms(ctx.http, settings, note.recipient, note.body, note.id)
        elif note.channel == Channel.DINGTALK:
            await channels.send_dingtalk(ctx.http, settings, note.body, mobiles)
        else:
            await channels.send_wecom(ctx.http, settings, note.body, mobiles)

    @r.task(task_type="notification.send", timeout_ms=TIMEOUT_MS, max_running_jobs=8)
    async def send(job: Job, problemId: str | None = None, projectCode: str | None = None,
                   assignment: dict | None = None, assignments: list | None = None,
                   dueAt: str | None = None) -> dict[str, Any]:
        headers = job.custom_headers or {}
        template = headers.get("template", "")
        if template not in TEMPLATES:
            raise PermanentFailure(f"task header 'template' must be one of {sorted(TEMPLATES)}, got {template!r}")
        names = [a.strip() for a in headers.get("audience", "").split(",") if a.strip()]
        if not names or set(names) - AUDIENCES:
            raise PermanentFailure(f"task header 'audience' must list some of {sorted(AUDIENCES)}, got {names!r}")

        problem = await ctx.store.problems.get(problemId) if problemId else None
        code = projectCode or (problem.project_code if problem else None)
        project = await ctx.store.projects.get(code) if code else None
        if isinstance(assignment, dict) and assignment.get("unitId"):
            units = [assignment]
        elif isinstance(assignments, list):
            units = [a for a in assignments if isinstance(a, dict) and a.get("unitId")]
        else:
            units = []
        unit_ids = [a["unitId"] for a in units] or ([u.unit_id for u in problem.units] if problem else [])
        facts = Facts(
            project=f"{project.name}（{project.project_code}）" if project else (code or ""),
            title=problem.title if problem else "",
            unit="、".join(str(a.get("unitName") or a["unitId"]) for a in units),
            due=f"{parse_time(dueAt, 'dueAt').astimezone(SHANGHAI):%Y-%m-%d}" if dueAt else "",
        )
        subject, body = render(template, facts)
        people = await audience_of(names, unit_ids, project.county.code if project else None)
        mobiles = [p.phone for p in people if p.phone]

        sent = 0
        pending: list[Notification] = []
        lease = timedelta(milliseconds=TIMEOUT_MS)
        for new in plan(job, people, subject, body, code):
            note = (await ctx.store.notifications.enqueue(new)).item
            if note.status == NotificationStatus.SENT:
                sent += 1
                continue
            if note.status == NotificationStatus.FAILED:
                continue
            claimed = await ctx.store.notifications.claim_for_sending(note.id, at=ctx.now(), lease=lease)
            if claimed is None:
                pending.append(note)  # someone else's live lease: look again after it
                continue
            try:
                await deliver(claimed, mobiles)
            except channels.DeliveryFailed as error:
                log.warning("delivery failed", notification=claimed.id, channel=claimed.channel,
                            transient=error.transient, error=str(error))
                failed = await ctx.store.notifications.mark_failed(claimed.id, error=str(error),
                                                                   final=not error.transient)
                if error.transient:
                    pending.append(failed)
                continue
            await ctx.store.notifications.mark_sent(claimed.id, at=ctx.now())
            sent += 1
        if pending:
            attempts = max(n.attempts for n in pending)
            base = timedelta(milliseconds=settings.notify_backoff_ms)
            raise RetryLater(f"{len(pending)} notification(s) not delivered yet: "
                             f"{', '.join(n.id for n in pending[:5])}",
                             backoff=min(timedelta(hours=1), base * (2 ** max(0, attempts - 1))))
        return {"notified": sent}

    return r
