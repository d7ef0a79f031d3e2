from typing import Annotated

from fastapi import Depends

from gateway.auth.dependencies import require
from gateway.auth.principal import Caller
from shared.documents.models import Role

ProjectReader = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER, Role.UNIT_STAFF, Role.INVESTOR))]
ProjectEditor = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER))]
