"""Checking submitted variables against a deployed form (form-js JSON), as the form-js viewer would.

Covered: input fields (textfield, textarea, number, checkbox, checklist, radio, select, taglist, datetime)
with ``validate`` (required, minLength, maxLength, min, max, pattern, validationType email/phone), static
``values`` and dynamic ``valuesKey`` options (read from the task's variables), groups and dynamic lists
with their ``path``. A field with a ``conditional.hide`` expression may be hidden, so it is never required.
Keys the form does not have are refused: the form is the contract of what a person may set.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from gateway.errors import FieldError

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist", "datetime",
               "filepicker"}
CONTAINERS = {"group", "dynamiclist"}
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{5,20}$")


def _error(errors: list[FieldError], path: list[str], message: str) -> None:
    errors.append(FieldError(pointer="#/body/variables/" + "/".join(path), field=".".join(path), message=message))


def _allowed(component: dict[str, Any], task_variables: dict[str, Any]) -> list[Any] | None:
    if isinstance(component.get("values"), list):
        return [v.get("value") for v in component["values"] if isinstance(v, dict)]
    key = component.get("valuesKey")
    if isinstance(key, str) and isinstance(task_variables.get(key), list):
        return [v.get("value") if isinstance(v, dict) else v for v in task_variables[key]]
    return None  # options computed by an expression: not checkable here


def _check_value(component: dict[str, Any], value: Any, path: list[str], errors: list[FieldError],
                 task_variables: dict[str, Any]) -> None:
    kind = component.get("type")
    rules = component.get("validate") or {}
    label = component.get("label") or path[-1]
    if kind in ("textfield", "textarea"):
        if not isinstance(value, str):
            _error(errors, path, f"{label}: expected text")
            return
        if "minLength" in rules and len(value) < int(rules["minLength"]):
            _error(errors, path, f"{label}: at least {rules['minLength']} characters")
        if "maxLength" in rules and len(value) > int(rules["maxLength"]):
            _error(errors, path, f"{label}: at most {rules['maxLength']} characters")
        pattern = rules.get("pattern")
        if pattern:
            try:
                if re.search(pattern, value) is None:
                    _error(errors, path, f"{label}: does not match the pattern {pattern}")
            except re.error:
                pass  # the form's own pattern is broken: form-js would not check it either
        if rules.get("validationType") == "email" and not _EMAIL.match(value):
            _error(errors, path, f"{label}: not an e-mail address")
        if rules.get("validationType") == "phone" and not _PHONE.match(value):
            _error(errors, path, f"{label}: not a phone number")
    elif kind == "number":
        number = value
        if isinstance(value, str) and component.get("serializeToString"):
            try:
                number = float(value)
            except ValueError:
                _error(errors, path, f"{label}: expected a number")
                return
        if isinstance(number, bool) or not isinstance(number, int | float):
            _error(errors, path, f"{label}: expected a number")
            return
        if "min" in rules and number < float(rules["min"]):
            _error(errors, path, f"{label}: at least {rules['min']}")
        if "max" in rules and number > float(rules["max"]):
            _error(errors, path, f"{label}: at most {rules['max']}")
        decimals = component.get("decimalDigits")
        if isinstance(decimals, int) and decimals == 0 and isinstance(number, float) and not number.is_integer():
            _error(errors, path, f"{label}: expected a whole number")
    elif kind == "checkbox":
        if not isinstance(value, bool):
            _error(errors, path, f"{label}: expected true or false")
    elif kind in ("checklist", "taglist"):
        if not isinstance(value, list):
            _error(errors, path, f"{label}: expected a list")
            return
        allowed = _allowed(component, task_variables)
        if allowed is not None:
            bad = [v for v in value if v not in allowed]
            if bad:
                _error(errors, path, f"{label}: {bad!r} not among the options {allowed!r}")
    elif kind in ("radio", "select"):
        allowed = _allowed(component, task_variables)
        if allowed is not None and value not in allowed:
            _error(errors, path, f"{label}: {value!r} is not one of {allowed!r}")
    elif kind == "datetime":
        if not isinstance(value, str) or not _is_datetime(value, component.get("subtype", "datetime")):
            _error(errors, path, f"{label}: expected a {component.get('subtype', 'datetime')} in ISO 8601 form")


def _is_datetime(value: str, subtype: str) -> bool:
    try:
        if subtype == "date":
            date.fromisoformat(value)
        elif subtype == "time":
            time.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _check_components(components: list[Any], data: dict[str, Any], path: list[str], errors: list[FieldError],
                      task_variables: dict[str, Any]) -> set[str]:
    """Checks ``data`` against ``components``; returns the top-level keys the components own."""
    owned: set[str] = set()
    for component in components:
        if not isinstance(component, dict):
            continue
        kind = component.get("type")
        hideable = bool((component.get("conditional") or {}).get("hide"))
        if kind in CONTAINERS:
            sub_path = [p for p in str(component.get("path") or "").split(".") if p]
            children = component.get("components") or []
            if kind == "dynamiclist":
                if not sub_path:
                    continue
                owned.add(sub_path[0])
                items = _dig(data, sub_path)
                if items is None:
                    continue
                if not isinstance(items, list):
                    _error(errors, [*path, *sub_path], "expected a list")
                    continue
                for i, item in enumerate(items):
                    item_path = [*path, *sub_path, str(i)]
                    if not isinstance(item, dict):
                        _error(errors, item_path, "expected an object")
                        continue
                    keys = _check_components(children, item, item_path, errors, task_variables)
                    _unknown(item, keys, item_path, errors)
                continue
            if sub_path:
                owned.add(sub_path[0])
                inner = _dig(data, sub_path)
                if inner is None:
                    inner = {}
                if not isinstance(inner, dict):
                    _error(errors, [*path, *sub_path], "expected an object")
                    continue
                keys = _check_components(children, inner, [*path, *sub_path], errors, task_variables)
                _unknown(inner, keys, [*path, *sub_path], errors)
            else:
                owned |= _check_components(children, data, path, errors, task_variables)
            continue
        if kind not in INPUT_TYPES or not isinstance(component.get("key"), str):
            continue  # text, html, image, spacer, separator, button, expression...: nothing to submit
        parts = [p for p in component["key"].split(".") if p]
        if not parts:
            continue
        owned.add(parts[0])
        value = _dig(data, parts)
        required = bool((component.get("validate") or {}).get("required")) and not hideable
        if _empty(value):
            if required:
                _error(errors, [*path, *parts], f"{component.get('label') or component['key']}: required")
            continue
        if kind == "filepicker":
            continue
        _check_value(component, value, [*path, *parts], errors, task_variables)
    return owned


def _dig(data: dict[str, Any], parts: list[str]) -> Any:
    value: Any = data
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _unknown(data: dict[str, Any], owned: set[str], path: list[str], errors: list[FieldError]) -> None:
    for key in sorted(set(data) - owned):
        _error(errors, [*path, key], f"'{key}' is not a field of the form")


def validate(form: dict[str, Any], variables: dict[str, Any], task_variables: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    owned = _check_components(form.get("components") or [], variables, [], errors, task_variables)
    _unknown(variables, owned, [], errors)
    return errors
