"""Test helpers: a raw gRPC client for precise calls, and a reader of the engine's committed record log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import grpc
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from tests.fixtures.engine import EngineProcess


class RawGateway:
    """The Gateway service through grpc's own stub: nothing in between, so status codes are exact."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = GatewayStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()

    async def deploy(self, *resources: tuple[str, bytes]) -> pb.DeployResourceResponse:
        return await self.stub.DeployResource(pb.DeployResourceRequest(
            resources=[pb.Resource(name=name, content=content) for name, content in resources]))

    async def create(self, process_id: str, variables: dict[str, Any] | None = None, *, version: int = -1,
                     start_at: list[str] | None = None) -> int:
        response = await self.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(
            bpmnProcessId=process_id, version=version, variables=json.dumps(variables or {}),
            startInstructions=[pb.ProcessInstanceCreationStartInstruction(elementId=e) for e in start_at or []]))
        return response.processInstanceKey

    async def create_with_result(self, process_id: str, variables: dict[str, Any] | None = None,
                                 fetch: list[str] | None = None, request_timeout: int = 10_000) -> dict[str, Any]:
        response = await self.stub.CreateProcessInstanceWithResult(pb.CreateProcessInstanceWithResultRequest(
            request=pb.CreateProcessInstanceRequest(bpmnProcessId=process_id, version=-1,
                                                    variables=json.dumps(variables or {})),
            requestTimeout=request_timeout, fetchVariables=fetch or []), timeout=30)
        return json.loads(response.variables)

    async def activate(self, job_type: str, *, max_jobs: int = 10, timeout: int = 60_000, request_timeout: int = -1,
                       worker: str = "test-worker", fetch: list[str] | None = None,
                       deadline: float = 30.0) -> list[pb.ActivatedJob]:
        jobs: list[pb.ActivatedJob] = []
        async for response in self.stub.ActivateJobs(pb.ActivateJobsRequest(
                type=job_type, worker=worker, timeout=timeout, maxJobsToActivate=max_jobs,
                requestTimeout=request_timeout, fetchVariable=fetch or []), timeout=deadline):
            jobs.extend(response.jobs)
        return jobs

    async def complete(self, job_key: int, variables: dict[str, Any] | None = None) -> None:
        await self.stub.CompleteJob(pb.CompleteJobRequest(jobKey=job_key, variables=json.dumps(variables or {})))

    async def fail(self, job_key: int, retries: int, message: str = "", backoff: int = 0,
                   variables: dict[str, Any] | None = None) -> None:
        await self.stub.FailJob(pb.FailJobRequest(jobKey=job_key, retries=retries, errorMessage=message,
                                                  retryBackOff=backoff, variables=json.dumps(variables or {})))

    async def throw_error(self, job_key: int, code: str, message: str = "",
                          variables: dict[str, Any] | None = None) -> None:
        await self.stub.ThrowError(pb.ThrowErrorRequest(jobKey=job_key, errorCode=code, errorMessage=message,
                                                        variables=json.dumps(variables or {})))

    async def update_retries(self, job_key: int, retries: int) -> None:
        await self.stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=job_key, retries=retries))

    async def update_timeout(self, job_key: int, timeout: int) -> None:
        await self.stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=job_key, timeout=timeout))

    async def resolve(self, incident_key: int) -> None:
        await self.stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=incident_key))

    async def cancel(self, process_instance_key: int) -> None:
        await self.stub.CancelProcessInstance(pb.CancelProcessInstanceRequest(processInstanceKey=process_instance_key))

    async def set_variables(self, scope_key: int, variables: dict[str, Any], *, local: bool = False) -> int:
        response = await self.stub.SetVariables(pb.SetVariablesRequest(
            elementInstanceKey=scope_key, variables=json.dumps(variables), local=local))
        return response.key

    async def publish(self, name: str, correlation_key: str, variables: dict[str, Any] | None = None, *,
                      ttl: int = 0, message_id: str = "") -> int:
        response = await self.stub.PublishMessage(pb.PublishMessageRequest(
            name=name, correlationKey=correlation_key, timeToLive=ttl, messageId=message_id,
            variables=json.dumps(variables or {})))
        return response.key

    async def broadcast(self, name: str, variables: dict[str, Any] | None = None) -> int:
        response = await self.stub.BroadcastSignal(pb.BroadcastSignalRequest(
            signalName=name, variables=json.dumps(variables or {})))
        return response.key

    async def modify(self, process_instance_key: int, *, activate: list[Activation] | None = None,
                     terminate: list[int] | None = None, operation_reference: int | None = None) -> None:
        """ModifyProcessInstance. An activation is an element id, or (element id, ancestor key, variable
        instructions), a variable instruction being a dict (root scope) or (scope id, dict)."""
        instructions = []
        for item in activate or []:
            element_id, ancestor, variables = (item, -1, []) if isinstance(item, str) else item
            instructions.append(pb.ModifyProcessInstanceRequest.ActivateInstruction(
                elementId=element_id, ancestorElementInstanceKey=ancestor, variableInstructions=[
                    pb.ModifyProcessInstanceRequest.VariableInstruction(
                        variables=json.dumps(v if isinstance(v, dict) else v[1]),
                        scopeId="" if isinstance(v, dict) else v[0]) for v in variables]))
        request = pb.ModifyProcessInstanceRequest(
            processInstanceKey=process_instance_key, activateInstructions=instructions,
            terminateInstructions=[pb.ModifyProcessInstanceRequest.TerminateInstruction(elementInstanceKey=k)
                                   for k in terminate or []])
        if operation_reference is not None:
            request.operationReference = operation_reference
        await self.stub.ModifyProcessInstance(request)


