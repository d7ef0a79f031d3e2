"""What the domain folders share: response models that show times in the display zone, pagination,
periods in local (Asia/Shanghai) terms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, SerializerFunctionWrapHandler, field_serializer

from gateway.errors import FieldError, Unprocessable
from shared.clock import DISPLAY_ZONE, to_display
from shared.documents.models import Page, PageRequest, Period

T = TypeVar("T")


class Out(BaseModel):
    """Mixed into response models: every instant is written in the display zone (storage stays UTC)."""

    @field_serializer("*", mode="wrap", when_used="json", check_fields=False)
    def _show_local(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return to_display(value).isoformat(timespec="milliseconds")
        return handler(value)


class PageOut(Out, Generic[T]):
    model_config = ConfigDict(arbitrary_types_allowed=False)

    items: list[T]
    total: int
    page: int
    size: int
    pages: int


def page_out(page: Page[Any], items: list[T]) -> dict[str, Any]:
    return {"items": items, "total": page.total, "page": page.page, "size": page.size, "pages": page.pages}


def pagination(
    page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=200, description="items per page")] = 50,
) -> PageRequest:
    return PageRequest(page=page, size=size)


Pagination = Annotated[PageRequest, Depends(pagination)]


def local_instant(value: datetime | date, *, end_of_day: bool = False) -> datetime:
    """A date means local midnight (the next one with ``end_of_day``); a naive time means local time."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=DISPLAY_ZONE) if value.tzinfo is None else value).astimezone(UTC)
    day = value + timedelta(days=1) if end_of_day else value
    return datetime.combine(day, time(0), tzinfo=DISPLAY_ZONE).astimezone(UTC)


def month_period(now: datetime) -> Period:
    """The calendar month of ``now`` in the display zone."""
    local = to_display(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start=start.astimezone(UTC), end=end.astimezone(UTC))


def year_period(now: datetime) -> Period:
    local = to_display(now)
    start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return Period(start=start.astimezone(UTC), end=start.replace(year=start.year + 1).astimezone(UTC))


def period_from_query(start: datetime | date | None, end: datetime | date | None, default: Period) -> Period:
    """``from``/``to`` query values (dates are whole local days, ``to`` inclusive) or the default period."""
    begin = local_instant(start) if start is not None else default.start
    finish = local_instant(end, end_of_day=True) if end is not None else default.end
    if finish <= begin:
        raise Unprocessable(f"'to' ({finish.isoformat()}) must be after 'from' ({begin.isoformat()})",
                            errors=[FieldError(pointer="#/query/to", field="to", message="must be after 'from'")])
    return Period(start=begin, end=finish)


MIN_YEAR, MAX_YEAR = 1970, 2200


def _sane_year(value: date | datetime) -> date | datetime:
    # Also keeps instants far from the calendar's ends, where a zone shift overflows.
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return value


DateOrTime = Annotated[date | datetime, AfterValidator(_sane_year)]
