"""Errors the documents store raises; each names what it is about, and none leaves a change half done."""

from __future__ import annotations


class StoreError(Exception):
    pass


class NotFound(StoreError, LookupError):
    def __init__(self, kind: str, id: object) -> None:
        super().__init__(f"{kind} {id!r} does not exist")
        self.kind = kind
        self.id = id


class Conflict(StoreError):
    """The change contradicts the stored state (wrong status, already exists, concurrent change)."""


class ClaimConflict(Conflict):
    def __init__(self, job_key: int, holder: str) -> None:
        super().__init__(f"task {job_key} is claimed by {holder!r}")
        self.job_key = job_key
        self.holder = holder


class InvalidInput(StoreError, ValueError):
    pass