Activation = str | tuple[str, int, list[dict[str, Any] | tuple[str, dict[str, Any]]]]


class RecordLog:
    """Reads the engine's committed records (the answer to a command arrives only after they are)."""

    def __init__(self, engine: EngineProcess) -> None:
        self.path = Path(engine.data_dir) / "engine.sqlite3"

    def records(self, value_type: str | None = None, intent: str | None = None, **match: Any) -> list[dict[str, Any]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            query = "SELECT position, record_key, value_type, intent, timestamp, value FROM records"
            conditions, params = [], []
            if value_type:
                conditions.append("value_type = ?")
                params.append(value_type)
            if intent:
                conditions.append("intent = ?")
                params.append(intent)
            if conditions:
                query += " WHERE " + " AND ".join(conditions)
            rows = conn.execute(query + " ORDER BY position", params).fetchall()
        finally:
            conn.close()
        result = []
        for position, key, vtype, rintent, timestamp, value in rows:
            record = {"position": position, "key": key, "valueType": vtype, "intent": rintent,
                      "timestamp": timestamp, "value": json.loads(value)}
            if all(record["value"].get(k) == v for k, v in match.items()):
                result.append(record)
        return result

    def element_events(self, process_instance_key: int) -> list[tuple[str, str]]:
        """(element id, intent) of every element transition and taken flow of an instance, in order."""
        return [(r["value"]["elementId"], r["intent"]) for r in self.records("PROCESS_INSTANCE")
                if r["value"]["processInstanceKey"] == process_instance_key]

    def completed_elements(self, process_instance_key: int) -> list[str]:
        return [e for e, intent in self.element_events(process_instance_key) if intent == "ELEMENT_COMPLETED"]

    def instance_state(self, process_instance_key: int) -> str | None:
        """The last life-cycle intent of the process instance itself."""
        own = [r for r in self.records("PROCESS_INSTANCE") if r["key"] == process_instance_key]
        return own[-1]["intent"] if own else None

    def incidents(self, process_instance_key: int, intent: str = "CREATED") -> list[dict[str, Any]]:
        return [r for r in self.records("INCIDENT", intent) if r["value"]["processInstanceKey"] == process_instance_key]

    def open_incidents(self, process_instance_key: int) -> list[dict[str, Any]]:
        resolved = {r["key"] for r in self.incidents(process_instance_key, "RESOLVED")}
        return [r for r in self.incidents(process_instance_key) if r["key"] not in resolved]

    def variables(self, process_instance_key: int) -> dict[str, Any]:
        """The latest value of every variable of the instance's root scope."""
        values: dict[str, Any] = {}
        for record in self.records("VARIABLE"):
            value = record["value"]
            if value.get("scopeKey") == process_instance_key and "name" in value:
                values[value["name"]] = json.loads(value["value"])
        return values
