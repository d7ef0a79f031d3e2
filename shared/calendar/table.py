"""The holiday table: parsing, validation and the canonical JSON layout.

A table is the JSON document described in README.md. `parse_table` turns it into a `HolidayTable`
or raises `HolidayTableError` naming the exact place that is wrong, so a hand edit that breaks the
file fails loudly at load time instead of silently moving deadlines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

FORMAT = 1

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_KEY = re.compile(r"\d{4}")
_TOP_KEYS = {"format", "about", "years"}
_YEAR_KEYS = {"source", "note", "holidays", "workdays"}
_ENTRY_KEYS = {"date", "zh", "en"}
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class HolidayTableError(ValueError):
    """The table is malformed; the message starts with the path of the offending value."""


@dataclass(frozen=True, slots=True)
class DayName:
    zh: str
    en: str | None = None


@dataclass(frozen=True, slots=True)
class YearArrangement:
    """One year's State Council arrangement.

    `workdays` are the adjusted workdays (调休上班日); each is named after the holiday it makes up for.
    """

    year: int
    source: str
    holidays: Mapping[date, DayName]
    workdays: Mapping[date, DayName]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class HolidayTable:
    years: Mapping[int, YearArrangement]
    about: str | None = None


def parse_table(doc: Any) -> HolidayTable:
    if not isinstance(doc, Mapping):
        raise HolidayTableError(f"$: expected a JSON object, got {type(doc).__name__}")
    _no_unknown_keys(doc, _TOP_KEYS, "$")
    if type(doc.get("format")) is not int or doc["format"] != FORMAT:
        raise HolidayTableError(f"$.format: expected {FORMAT}, got {doc.get('format')!r}")
    about = _optional_str(doc, "about", "$")
    years_doc = doc.get("years")
    if not isinstance(years_doc, Mapping):
        raise HolidayTableError("$.years: expected an object keyed by year, e.g. {\"2025\": {...}}")
    years: dict[int, YearArrangement] = {}
    for key, year_doc in years_doc.items():
        path = f"$.years.{key}"
        if not isinstance(key, str) or not _YEAR_KEY.fullmatch(key):
            raise HolidayTableError(f"{path}: year keys are four digits, e.g. \"2027\"")
        years[int(key)] = _parse_year(int(key), year_doc, path)
    return HolidayTable(years=dict(sorted(years.items())), about=about)


def load_table(path: str) -> HolidayTable:
    with open(path, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise HolidayTableError(f"{path}: not valid JSON: {e}") from e
    return parse_table(doc)


def _parse_year(year: int, doc: Any, path: str) -> YearArrangement:
    if not isinstance(doc, Mapping):
        raise HolidayTableError(f"{path}: expected an object with holidays and workdays")
    _no_unknown_keys(doc, _YEAR_KEYS, path)
    source = _optional_str(doc, "source", path)
    if not source:
        raise HolidayTableError(f"{path}.source: say where the arrangement comes from (notice number or URL)")
    holidays = _parse_entries(year, doc.get("holidays"), f"{path}.holidays")
    workdays = _parse_entries(year, doc.get("workdays"), f"{path}.workdays")
    both = sorted(holidays.keys() & workdays.keys())
    if both:
        raise HolidayTableError(f"{path}: {both[0].isoformat()} is listed both as a holiday and as a workday")
    for d in workdays:
        if d.weekday() < 5:
            # A Monday-Friday "adjusted workday" changes nothing, so it is almost surely a typo.
            raise HolidayTableError(
                f"{path}.workdays: {d.isoformat()} is a {_WEEKDAY_NAMES[d.weekday()]}, already a working day;"
                " adjusted workdays are Saturdays or Sundays"
            )
    return YearArrangement(year, source, holidays, workdays, _optional_str(doc, "note", path))


def _parse_entries(year: int, entries: Any, path: str) -> dict[date, DayName]:
    if not isinstance(entries, list):
        raise HolidayTableError(f"{path}: expected a list (may be empty)")
    out: dict[date, DayName] = {}
    for i, entry in enumerate(entries):
        at = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            raise HolidayTableError(f"{at}: expected an object like {{\"date\": \"{year}-10-01\", \"zh\": \"国庆节\"}}")
        _no_unknown_keys(entry, _ENTRY_KEYS, at)
        d = _parse_date(entry.get("date"), f"{at}.date")
        if d.year != year:
            raise HolidayTableError(f"{at}.date: {d.isoformat()} is filed under year {year}")
        if d in out:
            raise HolidayTableError(f"{at}.date: {d.isoformat()} is listed twice in {path}")
        zh = entry.get("zh")
        if not isinstance(zh, str) or not zh.strip():
            raise HolidayTableError(f"{at}.zh: the Chinese name is required")
        out[d] = DayName(zh, _optional_str(entry, "en", at))
    return out


def _parse_date(value: Any, path: str) -> date:
    # fromisoformat alone also accepts "20251001" and week dates; the file uses one spelling only.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise HolidayTableError(f"{path}: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise HolidayTableError(f"{path}: {value!r} is not a calendar date ({e})") from e


def _optional_str(doc: Mapping[str, Any], key: str, path: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise HolidayTableError(f"{path}.{key}: expected a string, got {type(value).__name__}")
    return value


def _no_unknown_keys(doc: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(str(k) for k in doc.keys() - allowed)
    if unknown:
        raise HolidayTableError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def dump_table(table: HolidayTable) -> str:
    """The canonical text of a table: one date per line, so a review diff shows exactly the dates changed."""
    lines = ["{", f'  "format": {FORMAT},']
    if table.about is not None:
        lines.append(f'  "about": {_js(table.about)},')
    lines.append('  "years": {')
    year_blocks = []
    for arr in table.years.values():
        block = [f'    "{arr.year}": {{', f'      "source": {_js(arr.source)},']
        if arr.note is not None:
            block.append(f'      "note": {_js(arr.note)},')
        block.append(_entries_block("holidays", arr.holidays) + ",")
        block.append(_entries_block("workdays", arr.workdays))
        block.append("    }")
        year_blocks.append("\n".join(block))
    lines.append(",\n".join(year_blocks))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _entries_block(key: str, entries: Mapping[date, DayName]) -> str:
    if not entries:
        return f'      "{key}": []'
    rows = []
    for d in sorted(entries):
        name = entries[d]
        row = f'{{"date": "{d.isoformat()}", "zh": {_js(name.zh)}'
        if name.en is not None:
            row += f', "en": {_js(name.en)}'
        rows.append("        " + row + "}")
    return f'      "{key}": [\n' + ",\n".join(rows) + "\n      ]"


def _js(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)
