"""Incidents: a step that can't go on waits for a person, who fixes the cause and resolves the incident.

A job incident is resolved by making the job activatable again (after its retries were raised). Any other
incident remembers the step that failed (activate or complete the element, ...) and runs it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.engine.protocol import ErrorType, Rejection, RejectionType, ValueType
from services.engine.state.entities import ElementInstance, Incident, Job

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine


class Incidents:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    def raise_(self, instance: ElementInstance, error_type: str, message: str, *, job: Job | None = None,
               retry: dict[str, Any] | None = None, variable_scope_key: int | None = None) -> Incident:
        process = self.engine.processes[instance.process_definition_key]
        incident = Incident(
            self.state.new_key(), str(error_type), message, instance.key, instance.element_id,
            instance.process_instance_key, process.key, process.bpmn_process_id, job.key if job else -1,
            variable_scope_key if variable_scope_key is not None else instance.key, retry, self.engine.now(),
        )
        self.state.put_incident(incident)
        self.engine.write(incident.key, ValueType.INCIDENT, "CREATED", incident.record_value())
        self.engine.metrics.incidents_created += 1
        return incident

    def raise_for_job(self, instance: ElementInstance, job: Job, message: str) -> Incident:
        return self.raise_(instance, ErrorType.JOB_NO_RETRIES, message, job=job)

    def raise_for_step(self, instance: ElementInstance, error_type: str, message: str, op: str,
                       **extra: Any) -> Incident:
        """An incident on a step of the life cycle; resolving it runs `op` again for the element."""
        return self.raise_(instance, error_type, message, retry={"op": op, **extra})

    def resolve(self, key: int) -> None:
        incident = self.state.incidents.get(key)
        if incident is None:
            raise Rejection(RejectionType.NOT_FOUND,
                            f"Expected to resolve incident with key '{key}', but no such incident was found",
                            intent="RESOLVE")
        self._remove(incident)
        instance = self.state.elements.get(incident.element_instance_key)
        if incident.job_key > 0:
            job = self.state.jobs.get(incident.job_key)
            if job is not None:
                if job.retries > 0 or incident.error_type != ErrorType.JOB_NO_RETRIES:
                    self.engine.jobs.make_activatable(job)
                elif instance is not None:
                    # resolved without raising the retries: the job fails again at once, as in Zeebe
                    self.raise_for_job(instance, job, job.error_message or "No more retries left.")
        elif incident.retry is not None and instance is not None:
            self.engine.processors[instance.node.element_type].retry(instance, incident.retry)
        self.engine.run()

    def resolve_all(self, instance: ElementInstance) -> None:
        """An element going away takes its incidents with it."""
        for key in sorted(self.state.incidents_by_element.get(instance.key, ())):
            self._remove(self.state.incidents[key])

    def _remove(self, incident: Incident) -> None:
        self.state.remove_incident(incident.key)
        self.engine.write(incident.key, ValueType.INCIDENT, "RESOLVED", incident.record_value())
