"""What a caller may see. One place for the rules every list and detail endpoint applies:

- admins and leaders: everything;
- unit staff: projects their units assist, projects in the county of a county unit they belong to, and
  projects with a problem their units are responsible for; problems their units are responsible for;
- investors: the projects they own (named on their account or on the project);
- process designers: no domain data (processes and operations only).

Something outside the caller's scope answers 404, not 403, so that its existence is not revealed.
"""

from __future__ import annotations

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

_BATCH = PageRequest(page=1, size=500)


@dataclass(frozen=True)
class Scope:
    everything: bool
    project_codes: frozenset[str] = frozenset()  # every project the caller may see
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


async def _codes(services: Services, f: ProjectFilter) -> set[str]:
    codes: set[str] = set()
    page = 1
    while True:
        found = await services.store.projects.list(f, PageRequest(page=page, size=_BATCH.size))
        codes.update(p.project_code for p in found.items)
        if page >= found.pages:
            return codes
        page += 1


async def investor_projects(services: Services, username: str) -> set[str]:
    user = await services.store.users.get(username)
    owned = set(user.project_codes) if user else set()
    return owned | await _codes(services, ProjectFilter(investor_user_id=username))


async def scope_of(services: Services, principal: Principal) -> Scope:
    if principal.sees_everything:
        return Scope(everything=True)
    codes: set[str] = set()
    units = frozenset(principal.unit_ids) if principal.has(Role.UNIT_STAFF) else frozenset()
    counties: set[str] = set()
    for unit_id in sorted(units):
        unit = await services.store.units.get(unit_id)
        if unit is None:
            continue
        if unit.kind == UnitKind.COUNTY and unit.county_code:
            counties.add(unit.county_code)
            codes |= await _codes(services, ProjectFilter(county_code=unit.county_code))
        codes |= await _codes(services, ProjectFilter(assistant_unit_id=unit_id))
        page = 1
        while True:
            problems = await services.store.problems.list(ProblemFilter(unit_id=unit_id),
                                                          PageRequest(page=page, size=_BATCH.size))
            codes.update(p.project_code for p in problems.items)
            if page >= problems.pages:
                break
            page += 1
    owned: set[str] = set()
    if principal.has(Role.INVESTOR):
        owned = await investor_projects(services, principal.username)
    return Scope(everything=False, project_codes=frozenset(codes | owned), unit_ids=units,
                 county_codes=frozenset(counties), owned_codes=frozenset(owned))
