from typing import Annotated

from fastapi import Depends

from gateway.auth.dependencies import AnyUser, require
from gateway.auth.principal import Caller
from shared.documents.models import Role

TaskWorker = AnyUser  # anyone may have tasks: unit staff, investors (confirmations), leaders, designers
TaskAssigner = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER))]
