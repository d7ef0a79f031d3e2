from typing import Annotated

from fastapi import Depends

from gateway.auth.dependencies import require
from gateway.auth.principal import Caller
from shared.documents.models import Role

ProcessOperator = Annotated[Caller, Depends(require(Role.ADMIN, Role.PROCESS_DESIGNER))]
