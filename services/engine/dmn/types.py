"""DMN type conformance (DMN 1.5 10.3.2.9): values that do not conform to a typeRef become null.

Singleton lists and single values convert into each other where the type asks for it.
"""

from __future__ import annotations

from typing import Any

from services.engine.feel.values import FeelFunction, type_name

from .model import ItemDefinition

_BUILTIN = {
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "date": "date",
    "time": "time",
    "dateTime": "date and time",
    "date and time": "date and time",
    "dayTimeDuration": "days and time duration",
    "days and time duration": "days and time duration",
    "yearMonthDuration": "years and months duration",
    "years and months duration": "years and months duration",
    "context": "context",
    "list": "list",
    "function": "function",
    "range": "range",
}


def _base(type_ref: str) -> str:
    t = type_ref.strip()
    for prefix in ("feel:", "FEEL:", "ns1:", "dmn:"):
        if t.startswith(prefix):
            return t[len(prefix) :]
    return t


def conforms(
    value: Any, type_ref: str | None, items: dict[str, ItemDefinition], depth: int = 0, check_allowed: bool = True
) -> bool:
    if value is None or not type_ref or depth > 32:
        return True
    t = _base(type_ref)
    if t == "Any":
        return True
    builtin = _BUILTIN.get(t)
    if builtin is not None:
        return type_name(value) == builtin
    item = items.get(t) or items.get(type_ref)
    if item is None:
        if t.startswith(("list<", "context<", "range<", "function<")):
            return type_name(value) == t.split("<", 1)[0]
        return True  # unknown types are not checked
    return _conforms_item(value, item, items, depth + 1, check_allowed)


def _conforms_item(
    value: Any, item: ItemDefinition, items: dict[str, ItemDefinition], depth: int, check_allowed: bool = True
) -> bool:
    if item.is_collection:
        if not isinstance(value, list):
            return False
        return all(_conforms_single(v, item, items, depth, check_allowed) for v in value)
    return _conforms_single(value, item, items, depth, check_allowed)


def _conforms_single(
    value: Any, item: ItemDefinition, items: dict[str, ItemDefinition], depth: int, check_allowed: bool = True
) -> bool:
    if value is None:
        return True
    if item.is_function:
        return isinstance(value, FeelFunction)
    if item.components:
        if not isinstance(value, dict):
            return False
        for c in item.components:
            if c.name not in value:
                return False
            if not _conforms_item(value[c.name], c, items, depth + 1, check_allowed):
                return False
    elif item.type_ref and not conforms(value, item.type_ref, items, depth + 1, check_allowed):
        return False
    if check_allowed and item.allowed_values is not None and not hasattr(item.allowed_values, "offset"):
        return item.allowed_values.matches(value) is True
    return True


def _is_collection(type_ref: str, items: dict[str, ItemDefinition]) -> bool:
    t = _base(type_ref)
    if t == "list" or t.startswith("list<"):
        return True
    item = items.get(t)
    return bool(item and item.is_collection)


def coerce(value: Any, type_ref: str, items: dict[str, ItemDefinition]) -> Any:
    if value is None:
        return None
    if conforms(value, type_ref, items):
        return value
    collection = _is_collection(type_ref, items)
    if isinstance(value, list) and len(value) == 1 and not collection and conforms(value[0], type_ref, items):
        return value[0]
    if not isinstance(value, list) and collection and conforms([value], type_ref, items):
        return [value]
    return None
