"""Approval records of 工改 and 联合图审 normalised; bad records refused with the field named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.documents.models import ApprovalSource, Stage
from shared.domain.docking import ITEM_FOR_STAGE, ITEMS, RecordRejected, normalise

RECEIVED = datetime(2024, 3, 6, 0, 0, tzinfo=UTC)


def gonggai(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {"lsh": "GG2024000123", "xmdm": "2402-320812-04-01-123456", "sxbm": "GG-SG-01",
                              "sxmc": "建筑工程施工许可证核发", "blzt": "办结", "blsj": "2024-03-05 10:20:00",
                              "bljgdm": "xzsp-320812", "bljgmc": "清江浦区行政审批局"}
    raw.update(overrides)
    return raw


def test_a_completed_permit_implies_its_stage_in_beijing_time() -> None:
    record = normalise("gonggai", gonggai(), received_at=RECEIVED)
    assert record.source == ApprovalSource.GONGGAI
    assert record.id == "gonggai:GG2024000123"
    assert record.stage == Stage.CONSTRUCTION_PERMIT
    assert record.status == "approved"
    assert record.occurred_at == datetime(2024, 3, 5, 2, 20, tzinfo=UTC)
    assert record.unit_id == "xzsp-320812"
    assert record.raw["lsh"] == "GG2024000123"


def test_an_accepted_item_is_progress_without_a_stage() -> None:
    record = normalise("gonggai", gonggai(blzt="受理"), received_at=RECEIVED)
    assert record.status == "accepted"
    assert record.stage is None


def test_an_unknown_item_is_kept_as_progress() -> None:
    record = normalise("gonggai", gonggai(sxbm="GG-NEW-99", sxmc="新事项"), received_at=RECEIVED)
    assert record.item_code == "GG-NEW-99" and record.item_name == "新事项" and record.stage is None


def test_tuzhi_review() -> None:
    record = normalise("tuzhi", {"reviewId": "TZ-7", "projectCode": "P-1", "reviewType": "施工图审查",
                                 "conclusion": "通过", "finishedAt": "2024-03-01T15:00:00+08:00",
                                 "agency": "淮安市施工图审查中心"}, received_at=RECEIVED)
    assert record.source == ApprovalSource.TUZHI and record.item_code == "TZ-SGT"
    assert record.status == "approved" and record.stage is None
    assert record.occurred_at == datetime(2024, 3, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(("source", "raw", "message"), [
    ("gonggai", gonggai(lsh=None), "'lsh' is missing"),
    ("gonggai", gonggai(xmdm="  "), "'xmdm' is missing"),
    ("gonggai", gonggai(blzt="已办"), "unknown status"),
    ("gonggai", gonggai(blsj="5 March"), "'blsj' = '5 March' is not a time"),
    ("gonggai", gonggai(blsj="2024-03-09 10:00:00"), "after it was received"),
    ("gonggai", gonggai(xmdm="has space"), "project_code"),
    ("gonggai", gonggai(sxbm=["x"]), "'sxbm' must be text"),
    ("tuzhi", {"reviewId": "1", "projectCode": "P", "reviewType": "x", "conclusion": "maybe",
               "finishedAt": "2024-03-01"}, "unknown conclusion"),
    ("oa", gonggai(), "unknown approval system"),
    ("tuzhi", ["not", "an", "object"], "JSON object"),
])
def test_bad_records_are_rejected_naming_the_field(source: str, raw: object, message: str) -> None:
    with pytest.raises(RecordRejected, match=message):
        normalise(source, raw, received_at=RECEIVED)  # type: ignore[arg-type]


def test_every_stage_after_signing_has_an_item() -> None:
    assert set(ITEM_FOR_STAGE) == {s for s in Stage if s not in (Stage.SIGNED, Stage.CANCELLED)}
    assert all(ITEMS[code].stage == stage for stage, code in ITEM_FOR_STAGE.items())
