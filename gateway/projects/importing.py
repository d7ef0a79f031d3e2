"""Importing projects from CSV or JSON with a report per row: every row is checked, good rows are saved
even when others are bad, and nothing is saved on a dry run."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from gateway.auth.principal import Caller
from gateway.context import Services
from gateway.engine import EngineError
from gateway.errors import Unprocessable, UnsupportedMedia
from gateway.projects import schemas as s
from gateway.projects import service

MAX_ROWS = 5000
CSV_COLUMNS = ("project_code", "name", "investor_company", "investor_contact_name", "investor_contact_phone",
               "county_code", "county_name", "industry", "amount_cny", "signed_at", "assistant_unit_id",
               "investor_user_ids")
REQUIRED_COLUMNS = ("project_code", "name", "investor_company", "county_code", "industry", "amount_cny", "signed_at")


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise Unprocessable(f"the CSV header lacks the column(s) {', '.join(missing)}; expected "
                            f"{','.join(CSV_COLUMNS)}")
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise Unprocessable(f"the CSV header has unknown column(s) {', '.join(unknown)}; expected "
                            f"{','.join(CSV_COLUMNS)}")
    rows = []
    for raw in reader:
        cell = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cell.values()):
            continue  # blank lines at the end of a spreadsheet export
        rows.append({
            "project_code": cell.get("project_code", ""),
            "name": cell.get("name", ""),
            "investor": {"company": cell.get("investor_company", ""),
                         "contact_name": cell.get("investor_contact_name") or None,
                         "contact_phone": cell.get("investor_contact_phone") or None},
            "county_code": cell.get("county_code", ""),
            "county_name": cell.get("county_name") or None,
            "industry": cell.get("industry", ""),
            "amount_cny": cell.get("amount_cny", ""),
            "signed_at": cell.get("signed_at", ""),
            "assistant_unit_id": cell.get("assistant_unit_id") or None,
            "investor_user_ids": [u.strip() for u in cell.get("investor_user_ids", "").replace("|", ";").split(";")
                                  if u.strip()],
        })
    return rows


def parse(content: bytes, filename: str, content_type: str) -> list[dict[str, Any]]:
    name = filename.lower()
    try:
        text = content.decode("utf-8-sig")  # spreadsheet exports often start with a BOM
    except UnicodeDecodeError as exc:
        raise Unprocessable(f"the file is not UTF-8 text ({exc})") from exc
    if name.endswith(".json") or "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise Unprocessable(f"the file is not valid JSON: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("projects"), list):
            data = data["projects"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise Unprocessable("a JSON import is an array of project objects (or {\"projects\": [...]})")
        rows = data
    elif name.endswith(".csv") or "csv" in content_type or content_type.startswith("text/plain"):
        rows = _csv_rows(text)
    else:
        raise UnsupportedMedia(f"import a .csv or .json file, not {filename!r} ({content_type})")
    if len(rows) > MAX_ROWS:
        raise Unprocessable(f"at most {MAX_ROWS} rows per import, got {len(rows)}: split the file")
    return rows


def _errors(exc: ValidationError) -> list[s.RowError]:
    return [s.RowError(field=".".join(str(p) for p in e["loc"]) or "row", message=e["msg"]) for e in exc.errors()]


async def run(services: Services, caller: Caller, rows: list[dict[str, Any]], *, sign: bool,
              dry_run: bool) -> s.ImportReport:
    report: list[s.ImportRow] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows, start=1):
        code = raw.get("project_code") if isinstance(raw.get("project_code"), str) else None
        try:
            body = s.ProjectIn.model_validate(raw)
        except ValidationError as exc:
            report.append(s.ImportRow(row=number, project_code=code, status="invalid", errors=_errors(exc)))
            continue
        if body.project_code in seen:
            report.append(s.ImportRow(row=number, project_code=code, status="invalid", errors=[s.RowError(
                field="project_code", message=f"duplicate of row {seen[body.project_code]}")]))
            continue
        seen[body.project_code] = number
        try:
            data = await service.project_data(services, body.project_code, body)
        except Unprocessable as exc:
            field = exc.errors[0].field if exc.errors else "row"
            report.append(s.ImportRow(row=number, project_code=code, status="invalid",
                                      errors=[s.RowError(field=field, message=exc.detail)]))
            continue
        before = await services.store.projects.get(body.project_code)
        if dry_run:
            status = "created" if before is None else ("unchanged" if _same(before, data) else "updated")
            report.append(s.ImportRow(row=number, project_code=code, status=status))
            continue
        try:
            saved = await service.save(services, caller, data, sign=False)
        except Exception as exc:  # one row's failure must not lose the report of the others
            report.append(s.ImportRow(row=number, project_code=code, status="failed",
                                      errors=[s.RowError(field="row", message=f"{type(exc).__name__}: {exc}")]))
            continue
        status = "created" if saved.created else ("unchanged" if _same(before, data) else "updated")
        row = s.ImportRow(row=number, project_code=code, status=status)
        if sign and saved.created:
            project = await services.store.projects.require(body.project_code)
            try:
                await service.publish_signing(services, project)
                row.signed = True
            except EngineError as exc:
                row.signed = False
                row.errors.append(s.RowError(field="signing", message=f"saved, but not signed: {exc.detail}; "
                                             f"POST /api/projects/{body.project_code}/sign retries"))
        report.append(row)
    counts: dict[str, int] = {k: 0 for k in ("created", "updated", "unchanged", "invalid", "failed")}
    for r in report:
        counts[r.status] += 1
    return s.ImportReport(dry_run=dry_run, total=len(report), counts=counts, rows=report)  # type: ignore[arg-type]


def _same(before: Any, data: Any) -> bool:
    if before is None:
        return False
    fields = set(type(data).model_fields)
    return bool(before.model_dump(include=fields) == data.model_dump())
