"""Validation of holiday tables: every mistake a hand edit can make gets an error naming its place."""

import copy
import json
import re
from importlib import resources

import pytest

from shared.calendar import HolidayTableError, WorkingCalendar, load_table, parse_table
from shared.calendar.table import dump_table

VALID = {
    "format": 1,
    "years": {
        "2025": {
            "source": "国办发明电〔2024〕12号",
            "holidays": [
                {"date": "2025-10-01", "zh": "国庆节", "en": "National Day"},
                {"date": "2025-10-04", "zh": "国庆节", "en": "National Day"},
            ],
            "workdays": [{"date": "2025-09-28", "zh": "国庆节", "en": "National Day"}],
        }
    },
}


def edited(change) -> dict:
    doc = copy.deepcopy(VALID)
    change(doc)
    return doc


def year(doc: dict) -> dict:
    return doc["years"]["2025"]


def test_the_valid_example_parses():
    table = parse_table(VALID)
    arr = table.years[2025]
    assert [d.isoformat() for d in arr.holidays] == ["2025-10-01", "2025-10-04"]
    assert [d.isoformat() for d in arr.workdays] == ["2025-09-28"]
    assert arr.source == "国办发明电〔2024〕12号"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: year(d)["holidays"].append({"date": "2025-10-01", "zh": "国庆节"}),
         "$.years.2025.holidays[2].date: 2025-10-01 is listed twice in $.years.2025.holidays"),
        (lambda d: year(d)["workdays"].append({"date": "2025-09-28", "zh": "国庆节"}),
         "$.years.2025.workdays[1].date: 2025-09-28 is listed twice"),
        (lambda d: year(d)["workdays"].append({"date": "2025-10-04", "zh": "国庆节"}),
         "$.years.2025: 2025-10-04 is listed both as a holiday and as a workday"),
        (lambda d: year(d)["holidays"][0].update(date="2025-02-30"),
         "$.years.2025.holidays[0].date: '2025-02-30' is not a calendar date"),
        (lambda d: year(d)["holidays"][0].update(date="2025/10/01"),
         "$.years.2025.holidays[0].date: expected YYYY-MM-DD, got '2025/10/01'"),
        (lambda d: year(d)["holidays"][0].update(date="20251001"),
         "$.years.2025.holidays[0].date: expected YYYY-MM-DD, got '20251001'"),
        (lambda d: year(d)["holidays"][0].update(date=20251001),
         "$.years.2025.holidays[0].date: expected YYYY-MM-DD, got 20251001"),
        (lambda d: year(d)["holidays"][0].pop("date"),
         "$.years.2025.holidays[0].date: expected YYYY-MM-DD, got None"),
        (lambda d: year(d)["holidays"][0].update(date="2024-10-01"),
         "$.years.2025.holidays[0].date: 2024-10-01 is filed under year 2025"),
        (lambda d: year(d)["workdays"][0].update(date="2025-10-09"),
         "$.years.2025.workdays: 2025-10-09 is a Thursday, already a working day"),
        (lambda d: year(d)["holidays"][1].pop("zh"),
         "$.years.2025.holidays[1].zh: the Chinese name is required"),
        (lambda d: year(d)["holidays"][1].update(en=1),
         "$.years.2025.holidays[1].en: expected a string, got int"),
        (lambda d: year(d)["holidays"][1].update(name="国庆"),
         "$.years.2025.holidays[1]: unknown key(s) name"),
        (lambda d: year(d).update(holiday=year(d).pop("holidays")),
         "$.years.2025: unknown key(s) holiday"),
        (lambda d: year(d).pop("workdays"),
         "$.years.2025.workdays: expected a list (may be empty)"),
        (lambda d: year(d).pop("source"),
         "$.years.2025.source: say where the arrangement comes from"),
        (lambda d: year(d)["holidays"].append("2025-10-02"),
         "$.years.2025.holidays[2]: expected an object"),
        (lambda d: d["years"].update({"25": {}}),
         '$.years.25: year keys are four digits'),
        (lambda d: d["years"].update({"2026": []}),
         "$.years.2026: expected an object with holidays and workdays"),
        (lambda d: d.pop("format"), "$.format: expected 1, got None"),
        (lambda d: d.update(format=True), "$.format: expected 1, got True"),
        (lambda d: d.update(years=[]), "$.years: expected an object keyed by year"),
    ],
)
def test_mistakes_are_named_precisely(change, message):
    doc = edited(change)
    with pytest.raises(HolidayTableError, match=re.escape(message)):
        parse_table(doc)
    # The calendar refuses the table the same way rather than half-loading it.
    with pytest.raises(HolidayTableError, match=re.escape(message)):
        WorkingCalendar(doc)


def test_a_document_that_is_not_an_object():
    with pytest.raises(HolidayTableError, match=re.escape("$: expected a JSON object, got list")):
        parse_table([])


def test_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "holidays.json"
    path.write_text('{"format": 1, "years": {', encoding="utf-8")
    with pytest.raises(HolidayTableError, match=re.escape(f"{path}: not valid JSON")):
        load_table(str(path))


def test_the_bundled_file_is_in_canonical_form():
    # The seeder writes this form; a hand edit that breaks it would make the next reseed diff noisy.
    text = resources.files("shared.calendar").joinpath("holidays_cn.json").read_text(encoding="utf-8")
    assert dump_table(parse_table(json.loads(text))) == text


def test_canonical_form_round_trips_a_hand_made_table():
    doc = edited(lambda d: d.update(about="test") or year(d).update(note="备注"))
    table = parse_table(doc)
    text = dump_table(table)
    assert parse_table(json.loads(text)) == table
    assert '        {"date": "2025-10-01", "zh": "国庆节", "en": "National Day"},\n' in text
