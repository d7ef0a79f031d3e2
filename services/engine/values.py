"""JSON for variables: fast with orjson, falling back to the standard library for what orjson refuses
(integers beyond 64 bits, NaN written by lenient clients)."""

from __future__ import annotations

import json as _json
from typing import Any

import orjson


class InvalidJson(ValueError):
    pass


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        try:
            return _json.loads(text)
        except ValueError:
            raise InvalidJson(str(error)) from error
        except RecursionError:  # orjson stops at 1024 levels; the standard library would overflow the stack
            raise InvalidJson(f"{error}: the document is nested more deeply than 1024 levels") from None


def loads_document(text: str | bytes, what: str = "variables") -> dict[str, Any]:
    """A JSON object as Zeebe expects for variables: empty text means {}."""
    if not text or (isinstance(text, str) and not text.strip()):
        return {}
    try:
        value = loads(text)
    except InvalidJson as error:
        raise InvalidJson(f"Property '{what}' is invalid: Expected document to be a root level object, but it is "
                          f"not valid JSON: {error}") from error
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidJson(f"Property '{what}' is invalid: Expected document to be a root level object, but was "
                          f"'{type(value).__name__.replace('list', 'ARRAY').replace('str', 'STRING').upper()}'")
    return value


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()
