"""Approval records move a project's stage through the docking process and reset the 90-day clock; a
project that reaches production or is cancelled ends its life cycle."""

from __future__ import annotations

from datetime import timedelta

from shared.calendar import SHANGHAI
from shared.documents.models import Light, Stage
from tests.integration.workers.harness import Platform, project


def gonggai(record_id: str, code: str, item: str, status: str, at: str) -> dict[str, str]:
    return {"lsh": record_id, "xmdm": code, "sxbm": item, "blzt": status, "blsj": at}


async def test_approval_messages_move_the_stage_and_reset_the_stall_clock(platform: Platform) -> None:
    code = "2025-320804-31-03-000010"
    await platform.front.sign(project(code, county="320804"))
    await platform.settle()
    await platform.move(days=60)
    today = platform.now().astimezone(SHANGHAI)
    at = (today + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    await platform.front.post_approval("gonggai", gonggai("GG-1", code, "GG-LX-01", "受理", at))
    await platform.front.post_approval("gonggai", gonggai("GG-2", code, "GG-LX-01", "办结", at))
    await platform.front.post_approval("gonggai", gonggai("GG-2", code, "GG-LX-01", "办结", at))  # resent
    await platform.settle()
    moved = await platform.store.projects.require(code)
    assert moved.stage == Stage.FILING
    assert [(e.stage, e.source) for e in moved.stage_history] == [(Stage.SIGNED, "signing"),
                                                                  (Stage.FILING, "gonggai:GG-2")]
    assert len(await platform.store.approvals.list_for_project(code)) == 2
    progress_at = moved.last_progress_at

    # 90 days after signing: no warning, the clock restarted at the approval.
    await platform.move(days=40)
    assert (await platform.store.projects.require(code)).light == Light.GREEN
    assert (await platform.store.problems.list()).total == 0
    # 90 days after the approval: red.
    remaining = progress_at + timedelta(days=90) - platform.now()
    await platform.move(hours=remaining.total_seconds() / 3600 + 1)
    red = await platform.store.projects.require(code)
    assert red.light == Light.RED and (await platform.store.problems.list()).total == 1

    # Progress again: the light goes out; a late land record does not move the stage back... then production.
    today = platform.now().astimezone(SHANGHAI)
    stamp = (today + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    await platform.front.post_approval("gonggai", gonggai("GG-3", code, "GG-SG-01", "办结", stamp))
    await platform.settle()
    lit = await platform.store.projects.require(code)
    assert lit.light == Light.GREEN and lit.stage == Stage.CONSTRUCTION_PERMIT
    await platform.front.post_approval("gonggai", gonggai("GG-4", code, "GG-YD-01", "办结", stamp))
    await platform.settle()
    assert (await platform.store.projects.require(code)).stage == Stage.CONSTRUCTION_PERMIT
    await platform.front.post_approval("gonggai", gonggai("GG-5", code, "GG-TC-01", "办结", stamp))
    await platform.settle()
    done = await platform.store.projects.require(code)
    assert done.stage == Stage.IN_PRODUCTION
    assert platform.log.instance_state(done.process_instance_key) == "ELEMENT_COMPLETED"  # type: ignore[arg-type]
    # Its open warning problem closed with the life cycle; nobody is chased about it any more.
    problem = (await platform.store.problems.list()).items[0]
    assert problem.status == "closed" and problem.history[-1].action == "closed_with_project"
    assert await platform.open_tasks(problem_id=problem.id) == []
    assert platform.incidents() == []


async def test_records_for_unknown_projects_and_unreadable_records(platform: Platform) -> None:
    stranger = await platform.front.post_approval("tuzhi", {"reviewId": "TZ-9", "projectCode": "NOT-SIGNED",
                                                            "reviewType": "施工图审查", "conclusion": "通过",
                                                            "finishedAt": "2025-06-27T15:00:00+08:00"})
    broken = await platform.front.post_approval("gonggai", {"lsh": "GG-X", "xmdm": "P", "sxbm": "GG-LX-01",
                                                            "blzt": "已经办好", "blsj": "2025-06-27 10:00:00"})
    await platform.settle()
    assert "not_supervised" in platform.log.completed_elements(stranger)
    assert (await platform.store.approvals.get("tuzhi", "TZ-9")) is not None  # kept, in case it is signed later
    assert "rejected" in platform.log.completed_elements(broken)
    assert await platform.store.approvals.get("gonggai", "GG-X") is None
    assert platform.incidents() == []


async def test_cancellation_ends_the_life_cycle(platform: Platform) -> None:
    code = "2025-320826-31-03-000011"
    await platform.front.sign(project(code, county="320826"))
    await platform.settle()
    await platform.front.cancel(code)
    await platform.settle()
    cancelled = await platform.store.projects.require(code)
    assert cancelled.stage == Stage.CANCELLED
    assert platform.log.instance_state(cancelled.process_instance_key) == "ELEMENT_COMPLETED"  # type: ignore[arg-type]
