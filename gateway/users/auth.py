from typing import Annotated

from fastapi import Depends

from gateway.auth.dependencies import AnyUser, require
from gateway.auth.principal import Caller
from shared.documents.models import Role

UserAdmin = Annotated[Caller, Depends(require(Role.ADMIN))]
UnitReader = AnyUser
