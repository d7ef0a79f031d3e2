"""The life-cycle stages in order, and the rule that a project only ever moves forward.

Approval systems report late and out of order (a land record may arrive after the construction permit);
such a record is progress, but it never moves the stage back.
"""

from __future__ import annotations

from shared.documents.models import Stage

LIFE_CYCLE: tuple[Stage, ...] = (
    Stage.SIGNED,
    Stage.FILING,
    Stage.LAND,
    Stage.PLANNING,
    Stage.CONSTRUCTION_PERMIT,
    Stage.STARTED,
    Stage.COMPLETED,
    Stage.IN_PRODUCTION,
)
FINAL: frozenset[Stage] = frozenset({Stage.IN_PRODUCTION, Stage.CANCELLED})

NAMES_ZH: dict[Stage, str] = {
    Stage.SIGNED: "签约",
    Stage.FILING: "立项/备案",
    Stage.LAND: "用地",
    Stage.PLANNING: "规划许可",
    Stage.CONSTRUCTION_PERMIT: "施工许可",
    Stage.STARTED: "开工",
    Stage.COMPLETED: "竣工",
    Stage.IN_PRODUCTION: "投产",
    Stage.CANCELLED: "已取消",
}


def position(stage: Stage | str) -> int:
    """0 for signed ... 7 for in production; cancelled is not on the way and raises ValueError."""
    stage = Stage(stage)
    if stage == Stage.CANCELLED:
        raise ValueError("a cancelled project has no position in the life cycle")
    return LIFE_CYCLE.index(stage)


def next_stage(stage: Stage | str) -> Stage | None:
    """The stage a project at ``stage`` is working towards; None once it is final."""
    stage = Stage(stage)
    if stage in FINAL:
        return None
    return LIFE_CYCLE[position(stage) + 1]


def advances(current: Stage | str, implied: Stage | str | None) -> bool:
    """Whether a record implying ``implied`` moves a project at ``current`` forward."""
    if implied is None:
        return False
    current, implied = Stage(current), Stage(implied)
    if current in FINAL or implied == Stage.CANCELLED:
        return False
    return position(implied) > position(current)


def is_final(stage: Stage | str) -> bool:
    return Stage(stage) in FINAL
