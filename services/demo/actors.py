"""The people and systems around the platform, for the demo scenario and the end-to-end tests.

``Front`` does what the gateway does on their behalf, through the same ports: the documents store and the
engine's gRPC API (CompleteJob for a submitted form, CreateProcessInstance for an approval record,
PublishMessage for signings, cancellations and reported problems). Nothing here reaches into a worker.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import grpc
from pyzeebe import ZeebeClient
from pyzeebe.errors import MessageAlreadyExistsError
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from services.demo.seed import publish_signing
from shared.documents import DocumentStore
from shared.documents.models import Actor, NewProblem, ProblemOrigin, ProjectData, Role, Task


class TaskGone(Exception):
    """The task's job no longer exists (the model moved on); the task has been withdrawn."""


class Front:
    def __init__(self, channel: grpc.aio.Channel, store: DocumentStore) -> None:
        self.channel = channel
        self.stub = GatewayStub(channel)
        self.zeebe = ZeebeClient(channel)
        self.store = store

    async def sign(self, data: ProjectData, *, rules: dict[str, Any] | None = None) -> None:
        """A project is signed: its document, then its life cycle."""
        await self.store.projects.upsert(data, actor=Actor.system("demo.front"))
        await publish_signing(self.zeebe, data.project_code, {"rules": rules} if rules else None)

    async def cancel(self, project_code: str) -> None:
        await self.zeebe.publish_message("project-cancelled", project_code, time_to_live_in_milliseconds=86_400_000,
                                         message_id=f"cancelled:{project_code}")

    async def post_approval(self, source: str, record: dict[str, Any]) -> int:
        """An approval system posts one record: one approval-docking instance."""
        response = await self.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(
            bpmnProcessId="approval-docking", version=-1, variables=json.dumps({"source": source, "record": record},
                                                                               ensure_ascii=False)))
        return response.processInstanceKey

    async def report_problem(self, *, problem_id: str, project_code: str, county_code: str, reporter: str,
                             origin: ProblemOrigin, category: str, title: str, at: datetime,
                             description: str = "") -> None:
        """An investor (or a unit) reports a problem: its document, then its handling."""
        role = Role.INVESTOR if origin == ProblemOrigin.INVESTOR else Role.UNIT_STAFF
        await self.store.problems.create(NewProblem(
            id=problem_id, project_code=project_code, county_code=county_code, origin=origin, category=category,
            title=title, description=description, raised_by=reporter, raised_at=at,
        ), actor=Actor(user=reporter, role=role))
        try:
            await self.zeebe.publish_message("problem-reported", problem_id, variables={"problemId": problem_id},
                                             time_to_live_in_milliseconds=86_400_000, message_id=problem_id)
        except MessageAlreadyExistsError:
            pass

    async def complete(self, task: Task, variables: dict[str, Any], *, by: str, role: Role, at: datetime) -> None:
        """A person submits a task's form."""
        actor = Actor(user=by, role=role)
        try:
            await self.stub.CompleteJob(pb.CompleteJobRequest(jobKey=task.job_key,
                                                              variables=json.dumps(variables, ensure_ascii=False)))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                await self.store.tasks.cancel(task.job_key, at=at, actor=actor)
                raise TaskGone(str(task.job_key)) from None
            raise
        await self.store.tasks.complete(task.job_key, by=by, at=at, actor=actor)
