"""The gateway's access to a Zeebe-protocol engine (ours or a Camunda 8 cluster).

pyzeebe's ``ZeebeClient`` does what it offers (topology, create instance, publish, cancel). For what it does
not offer to a client (deploy from bytes, CompleteJob, UpdateJobRetries, ResolveIncident), the generated
``Gateway`` stub pyzeebe ships is called on the same channel, so OAuth credentials and the connection are
shared. Every gRPC failure becomes an ``EngineError`` carrying the engine's own message: a rejected
deployment must tell the designer which element is wrong.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from pyzeebe import ZeebeClient, create_insecure_channel, create_oauth2_client_credentials_channel
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from shared.logging import bind_contextvars, get_logger
from shared.settings import ZeebeSettings

T = TypeVar("T")
_log = get_logger(__name__)


class EngineError(Exception):
    """A failed engine call, mapped from its gRPC status to an HTTP status of the gateway's answer."""

    _BY_CODE: dict[grpc.StatusCode, tuple[int, str, str]] = {
        grpc.StatusCode.INVALID_ARGUMENT: (400, "engine-rejected", "Rejected by the process engine"),
        grpc.StatusCode.NOT_FOUND: (404, "engine-not-found", "Not found in the process engine"),
        grpc.StatusCode.ALREADY_EXISTS: (409, "engine-conflict", "Already exists in the process engine"),
        grpc.StatusCode.FAILED_PRECONDITION: (409, "engine-conflict", "Conflicts with the engine's state"),
        grpc.StatusCode.RESOURCE_EXHAUSTED: (503, "engine-busy", "Process engine busy (back pressure)"),
        grpc.StatusCode.UNAVAILABLE: (503, "engine-unavailable", "Process engine unavailable"),
        grpc.StatusCode.DEADLINE_EXCEEDED: (503, "engine-unavailable", "Process engine did not answer in time"),
        grpc.StatusCode.UNAUTHENTICATED: (503, "engine-unavailable", "The engine refused the gateway's credentials"),
        grpc.StatusCode.PERMISSION_DENIED: (503, "engine-unavailable", "The engine refused the gateway's credentials"),
    }

    def __init__(self, code: grpc.StatusCode | None, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status, self.slug, self.title = self._BY_CODE.get(
            code, (502, "engine-error", "Process engine error")) if code else (
            503, "engine-unavailable", "Process engine unavailable")

    @property
    def grpc_status(self) -> str | None:
        return self.code.name if self.code else None

    @classmethod
    def from_exception(cls, exc: BaseException) -> EngineError:
        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, grpc.aio.AioRpcError):
                return cls(seen.code(), seen.details() or seen.code().name)
            # pyzeebe wraps the gRPC error as an attribute or as the cause
            inner = getattr(seen, "grpc_error", None)
            if isinstance(inner, grpc.aio.AioRpcError):
                return cls(inner.code(), inner.details() or inner.code().name)
            seen = seen.__cause__
        return cls(None, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class DeployedProcess:
    bpmn_process_id: str
    version: int
    process_definition_key: int
    resource_name: str


@dataclass(frozen=True)
class DeployedForm:
    form_id: str
    version: int
    form_key: int
    resource_name: str


@dataclass(frozen=True)
class DeployedDecision:
    decision_id: str
    name: str
    version: int
    decision_key: int
    decision_requirements_key: int


@dataclass(frozen=True)
class DeployedRequirements:
    decision_requirements_id: str
    name: str
    version: int
    decision_requirements_key: int
    resource_name: str


@dataclass
class Deployment:
    key: int
    processes: list[DeployedProcess] = field(default_factory=list)
    forms: list[DeployedForm] = field(default_factory=list)
    decisions: list[DeployedDecision] = field(default_factory=list)
    requirements: list[DeployedRequirements] = field(default_factory=list)


@dataclass(frozen=True)
class ActivateElement:
    """Where a modification puts a new token; -1 as ancestor lets the engine pick the one flow scope."""

    element_id: str
    ancestor_element_instance_key: int = -1
    variables: dict[str, Any] = field(default_factory=dict)
    variables_scope_id: str = ""


@dataclass(frozen=True)
class Topology:
    cluster_size: int
    partitions_count: int
    gateway_version: str
    brokers: int


class EngineGateway:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float = 10.0) -> None:
        self.channel = channel
        self.timeout = timeout
        # -1: never give up on the channel. pyzeebe closes it for good after N failed calls otherwise,
        # and a gateway must survive an engine restart.
        self.client = ZeebeClient(channel, max_connection_retries=-1)
        self.stub = GatewayStub(channel)

    @classmethod
    def from_settings(cls, settings: ZeebeSettings | None = None, *, timeout: float = 10.0) -> EngineGateway:
        settings = settings or ZeebeSettings()
        if settings.oauth_enabled:
            assert settings.client_secret is not None
            channel = create_oauth2_client_credentials_channel(
                grpc_address=settings.address,
                client_id=settings.client_id or "",
                client_secret=settings.client_secret.get_secret_value(),
                authorization_server=settings.authorization_server_url or "",
                audience=settings.token_audience,
            )
        else:
            channel = create_insecure_channel(grpc_address=settings.address)
        return cls(channel, timeout=timeout)

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, awaitable: Awaitable[T], deadline: float | None = None) -> T:
        try:
            return await asyncio.wait_for(awaitable, deadline or self.timeout)
        except TimeoutError as exc:
            raise EngineError(grpc.StatusCode.DEADLINE_EXCEEDED, "the engine did not answer in time") from exc
        except EngineError:
            raise
        except Exception as exc:  # gRPC and pyzeebe errors alike
            raise EngineError.from_exception(exc) from exc

    async def topology(self, deadline: float | None = None) -> Topology:
        response = await self._call(self.client.topology(), deadline)
        return Topology(cluster_size=response.cluster_size, partitions_count=response.partitions_count,
                        gateway_version=response.gateway_version, brokers=len(response.brokers))

    async def deploy(self, resources: Sequence[tuple[str, bytes]]) -> Deployment:
        request = pb.DeployResourceRequest(resources=[pb.Resource(name=n, content=c) for n, c in resources])
        response = await self._call(self.stub.DeployResource(request, timeout=self.timeout))
        result = Deployment(key=response.key)
        for d in response.deployments:
            which = d.WhichOneof("Metadata")
            if which == "process":
                p = d.process
                result.processes.append(DeployedProcess(p.bpmnProcessId, p.version, p.processDefinitionKey,
                                                        p.resourceName))
            elif which == "form":
                f = d.form
                result.forms.append(DeployedForm(f.formId, f.version, f.formKey, f.resourceName))
            elif which == "decision":
                x = d.decision
                result.decisions.append(DeployedDecision(x.dmnDecisionId, x.dmnDecisionName, x.version, x.decisionKey,
                                                         x.decisionRequirementsKey))
            elif which == "decisionRequirements":
                r = d.decisionRequirements
                result.requirements.append(DeployedRequirements(
                    r.dmnDecisionRequirementsId, r.dmnDecisionRequirementsName, r.version,
                    r.decisionRequirementsKey, r.resourceName))
        return result

    async def create_instance(self, bpmn_process_id: str, variables: dict[str, Any], version: int = -1) -> tuple[int, int, int]:
        """Returns (process instance key, process definition key, version)."""
        response = await self._call(self.client.run_process(bpmn_process_id, variables, version=version))
        # The rest of the request's log lines carry the key, so they join the workers' lines of this instance.
        bind_contextvars(process_instance_key=response.process_instance_key)
        _log.info("process instance created", bpmn_process_id=bpmn_process_id, version=response.version)
        return response.process_instance_key, response.process_definition_key, response.version

    async def publish(self, name: str, correlation_key: str, variables: dict[str, Any], *, ttl_ms: int,
                      message_id: str | None = None) -> int | None:
        """Publish a message; the same ``message_id`` while the first is still buffered is a no-op (None)."""
        try:
            response = await self._call(self.client.publish_message(
                name, correlation_key, variables, time_to_live_in_milliseconds=ttl_ms, message_id=message_id))
        except EngineError as exc:
            if exc.code == grpc.StatusCode.ALREADY_EXISTS and message_id:
                return None
            raise
        return int(response.key)

    async def cancel_instance(self, process_instance_key: int) -> None:
        await self._call(self.client.cancel_process_instance(process_instance_key))

    async def complete_job(self, job_key: int, variables: dict[str, Any]) -> None:
        request = pb.CompleteJobRequest(jobKey=job_key, variables=json.dumps(variables, ensure_ascii=False))
        await self._call(self.stub.CompleteJob(request, timeout=self.timeout))

    async def update_job_retries(self, job_key: int, retries: int) -> None:
        await self._call(self.stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=job_key, retries=retries),
                                                    timeout=self.timeout))

    async def resolve_incident(self, incident_key: int) -> None:
        await self._call(self.stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=incident_key),
                                                   timeout=self.timeout))

    async def modify_instance(self, process_instance_key: int, activate: Sequence[ActivateElement],
                              terminate: Sequence[int]) -> None:
        """ModifyProcessInstance: the engine applies all instructions or none."""
        M = pb.ModifyProcessInstanceRequest
        request = M(processInstanceKey=process_instance_key, activateInstructions=[
            M.ActivateInstruction(
                elementId=a.element_id, ancestorElementInstanceKey=a.ancestor_element_instance_key,
                variableInstructions=[M.VariableInstruction(variables=json.dumps(a.variables, ensure_ascii=False),
                                                            scopeId=a.variables_scope_id)] if a.variables else [])
            for a in activate], terminateInstructions=[M.TerminateInstruction(elementInstanceKey=k) for k in terminate])
        await self._call(self.stub.ModifyProcessInstance(request, timeout=self.timeout))

    async def delete_resource(self, resource_key: int) -> None:
        await self._call(self.stub.DeleteResource(pb.DeleteResourceRequest(resourceKey=resource_key),
                                                  timeout=self.timeout))
