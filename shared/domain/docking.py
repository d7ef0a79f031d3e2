"""Approval records from the two approval systems, normalised into one shape.

工改 (``gonggai``, the construction-approval reform system) and 联合图审 (``tuzhi``, joint drawing review) post
their records in their own field names; ``normalise`` turns either into an ``ApprovalRecord`` and says which
life-cycle stage a record implies. Only a completed item implies a stage (a permit that is merely accepted
is progress, not a stage). Items the table does not know are still progress, so a new item on the
approval side never loses a record; they just move no stage until the table learns them.

Field names (times without a zone are Beijing time):

- gonggai: ``lsh`` record id (流水号), ``xmdm`` project code (项目代码), ``sxbm`` item code (事项编码),
  ``sxmc`` item name (事项名称), ``blzt`` status (办理状态: 受理, 办理中, 补正, 办结, 不予许可, 退回),
  ``blsj`` time (办理时间), ``bljgdm``/``bljgmc`` unit code and name (办理机构).
- tuzhi: ``reviewId``, ``projectCode``, ``reviewType`` (e.g. 施工图审查), ``conclusion`` (审查中, 通过, 不通过),
  ``finishedAt``, ``agencyCode``/``agency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.calendar import SHANGHAI
from shared.documents.models import ApprovalRecord, ApprovalSource, Stage


class RecordRejected(ValueError):
    """A record that cannot be understood; the message names the field."""


@dataclass(frozen=True, slots=True)
class Item:
    code: str
    name: str
    stage: Stage | None  # the stage the item's completion implies


ITEMS: dict[str, Item] = {item.code: item for item in (
    Item("GG-LX-01", "企业投资项目备案", Stage.FILING),
    Item("GG-LX-02", "企业投资项目核准", Stage.FILING),
    Item("GG-YD-01", "建设项目用地预审与选址意见书", Stage.LAND),
    Item("GG-YD-02", "建设用地规划许可证", Stage.LAND),
    Item("GG-GH-01", "建设工程规划许可证", Stage.PLANNING),
    Item("GG-SG-01", "建筑工程施工许可证", Stage.CONSTRUCTION_PERMIT),
    Item("GG-KG-01", "开工报告", Stage.STARTED),
    Item("GG-JG-01", "竣工验收备案", Stage.COMPLETED),
    Item("GG-TC-01", "投产确认", Stage.IN_PRODUCTION),
    Item("GG-HP-01", "环境影响评价审批", None),
    Item("GG-XF-01", "消防设计审查", None),
    Item("TZ-SGT", "施工图设计文件审查", None),
)}

# The item a project at a stage waits for, e.g. the approval a stalled project is blocked on.
ITEM_FOR_STAGE: dict[Stage, str] = {item.stage: code for code, item in reversed(ITEMS.items())
                                    if item.stage is not None}

_GONGGAI_STATUS = {
    "受理": "accepted", "办理中": "in_progress", "补正": "correction", "办结": "approved",
    "不予许可": "rejected", "退回": "returned",
}
_TUZHI_STATUS = {"审查中": "in_progress", "通过": "approved", "合格": "approved", "不通过": "rejected",
                 "不合格": "rejected"}
_TUZHI_ITEMS = {"施工图审查": "TZ-SGT", "施工图设计文件审查": "TZ-SGT"}
# A record dated this far ahead of the receiving clock is a sender's clock error, not the future.
MAX_CLOCK_SKEW = timedelta(days=1)


def normalise(source: str, raw: dict[str, Any], *, received_at: datetime) -> ApprovalRecord:
    """The ``ApprovalRecord`` a raw record says, or ``RecordRejected`` naming what is wrong."""
    try:
        system = ApprovalSource(source)
    except ValueError:
        raise RecordRejected(f"unknown approval system {source!r}; expected 'gonggai' or 'tuzhi'") from None
    if not isinstance(raw, dict):
        raise RecordRejected(f"a {system} record must be a JSON object, got {type(raw).__name__}")
    if system == ApprovalSource.GONGGAI:
        fields = _gonggai(raw)
    else:
        fields = _tuzhi(raw)
    occurred_at: datetime = fields["occurred_at"]
    if occurred_at > received_at + MAX_CLOCK_SKEW:
        raise RecordRejected(f"the record is dated {occurred_at.isoformat()}, after it was received "
                             f"({received_at.isoformat()})")
    item = ITEMS.get(fields["item_code"])
    stage = item.stage if item is not None and fields["status"] == "approved" else None
    try:
        return ApprovalRecord(source=system, stage=stage, received_at=received_at, raw=raw, **fields)
    except ValidationError as error:
        first = error.errors()[0]
        raise RecordRejected(f"{system} record: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def _gonggai(raw: dict[str, Any]) -> dict[str, Any]:
    status = _text(raw, "blzt", "gonggai")
    if status not in _GONGGAI_STATUS:
        raise RecordRejected(f"gonggai record: unknown status blzt={status!r}; expected one of "
                             f"{list(_GONGGAI_STATUS)}")
    code = _text(raw, "sxbm", "gonggai")
    item = ITEMS.get(code)
    return {
        "source_record_id": _text(raw, "lsh", "gonggai"),
        "project_code": _text(raw, "xmdm", "gonggai"),
        "item_code": code,
        "item_name": _optional(raw, "sxmc") or (item.name if item else code),
        "status": _GONGGAI_STATUS[status],
        "unit_id": _optional(raw, "bljgdm"),
        "unit_name": _optional(raw, "bljgmc"),
        "occurred_at": _time(raw, "blsj", "gonggai"),
    }


def _tuzhi(raw: dict[str, Any]) -> dict[str, Any]:
    conclusion = _text(raw, "conclusion", "tuzhi")
    if conclusion not in _TUZHI_STATUS:
        raise RecordRejected(f"tuzhi record: unknown conclusion {conclusion!r}; expected one of {list(_TUZHI_STATUS)}")
    review_type = _text(raw, "reviewType", "tuzhi")
    return {
        "source_record_id": _text(raw, "reviewId", "tuzhi"),
        "project_code": _text(raw, "projectCode", "tuzhi"),
        "item_code": _TUZHI_ITEMS.get(review_type, f"TZ:{review_type}"),
        "item_name": review_type,
        "status": _TUZHI_STATUS[conclusion],
        "unit_id": _optional(raw, "agencyCode"),
        "unit_name": _optional(raw, "agency"),
        "occurred_at": _time(raw, "finishedAt", "tuzhi"),
    }


def _text(raw: dict[str, Any], key: str, system: str) -> str:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RecordRejected(f"{system} record: '{key}' is missing")
    if not isinstance(value, str | int):
        raise RecordRejected(f"{system} record: '{key}' must be text, got {type(value).__name__}")
    return str(value).strip()


def _optional(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return str(value).strip() if isinstance(value, str | int) and str(value).strip() else None


def _time(raw: dict[str, Any], key: str, system: str) -> datetime:
    text = _text(raw, key, system)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RecordRejected(f"{system} record: '{key}' = {text!r} is not a time such as "
                             "'2024-03-05 10:20:00'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)
