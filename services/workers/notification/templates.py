"""What the notifications say (Chinese first: the people reading them are unit staff and leaders).

A template is chosen by the ``template`` task header; the facts come from the problem, the project and the
unit the job is about.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Facts:
    project: str  # "name（code）"
    title: str  # the problem's title
    unit: str  # the responsible unit's name, or "" when the job is about all of them
    due: str  # "2025-10-13" or ""


TEMPLATES: dict[str, tuple[str, str]] = {
    "assigned": ("新工单：{title}",
                 "【千里眼】{project}：{title}。已指派{unit}办理，请于 {due} 前办结并反馈。"),
    "reminder": ("工单即将到期：{title}",
                 "【千里眼】提醒：{unit}承办的{project}问题“{title}”将于 {due} 到期，请尽快办结并反馈。"),
    "overdue": ("工单超期督办：{title}",
                "【千里眼】督办：{unit}承办的{project}问题“{title}”已超过办理期限 {due}，请领导督促办理。"),
    "yellow-flag": ("黄旗：{unit}",
                    "【千里眼】黄旗：{unit}承办的{project}问题“{title}”已超过 30 天未解决，已在大屏亮黄旗。"),
    "red-light": ("红灯预警：{project}",
                  "【千里眼】预警：{project}{title}，已亮红灯并生成问题工单，请营商办关注。"),
}


def render(template: str, facts: Facts) -> tuple[str, str]:
    """(subject, body); ``KeyError`` for an unknown template."""
    subject, body = TEMPLATES[template]
    values = {"project": facts.project, "title": facts.title, "unit": facts.unit or "各责任单位",
              "due": facts.due or "期限"}
    return subject.format(**values), body.format(**values)
