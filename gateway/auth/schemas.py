from __future__ import annotations

from pydantic import BaseModel, Field

from shared.documents.models import Role


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str
    refresh_expires_in: int


class Me(BaseModel):
    username: str
    display_name: str
    roles: list[Role]
    unit_ids: list[str]
    project_codes: list[str] = Field(description="projects the person owns (investors)")
