"""tools/seed_holidays.py, run as a developer would: as a process on a copy of the table."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import chinese_calendar

from shared.calendar import WorkingCalendar, load_table

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "shared" / "calendar" / "holidays_cn.json"
GENERATED = f"chinesecalendar {chinese_calendar.__version__}"
# Hand-entered test data in the shape of a State Council notice; not the real 2027 arrangement.
HAND_2027 = {
    "source": "test: hand-entered",
    "note": "entered by hand for the seeder test",
    "holidays": [{"date": "2027-01-01", "zh": "元旦", "en": "New Year's Day"}],
    "workdays": [],
}


def seed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "seed_holidays.py"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )


def test_committed_table_is_what_the_seeder_writes():
    run = seed("--check")
    assert run.returncode == 0, run.stderr
    assert "is up to date (23 years)" in run.stdout


def test_reseeding_refreshes_generated_years_and_keeps_hand_entered_ones(tmp_path):
    doc = json.loads(BUNDLED.read_text(encoding="utf-8"))
    doc["years"]["2027"] = HAND_2027
    # Simulate a stale generated year: National Day 2025 lost its first day.
    doc["years"]["2025"]["holidays"] = [h for h in doc["years"]["2025"]["holidays"] if h["date"] != "2025-10-01"]
    out = tmp_path / "holidays_cn.json"
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    assert seed("--check", "--output", str(out)).returncode == 1
    run = seed("--output", str(out))
    assert run.returncode == 0, run.stderr
    assert "2027: kept (entered by hand, source: test: hand-entered)" in run.stdout

    refreshed = load_table(str(out))
    assert refreshed.years[2027].source == "test: hand-entered"
    assert refreshed.years[2027].note == "entered by hand for the seeder test"
    assert [d.isoformat() for d in refreshed.years[2027].holidays] == ["2027-01-01"]
    assert refreshed.years[2025].source == GENERATED
    cal = WorkingCalendar(refreshed)
    assert cal.holiday_name(date(2025, 10, 1)) == "国庆节"
    assert cal.covered(2027)
    assert seed("--check", "--output", str(out)).returncode == 0


def test_a_hand_entered_year_the_package_covers_is_kept_and_flagged(tmp_path):
    doc = json.loads(BUNDLED.read_text(encoding="utf-8"))
    hand = doc["years"]["2026"]
    hand["source"] = "国办发明电〔2025〕7号 (test copy)"
    hand["holidays"] = [h for h in hand["holidays"] if h["date"] != "2026-10-07"]
    out = tmp_path / "holidays_cn.json"
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    run = seed("--output", str(out))
    assert run.returncode == 0, run.stderr
    assert f"2026: kept the hand-entered year, but {GENERATED} disagrees on its dates" in run.stdout
    kept = load_table(str(out)).years[2026]
    assert kept.source == "国办发明电〔2025〕7号 (test copy)"
    assert "2026-10-07" not in {d.isoformat() for d in kept.holidays}


def test_an_invalid_table_is_left_untouched(tmp_path):
    doc = json.loads(BUNDLED.read_text(encoding="utf-8"))
    doc["years"]["2027"] = {**HAND_2027, "workdays": [{"date": "2027-01-01", "zh": "元旦"}]}
    out = tmp_path / "holidays_cn.json"
    before = json.dumps(doc, ensure_ascii=False)
    out.write_text(before, encoding="utf-8")

    run = seed("--output", str(out))
    assert run.returncode == 2
    assert "refusing to rewrite an invalid table: $.years.2027: 2027-01-01 is listed both" in run.stderr
    assert out.read_text(encoding="utf-8") == before
