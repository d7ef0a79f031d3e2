"""What a caller may see. One place for the rules every list and detail endpoint applies:

- admins and leaders: everything;
- unit staff: projects their units assist, projects in the county of a county unit they belong to, and
  projects with a problem their units are responsible for; problems their units are responsible for or in
  their counties;
- investors: the projects they own (named on their account or on the project) and their problems;
- process designers: no domain data (processes and operations only).

Something outside the caller's scope answers 404, not 403, so that its existence is not revealed.

The set of visible projects can be thousands of codes for a county's staff, so it is computed only when
an endpoint needs it, and kept for a few seconds per person: a list refreshed every second by a busy
inbox page must not rescan the county each time. A project that just became someone's shows in their
lists within ``GATEWAY_SCOPE_CACHE_SECONDS`` (at once when the change went through this gateway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.auth.principal import Principal
from gateway.context import Services
from shared.documents.models import (
    PageRequest,
    Problem,
    ProblemFilter,
    ProblemScope,
    ProjectFilter,
    Role,
    UnitKind,
)

_BATCH = 500
_cache: dict[tuple[int, str, frozenset[Role], tuple[str, ...]], tuple[float, Scope]] = {}


@dataclass(frozen=True)
class Scope:
    everything: bool
    project_codes: frozenset[str] = frozenset()  # every project the caller may see (empty unless computed)
    unit_ids: frozenset[str] = frozenset()  # units the caller works for (unit staff)
    county_codes: frozenset[str] = frozenset()  # counties of the county units among them
    owned_codes: frozenset[str] = frozenset()  # projects the caller owns (investors)

    def sees_project(self, code: str) -> bool:
        return self.everything or code in self.project_codes

    def problems(self) -> ProblemScope | None:
        """The problem filter of this scope (None: no restriction)."""
        if self.everything:
            return None
        return ProblemScope(unit_ids=sorted(self.unit_ids), county_codes=sorted(self.county_codes),
                            project_codes=sorted(self.owned_codes))

    def sees_problem(self, problem: Problem) -> bool:
        return self.everything or bool(self.unit_ids.intersection(problem.unit_ids)) or (
            problem.county_code in self.county_codes) or problem.project_code in self.owned_codes


async def investor_projects(services: Services, username: str) -> set[str]:
    user = await services.store.users.get(username)
    owned = set(user.project_codes) if user else set()
    return owned | set(await services.store.projects.codes(ProjectFilter(investor_user_id=username)))


async def _problem_projects(services: Services, unit_id: str) -> set[str]:
    codes: set[str] = set()
    page = 1
    while True:
        found = await services.store.problems.list(ProblemFilter(unit_id=unit_id), PageRequest(page=page, size=_BATCH))
        codes.update(p.project_code for p in found.items)
        if page >= found.pages:
            return codes
        page += 1


async def scope_of(services: Services, principal: Principal, *, projects: bool = True, fresh: bool = False) -> Scope:
    """The caller's scope; ``projects=False`` skips the visible-projects set (problems need only units,
    counties and owned projects); ``fresh`` reads past the short cache."""
    if principal.sees_everything:
        return Scope(everything=True)
    key = (id(services), principal.username, principal.roles, principal.unit_ids)
    cached = _cache.get(key)
    if cached is not None and not fresh and cached[0] > time.monotonic():
        return cached[1]
    units = frozenset(principal.unit_ids) if principal.has(Role.UNIT_STAFF) else frozenset()
    county_units: dict[str, str] = {}
    for unit_id in sorted(units):
        unit = await services.store.units.get(unit_id)
        if unit is not None and unit.kind == UnitKind.COUNTY and unit.county_code:
            county_units[unit_id] = unit.county_code
    owned = await investor_projects(services, principal.username) if principal.has(Role.INVESTOR) else set()
    codes: set[str] = set(owned)
    if projects:
        for unit_id in sorted(units):
            if unit_id in county_units:
                codes.update(await services.store.projects.codes(ProjectFilter(county_code=county_units[unit_id])))
            codes.update(await services.store.projects.codes(ProjectFilter(assistant_unit_id=unit_id)))
            codes |= await _problem_projects(services, unit_id)
    scope = Scope(everything=False, project_codes=frozenset(codes), unit_ids=units,
                  county_codes=frozenset(county_units.values()), owned_codes=frozenset(owned))
    seconds = services.settings.scope_cache_seconds
    if projects and seconds > 0:  # only complete scopes are worth keeping
        if len(_cache) > 2000:
            _cache.clear()
        _cache[key] = (time.monotonic() + seconds, scope)
    return scope


def forget(services: Services) -> None:
    """Drop this gateway's kept scopes (after a write that may change who sees what)."""
    for key in [k for k in _cache if k[0] == id(services)]:
        _cache.pop(key, None)
