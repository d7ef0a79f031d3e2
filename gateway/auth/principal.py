"""The authenticated caller, as the access token describes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.documents.models import Actor, Role

# When a person has several roles, the audit names the strongest one that allowed the action.
ROLE_ORDER = (Role.ADMIN, Role.LEADER, Role.PROCESS_DESIGNER, Role.UNIT_STAFF, Role.INVESTOR)


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    display_name: str
    roles: frozenset[Role]
    unit_ids: tuple[str, ...] = ()

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def sees_everything(self) -> bool:
        """Admins and leaders read every project, problem and flag of the city."""
        return self.has(Role.ADMIN, Role.LEADER)

    @property
    def task_groups(self) -> tuple[str, ...]:
        """Candidate groups that offer a task to this person: their units and their roles."""
        return (*self.unit_ids, *sorted(r.value for r in self.roles))


class Caller(BaseModel):
    """A principal allowed through an endpoint's role check, with the role that let them in."""

    model_config = ConfigDict(frozen=True)

    principal: Principal
    role: Role
    request_id: str | None = Field(default=None)

    @property
    def username(self) -> str:
        return self.principal.username

    @property
    def actor(self) -> Actor:
        return Actor(user=self.principal.username, role=self.role, request_id=self.request_id)
