from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.documents.models import Code, Role, UnitKind

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
PersonRole = Annotated[Role, Field(description="admin, leader, unit_staff, investor or process_designer")]


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[Role]
    unit_ids: list[str]
    project_codes: list[str]
    phone: str | None = None
    email: str | None = None
    active: bool


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=256)
    roles: list[PersonRole] = Field(min_length=1, max_length=5)
    unit_ids: list[Code] = Field(default_factory=list, max_length=50)
    project_codes: list[Code] = Field(default_factory=list, max_length=1000)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=256)
    roles: list[PersonRole] | None = Field(default=None, min_length=1, max_length=5)
    unit_ids: list[Code] | None = Field(default=None, max_length=50)
    project_codes: list[Code] | None = Field(default=None, max_length=1000)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: UnitKind
    county_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    parent_id: Code | None = None
    active: bool = True


class UnitOut(BaseModel):
    id: str
    name: str
    kind: UnitKind
    county_code: str | None = None
    parent_id: str | None = None
    active: bool
