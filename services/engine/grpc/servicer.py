"""The `gateway_protocol.Gateway` service: RPCs in, engine commands, durable answers out.

Every RPC follows the same path: validate the request (INVALID_ARGUMENT with Zeebe's wording), run the
command on the engine, wait until its records are committed, answer. Rejections become the status codes
Zeebe's gateway uses; anything unexpected is logged and answered INTERNAL, never a crash.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayServicer

from services.engine import values
from services.engine.processing.engine import Engine
from services.engine.processing.jobs import ActivatedJob, JobRequest
from services.engine.processing.modification import ActivateInstruction, VariableInstruction
from services.engine.protocol import DEFAULT_TENANT, ElementType, Rejection, RejectionType, ValueType
from services.engine.state.committer import GroupCommitter

log = structlog.get_logger("engine.grpc")

VERSION = "8.6.0"
DEFAULT_LONG_POLL_MS = 10_000
# a long poll always answers this much before the client's own deadline would cut it off
DEADLINE_MARGIN_S = 0.5

_STATUS = {
    RejectionType.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    RejectionType.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    RejectionType.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    RejectionType.INVALID_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    RejectionType.PROCESSING_ERROR: grpc.StatusCode.INTERNAL,
    RejectionType.EXCEEDED_BATCH_RECORD_SIZE: grpc.StatusCode.INVALID_ARGUMENT,
}


MAX_DEADLINE_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _invalid(message: str) -> Rejection:
    return Rejection(RejectionType.INVALID_ARGUMENT, message)


def _document(text: str, what: str = "variables") -> dict[str, Any]:
    try:
        return values.loads_document(text, what)
    except values.InvalidJson as error:
        raise _invalid(str(error)) from error


class Gateway(GatewayServicer):
    def __init__(self, engine: Engine, committer: GroupCommitter, *, host: str, port: int) -> None:
        self.engine = engine
        self.committer = committer
        self.host = host
        self.port = port

    async def _run(self, name: str, context: grpc.aio.ServicerContext, body: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        try:
            result = await body()
        except Rejection as rejection:
            await self.committer.durable()
            self.engine.metrics.command(name, time.perf_counter() - started, ok=False)
            await context.abort(_STATUS[rejection.rejection_type], rejection.message())
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as error:  # a bug must not take the engine down with it
            log.exception("command failed", command=name)
            self.engine.metrics.command(name, time.perf_counter() - started, ok=False)
            await context.abort(grpc.StatusCode.INTERNAL, f"Unexpected error while processing {name}: {error!r}")
        self.engine.metrics.command(name, time.perf_counter() - started)
        return result

    async def _durable(self, response: Any) -> Any:
        await self.committer.durable()
        return response

    # -- cluster -----------------------------------------------------------------------------------------------

    async def Topology(self, request: pb.TopologyRequest, context: grpc.aio.ServicerContext) -> pb.TopologyResponse:
        partition = pb.Partition(partitionId=1, role=pb.Partition.LEADER, health=pb.Partition.HEALTHY)
        broker = pb.BrokerInfo(nodeId=0, host=self.host, port=self.port, partitions=[partition], version=VERSION)
        return pb.TopologyResponse(brokers=[broker], clusterSize=1, partitionsCount=1, replicationFactor=1,
                                   gatewayVersion=VERSION)

    # -- deployment ------------------------------------------------------------------------------------------------

    async def DeployResource(self, request: pb.DeployResourceRequest,
                             context: grpc.aio.ServicerContext) -> pb.DeployResourceResponse:
        async def body() -> pb.DeployResourceResponse:
            deployed = self.engine.deployments.deploy([(r.name, r.content) for r in request.resources])
            self.engine.run()
            deployments = [pb.Deployment(process=pb.ProcessMetadata(
                bpmnProcessId=p["bpmnProcessId"], version=p["version"], processDefinitionKey=p["processDefinitionKey"],
                resourceName=p["resourceName"], tenantId=DEFAULT_TENANT)) for p in deployed.processes]
            deployments += [pb.Deployment(decision=pb.DecisionMetadata(
                dmnDecisionId=d["decisionId"], dmnDecisionName=d["decisionName"], version=d["version"],
                decisionKey=d["decisionKey"], dmnDecisionRequirementsId=d["decisionRequirementsId"],
                decisionRequirementsKey=d["decisionRequirementsKey"], tenantId=DEFAULT_TENANT))
                for d in deployed.decisions]
            deployments += [pb.Deployment(decisionRequirements=pb.DecisionRequirementsMetadata(
                dmnDecisionRequirementsId=d["decisionRequirementsId"],
                dmnDecisionRequirementsName=d["decisionRequirementsName"], version=d["version"],
                decisionRequirementsKey=d["decisionRequirementsKey"], resourceName=d["resourceName"],
                tenantId=DEFAULT_TENANT)) for d in deployed.drgs]
            deployments += [pb.Deployment(form=pb.FormMetadata(
                formId=f["formId"], version=f["version"], formKey=f["formKey"], resourceName=f["resourceName"],
                tenantId=DEFAULT_TENANT)) for f in deployed.forms]
            return await self._durable(pb.DeployResourceResponse(
                key=deployed.deployment_key, deployments=deployments, tenantId=DEFAULT_TENANT))

        return await self._run("DeployResource", context, body)

    async def DeployProcess(self, request: pb.DeployProcessRequest,
                            context: grpc.aio.ServicerContext) -> pb.DeployProcessResponse:
        async def body() -> pb.DeployProcessResponse:
            deployed = self.engine.deployments.deploy([(p.name, p.definition) for p in request.processes])
            self.engine.run()
            processes = [pb.ProcessMetadata(
                bpmnProcessId=p["bpmnProcessId"], version=p["version"], processDefinitionKey=p["processDefinitionKey"],
                resourceName=p["resourceName"], tenantId=DEFAULT_TENANT) for p in deployed.processes]
            return await self._durable(pb.DeployProcessResponse(key=deployed.deployment_key, processes=processes))

        return await self._run("DeployProcess", context, body)

    # -- process instances -------------------------------------------------------------------------------------------

    def _find_process(self, request: pb.CreateProcessInstanceRequest) -> Any:
        deployments = self.engine.deployments
        if request.processDefinitionKey:
            process = self.engine.processes.get(request.processDefinitionKey)
            if process is None:
                raise Rejection(RejectionType.NOT_FOUND, "Expected to find process definition with key "
                                f"'{request.processDefinitionKey}', but none found", intent="CREATE")
            return process
        if not request.bpmnProcessId:
            raise _invalid("Expected at least a bpmnProcessId or a key greater than -1, but none given")
        if request.version <= 0:  # -1 (clients' default) means the latest version
            process = deployments.latest_process(request.bpmnProcessId)
            if process is None:
                raise Rejection(RejectionType.NOT_FOUND, "Expected to find process definition with process ID "
                                f"'{request.bpmnProcessId}', but none found", intent="CREATE")
            return process
        process = deployments.process_version(request.bpmnProcessId, request.version)
        if process is None:
            raise Rejection(RejectionType.NOT_FOUND, "Expected to find process definition with process ID "
                            f"'{request.bpmnProcessId}' and version '{request.version}', but none found",
                            intent="CREATE")
        return process

    def _create(self, request: pb.CreateProcessInstanceRequest) -> Any:
        process = self._find_process(request)
        variables = _document(request.variables)
        instructions = [i.elementId for i in request.startInstructions]
        for element_id in instructions:
            node = process.elements.get(element_id)
            if node is None:
                raise _invalid(f"Expected to find element with id '{element_id}' in process with key "
                               f"'{process.key}', but no such element was found")
            if node.flow_scope is not process.root or node.element_type in (
                    ElementType.BOUNDARY_EVENT, ElementType.EVENT_SUB_PROCESS):
                raise _invalid(f"Expected to start the process instance at element '{element_id}', but it is not "
                               "directly in the process (start instructions for nested elements are not supported)")
        if not instructions and process.root.none_start is None:
            raise Rejection(RejectionType.INVALID_STATE, "Expected to create instance of process with none start "
                            "event, but there is no such event", intent="CREATE")
        root = self.engine.processors[ElementType.PROCESS].create_instance(
            process, variables, start_instructions=instructions or None)
        return process, root

    async def CreateProcessInstance(self, request: pb.CreateProcessInstanceRequest,
                                    context: grpc.aio.ServicerContext) -> pb.CreateProcessInstanceResponse:
        async def body() -> pb.CreateProcessInstanceResponse:
            process, root = self._create(request)
            self.engine.run()
            return await self._durable(pb.CreateProcessInstanceResponse(
                processDefinitionKey=process.key, bpmnProcessId=process.bpmn_process_id, version=process.version,
                processInstanceKey=root.key, tenantId=DEFAULT_TENANT))

        return await self._run("CreateProcessInstance", context, body)

    async def CreateProcessInstanceWithResult(self, request: pb.CreateProcessInstanceWithResultRequest,
                                              context: grpc.aio.ServicerContext,
                                              ) -> pb.CreateProcessInstanceWithResultResponse:
        async def body() -> pb.CreateProcessInstanceWithResultResponse:
            process, root = self._create(request.request)
            loop = asyncio.get_running_loop()
            outcome: asyncio.Future[tuple[dict[str, Any] | None, str | None]] = loop.create_future()

            def done(variables: dict[str, Any] | None, error: str | None) -> None:
                if not outcome.done():
                    outcome.set_result((variables, error))

            self.engine.result_waiters.setdefault(root.key, []).append(done)
            self.engine.run()
            timeout = _wait_budget(request.requestTimeout, context, default_ms=None)
            try:
                variables, error = await asyncio.wait_for(outcome, timeout)
            except TimeoutError:
                waiting = self.engine.result_waiters.get(root.key)
                if waiting is not None and done in waiting:
                    waiting.remove(done)
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                    f"Expected to complete process instance '{root.key}' within the request timeout, "
                                    "but it did not complete in time")
            if error is not None:
                raise Rejection(RejectionType.PROCESSING_ERROR,
                                f"Expected to complete process instance '{root.key}', but it was terminated",
                                intent="CREATE_WITH_AWAITING_RESULT")
            fetch = list(request.fetchVariables)
            if fetch:
                variables = {k: v for k, v in (variables or {}).items() if k in fetch}
            return await self._durable(pb.CreateProcessInstanceWithResultResponse(
                processDefinitionKey=process.key, bpmnProcessId=process.bpmn_process_id, version=process.version,
                processInstanceKey=root.key, variables=values.dumps_text(variables or {}), tenantId=DEFAULT_TENANT))

        return await self._run("CreateProcessInstanceWithResult", context, body)

    async def CancelProcessInstance(self, request: pb.CancelProcessInstanceRequest,
                                    context: grpc.aio.ServicerContext) -> pb.CancelProcessInstanceResponse:
        async def body() -> pb.CancelProcessInstanceResponse:
            key = request.processInstanceKey
            instance = self.engine.state.elements.get(key)
            if instance is None or instance.key != instance.process_instance_key:
                raise Rejection(RejectionType.NOT_FOUND, f"Expected to cancel a process instance with key '{key}', "
                                "but no such process was found", intent="CANCEL")
            if instance.parent_process_instance_key > 0:
                raise Rejection(RejectionType.INVALID_STATE, f"Expected to cancel a process instance with key "
                                f"'{key}', but it is created by a parent process instance. Cancel the root process "
                                f"instance '{self._root_of(instance)}' instead.", intent="CANCEL")
            self.engine.enqueue("terminate", key)
            self.engine.run()
            return await self._durable(pb.CancelProcessInstanceResponse())

        return await self._run("CancelProcessInstance", context, body)

    def _root_of(self, instance: Any) -> int:
        elements = self.engine.state.elements
        while instance.parent_process_instance_key > 0 and instance.parent_process_instance_key in elements:
            instance = elements[instance.parent_process_instance_key]
        return instance.key

    async def SetVariables(self, request: pb.SetVariablesRequest,
                           context: grpc.aio.ServicerContext) -> pb.SetVariablesResponse:
        async def body() -> pb.SetVariablesResponse:
            variables = _document(request.variables)
            scope = self.engine.state.elements.get(request.elementInstanceKey)
            if scope is None:
                raise Rejection(RejectionType.NOT_FOUND, "Expected to update variables for element with key "
                                f"'{request.elementInstanceKey}', but no such element was found", intent="UPDATE")
            if request.local:
                self.engine.variables.set_locals(scope.key, variables)
            else:
                self.engine.variables.propagate(scope.key, variables)
            key = self.engine.state.new_key()
            self.engine.write(key, ValueType.VARIABLE_DOCUMENT, "UPDATED", {
                "scopeKey": scope.key, "updateSemantics": "LOCAL" if request.local else "PROPAGATE",
                "variables": variables, "tenantId": DEFAULT_TENANT})
            self.engine.run()
            return await self._durable(pb.SetVariablesResponse(key=key))

        return await self._run("SetVariables", context, body)

    async def ResolveIncident(self, request: pb.ResolveIncidentRequest,
                              context: grpc.aio.ServicerContext) -> pb.ResolveIncidentResponse:
        async def body() -> pb.ResolveIncidentResponse:
            self.engine.incidents.resolve(request.incidentKey)
            self.engine.run()
            return await self._durable(pb.ResolveIncidentResponse())

        return await self._run("ResolveIncident", context, body)

    # -- jobs ------------------------------------------------------------------------------------------------------------

    def _job_request(self, request: Any) -> JobRequest:
        if not request.type.strip():
            raise _invalid("Expected to activate jobs of a type, but the type is blank")
        if request.timeout < 1:
            raise _invalid(f"Expected to activate jobs with a timeout greater than 0, but was {request.timeout}")
        if self.engine.now() + request.timeout > MAX_DEADLINE_MS:
            # the deadline is an int64 epoch-millisecond field of every activated job: it must fit, or the
            # answer cannot be encoded after the jobs were handed out, and they would be lost
            raise _invalid(f"Expected to activate jobs with a timeout that ends before the year 10000, but was "
                           f"{request.timeout}")
        return JobRequest(type=request.type, worker=request.worker, timeout=request.timeout,
                          max_jobs=getattr(request, "maxJobsToActivate", 1) or 1, fetch=list(request.fetchVariable))

    async def ActivateJobs(self, request: pb.ActivateJobsRequest,
                           context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ActivateJobsResponse]:
        started = time.perf_counter()
        try:
            if request.maxJobsToActivate < 1:
                raise _invalid("Expected to activate jobs with maxJobsToActivate greater than 0, but was "
                               f"{request.maxJobsToActivate}")
            job_request = self._job_request(request)
        except Rejection as rejection:
            await context.abort(_STATUS[rejection.rejection_type], rejection.message())
        jobs = self.engine.jobs.activate(job_request)
        if jobs:
            self.engine.run()
        elif request.requestTimeout >= 0:
            budget = _wait_budget(request.requestTimeout, context, default_ms=DEFAULT_LONG_POLL_MS)
            if budget is None or budget > 0:
                self.engine.jobs.wait(job_request, asyncio.get_running_loop(), budget if budget is not None else 3600)
                try:
                    jobs = await job_request.future
                finally:
                    self.engine.jobs.forget(job_request)
                    if job_request.future is not None and not job_request.future.done():
                        job_request.future.cancel()
        await self.committer.durable()
        self.engine.metrics.command("ActivateJobs", time.perf_counter() - started)
        yield pb.ActivateJobsResponse(jobs=[_activated(job) for job in jobs])

    async def StreamActivatedJobs(self, request: pb.StreamActivatedJobsRequest,
                                  context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ActivatedJob]:
        """Jobs that become activatable while the stream is open are pushed to it (jobs that were
        already waiting are for ActivateJobs, as in Zeebe: clients poll beside their streams)."""
        try:
            job_request = self._job_request(request)
        except Rejection as rejection:
            await context.abort(_STATUS[rejection.rejection_type], rejection.message())
        stream = self.engine.jobs.open_stream(job_request)
        in_hand = None  # taken from the stream's queue, not yet accepted by the transport
        try:
            while True:
                in_hand = await stream.pushed.get()
                await self.committer.durable()
                yield _activated(in_hand)
                in_hand = None
        finally:
            if in_hand is not None:
                stream.pushed.put_nowait(in_hand)
            self.engine.jobs.close_stream(stream)
            self.engine.run()

    async def CompleteJob(self, request: pb.CompleteJobRequest,
                          context: grpc.aio.ServicerContext) -> pb.CompleteJobResponse:
        async def body() -> pb.CompleteJobResponse:
            self.engine.jobs.complete(request.jobKey, _document(request.variables))
            self.engine.run()
            return await self._durable(pb.CompleteJobResponse())

        return await self._run("CompleteJob", context, body)

    async def FailJob(self, request: pb.FailJobRequest, context: grpc.aio.ServicerContext) -> pb.FailJobResponse:
        async def body() -> pb.FailJobResponse:
            self.engine.jobs.fail(request.jobKey, request.retries, request.errorMessage, request.retryBackOff,
                                  _document(request.variables))
            self.engine.run()
            return await self._durable(pb.FailJobResponse())

        return await self._run("FailJob", context, body)

    async def ThrowError(self, request: pb.ThrowErrorRequest,
                         context: grpc.aio.ServicerContext) -> pb.ThrowErrorResponse:
        async def body() -> pb.ThrowErrorResponse:
            if not request.errorCode.strip():
                raise _invalid("Expected to throw an error with a non-empty error code, but it was empty")
            self.engine.jobs.throw_error(request.jobKey, request.errorCode, request.errorMessage,
                                         _document(request.variables))
            self.engine.run()
            return await self._durable(pb.ThrowErrorResponse())

        return await self._run("ThrowError", context, body)

    async def UpdateJobRetries(self, request: pb.UpdateJobRetriesRequest,
                               context: grpc.aio.ServicerContext) -> pb.UpdateJobRetriesResponse:
        async def body() -> pb.UpdateJobRetriesResponse:
            self.engine.jobs.update_retries(request.jobKey, request.retries)
            self.engine.run()
            return await self._durable(pb.UpdateJobRetriesResponse())

        return await self._run("UpdateJobRetries", context, body)

    async def UpdateJobTimeout(self, request: pb.UpdateJobTimeoutRequest,
                               context: grpc.aio.ServicerContext) -> pb.UpdateJobTimeoutResponse:
        async def body() -> pb.UpdateJobTimeoutResponse:
            self.engine.jobs.update_timeout(request.jobKey, request.timeout)
            self.engine.run()
            return await self._durable(pb.UpdateJobTimeoutResponse())

        return await self._run("UpdateJobTimeout", context, body)

    # -- messages and signals ---------------------------------------------------------------------------------------------

    async def PublishMessage(self, request: pb.PublishMessageRequest,
                             context: grpc.aio.ServicerContext) -> pb.PublishMessageResponse:
        async def body() -> pb.PublishMessageResponse:
            if not request.name.strip():
                raise _invalid("Expected to publish a message with a name, but the name is blank")
            if request.timeToLive < 0:
                raise _invalid(f"Expected the message's time to live to be 0 or more, but was {request.timeToLive}")
            key = self.engine.events.publish(request.name, request.correlationKey, request.timeToLive,
                                             request.messageId, _document(request.variables))
            self.engine.run()
            return await self._durable(pb.PublishMessageResponse(key=key, tenantId=DEFAULT_TENANT))

        return await self._run("PublishMessage", context, body)

    async def BroadcastSignal(self, request: pb.BroadcastSignalRequest,
                              context: grpc.aio.ServicerContext) -> pb.BroadcastSignalResponse:
        async def body() -> pb.BroadcastSignalResponse:
            if not request.signalName.strip():
                raise _invalid("Expected to broadcast a signal with a name, but the name is blank")
            key = self.engine.events.broadcast_signal(request.signalName, _document(request.variables))
            self.engine.run()
            return await self._durable(pb.BroadcastSignalResponse(key=key, tenantId=DEFAULT_TENANT))

        return await self._run("BroadcastSignal", context, body)

    # -- decisions ----------------------------------------------------------------------------------------------------------

    async def EvaluateDecision(self, request: pb.EvaluateDecisionRequest,
                               context: grpc.aio.ServicerContext) -> pb.EvaluateDecisionResponse:
        async def body() -> pb.EvaluateDecisionResponse:
            deployments = self.engine.deployments
            if not request.decisionKey and not request.decisionId:
                raise _invalid("Expected either a decision id or a valid decision key, but none provided")
            decision = deployments.find_decision(request.decisionId, request.decisionKey)
            if decision is None:
                what = (f"key '{request.decisionKey}'" if request.decisionKey else f"id '{request.decisionId}'")
                raise Rejection(RejectionType.NOT_FOUND, f"Expected to evaluate decision with {what}, but no such "
                                "decision found", intent="EVALUATE")
            variables = _document(request.variables)
            result = deployments.evaluate(decision, variables)
            instance_key = deployments.record_evaluation(decision, result)
            self.engine.run()
            drg = deployments.resource(decision["drgKey"])
            evaluated = [pb.EvaluatedDecision(
                decisionKey=(deployments.find_decision(d.decision_id) or decision)["key"],
                decisionId=d.decision_id, decisionName=d.decision_name,
                decisionVersion=(deployments.find_decision(d.decision_id) or decision)["version"],
                decisionType=d.decision_type, decisionOutput=values.dumps_text(d.output),
                matchedRules=[pb.MatchedDecisionRule(ruleId=r.rule_id, ruleIndex=r.rule_index, evaluatedOutputs=[
                    pb.EvaluatedDecisionOutput(outputId=o.output_id, outputName=o.output_name,
                                               outputValue=values.dumps_text(o.value))
                    for o in r.evaluated_outputs]) for r in d.matched_rules],
                evaluatedInputs=[pb.EvaluatedDecisionInput(inputId=i.input_id, inputName=i.input_name,
                                                           inputValue=values.dumps_text(i.value))
                                 for i in d.evaluated_inputs],
                tenantId=DEFAULT_TENANT) for d in result.evaluated_decisions]
            return await self._durable(pb.EvaluateDecisionResponse(
                decisionKey=decision["key"], decisionId=decision["decisionId"], decisionName=decision["name"],
                decisionVersion=decision["version"], decisionRequirementsId=drg["id"],
                decisionRequirementsKey=drg["key"], decisionOutput=values.dumps_text(result.output),
                evaluatedDecisions=evaluated, failedDecisionId=result.failed_decision_id or "",
                failureMessage=result.failure_message or "", tenantId=DEFAULT_TENANT,
                decisionInstanceKey=instance_key))

        return await self._run("EvaluateDecision", context, body)

    async def ModifyProcessInstance(self, request: pb.ModifyProcessInstanceRequest,
                                    context: grpc.aio.ServicerContext) -> pb.ModifyProcessInstanceResponse:
        async def body() -> pb.ModifyProcessInstanceResponse:
            activations = [ActivateInstruction(
                element_id=a.elementId, ancestor_key=a.ancestorElementInstanceKey,
                variables=[VariableInstruction(_document(v.variables), v.scopeId) for v in a.variableInstructions])
                for a in request.activateInstructions]
            terminations = [t.elementInstanceKey for t in request.terminateInstructions]
            reference = request.operationReference if request.HasField("operationReference") else None
            self.engine.modification.modify(request.processInstanceKey, activations, terminations, reference)
            self.engine.run()
            return await self._durable(pb.ModifyProcessInstanceResponse())

        return await self._run("ModifyProcessInstance", context, body)

    async def DeleteResource(self, request: pb.DeleteResourceRequest,
                             context: grpc.aio.ServicerContext) -> pb.DeleteResourceResponse:
        async def body() -> pb.DeleteResourceResponse:
            self.engine.resource_deletion.delete(request.resourceKey)
            self.engine.run()
            return await self._durable(pb.DeleteResourceResponse())

        return await self._run("DeleteResource", context, body)

    # -- not supported -----------------------------------------------------------------------------------------------------------

    async def _unimplemented(self, name: str, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                            f"{name} is not supported by this engine (Qianliyan implements the Zeebe 8.6 gateway "
                            "protocol without process instance migration)")

    async def MigrateProcessInstance(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unimplemented("MigrateProcessInstance", context)



def _activated(job: ActivatedJob) -> pb.ActivatedJob:
    return pb.ActivatedJob(
        key=job.key, type=job.type, processInstanceKey=job.process_instance_key, bpmnProcessId=job.bpmn_process_id,
        processDefinitionVersion=job.process_definition_version, processDefinitionKey=job.process_definition_key,
        elementId=job.element_id, elementInstanceKey=job.element_instance_key, customHeaders=job.custom_headers,
        worker=job.worker, retries=job.retries, deadline=job.deadline, variables=job.variables,
        tenantId=DEFAULT_TENANT)


def _wait_budget(request_timeout_ms: int, context: grpc.aio.ServicerContext, *, default_ms: int | None) -> float | None:
    """How long a call may wait: its own timeout (or the default), always ending before the client's deadline."""
    wait = request_timeout_ms / 1000 if request_timeout_ms > 0 else (default_ms / 1000 if default_ms else None)
    remaining = context.time_remaining()
    if remaining is not None:
        limit = max(remaining - DEADLINE_MARGIN_S, remaining * 0.5, 0.0)
        wait = limit if wait is None else min(wait, limit)
    return wait
