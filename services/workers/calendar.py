"""Calendar: work-order deadlines in working days on the statutory calendar, Asia/Shanghai.

| task type | reads | writes |
|---|---|---|
| ``calendar.due-date`` | ``rules`` (``resolutionWorkingDays``, ``reminderWorkingDaysBefore``), ``problemId`` (optional) | ``dueAt``, ``remindAt``, ``dueProvisional`` |

The deadline counts from now (the job's activation); when a problem is named, its due date is recorded
on it, so the big screen can tell overdue work orders.
"""

from typing import Any

from pyzeebe import ZeebeTaskRouter

from services.workers.escalation import problem_of
from services.workers.lifecycle import rules_of
from services.workers.runtime import WorkerContext, iso
from shared.domain.deadlines import deadline

FAMILY = "calendar"


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    @r.task(task_type="calendar.due-date")
    async def due_date(rules: dict | None = None, problemId: str | None = None) -> dict[str, Any]:
        knobs = rules_of(rules)
        now = ctx.now()
        result = deadline(now, working_days=knobs.resolution_working_days,
                          remind_before=knobs.reminder_working_days_before, calendar=ctx.calendar)
        if problemId is not None:
            problem = await problem_of(ctx, problemId)
            if problem.due_at != result.due_at:
                await ctx.store.problems.transition(
                    problem.id, status=problem.status, action="deadline", actor=actor, at=now,
                    note=f"办理期限 {result.due_at:%Y-%m-%d}（{knobs.resolution_working_days} 个工作日）",
                    due_at=result.due_at, expected_status=problem.status)
        return {"dueAt": iso(result.due_at), "remindAt": iso(result.remind_at), "dueProvisional": result.provisional}

    return r
