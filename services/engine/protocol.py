"""Names shared with Zeebe's protocol: value types, intents, element types, rejection codes.

Records we write carry these names so that an exported record reads like one of Zeebe's.
"""

from __future__ import annotations

from enum import StrEnum

PARTITION_ID = 1
DEFAULT_TENANT = "<default>"
# Zeebe packs the partition id into the top bits of every key.
KEY_BITS = 51

USER_TASK_JOB_TYPE = "io.camunda.zeebe:userTask"
HEADER_ASSIGNEE = "io.camunda.zeebe:assignee"
HEADER_CANDIDATE_GROUPS = "io.camunda.zeebe:candidateGroups"
HEADER_CANDIDATE_USERS = "io.camunda.zeebe:candidateUsers"
HEADER_DUE_DATE = "io.camunda.zeebe:dueDate"
HEADER_FOLLOW_UP_DATE = "io.camunda.zeebe:followUpDate"
HEADER_FORM_KEY = "io.camunda.zeebe:formKey"
HEADER_PRIORITY = "io.camunda.zeebe:priority"


class ValueType(StrEnum):
    DEPLOYMENT = "DEPLOYMENT"
    PROCESS = "PROCESS"
    FORM = "FORM"
    DECISION = "DECISION"
    DECISION_REQUIREMENTS = "DECISION_REQUIREMENTS"
    DECISION_EVALUATION = "DECISION_EVALUATION"
    PROCESS_INSTANCE = "PROCESS_INSTANCE"
    PROCESS_INSTANCE_CREATION = "PROCESS_INSTANCE_CREATION"
    PROCESS_INSTANCE_MODIFICATION = "PROCESS_INSTANCE_MODIFICATION"
    RESOURCE_DELETION = "RESOURCE_DELETION"
    JOB = "JOB"
    JOB_BATCH = "JOB_BATCH"
    VARIABLE = "VARIABLE"
    VARIABLE_DOCUMENT = "VARIABLE_DOCUMENT"
    INCIDENT = "INCIDENT"
    TIMER = "TIMER"
    MESSAGE = "MESSAGE"
    MESSAGE_SUBSCRIPTION = "MESSAGE_SUBSCRIPTION"
    PROCESS_MESSAGE_SUBSCRIPTION = "PROCESS_MESSAGE_SUBSCRIPTION"
    MESSAGE_START_EVENT_SUBSCRIPTION = "MESSAGE_START_EVENT_SUBSCRIPTION"
    SIGNAL = "SIGNAL"
    SIGNAL_SUBSCRIPTION = "SIGNAL_SUBSCRIPTION"
    ESCALATION = "ESCALATION"
    ERROR = "ERROR"
    COMPENSATION_SUBSCRIPTION = "COMPENSATION_SUBSCRIPTION"


class RecordType(StrEnum):
    EVENT = "EVENT"
    COMMAND = "COMMAND"
    COMMAND_REJECTION = "COMMAND_REJECTION"


class ElementState(StrEnum):
    ACTIVATING = "ELEMENT_ACTIVATING"
    ACTIVATED = "ELEMENT_ACTIVATED"
    COMPLETING = "ELEMENT_COMPLETING"
    COMPLETED = "ELEMENT_COMPLETED"
    TERMINATING = "ELEMENT_TERMINATING"
    TERMINATED = "ELEMENT_TERMINATED"


SEQUENCE_FLOW_TAKEN = "SEQUENCE_FLOW_TAKEN"


class ElementType(StrEnum):
    """BpmnElementType, as Zeebe names it."""

    PROCESS = "PROCESS"
    SUB_PROCESS = "SUB_PROCESS"
    EVENT_SUB_PROCESS = "EVENT_SUB_PROCESS"
    START_EVENT = "START_EVENT"
    INTERMEDIATE_CATCH_EVENT = "INTERMEDIATE_CATCH_EVENT"
    INTERMEDIATE_THROW_EVENT = "INTERMEDIATE_THROW_EVENT"
    BOUNDARY_EVENT = "BOUNDARY_EVENT"
    END_EVENT = "END_EVENT"
    SERVICE_TASK = "SERVICE_TASK"
    RECEIVE_TASK = "RECEIVE_TASK"
    USER_TASK = "USER_TASK"
    MANUAL_TASK = "MANUAL_TASK"
    TASK = "TASK"
    EXCLUSIVE_GATEWAY = "EXCLUSIVE_GATEWAY"
    PARALLEL_GATEWAY = "PARALLEL_GATEWAY"
    EVENT_BASED_GATEWAY = "EVENT_BASED_GATEWAY"
    INCLUSIVE_GATEWAY = "INCLUSIVE_GATEWAY"
    SEQUENCE_FLOW = "SEQUENCE_FLOW"
    MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"
    CALL_ACTIVITY = "CALL_ACTIVITY"
    BUSINESS_RULE_TASK = "BUSINESS_RULE_TASK"
    SCRIPT_TASK = "SCRIPT_TASK"
    SEND_TASK = "SEND_TASK"


class EventType(StrEnum):
    """BpmnEventType."""

    UNSPECIFIED = "UNSPECIFIED"
    NONE = "NONE"
    TIMER = "TIMER"
    MESSAGE = "MESSAGE"
    ERROR = "ERROR"
    SIGNAL = "SIGNAL"
    ESCALATION = "ESCALATION"
    TERMINATE = "TERMINATE"
    LINK = "LINK"
    COMPENSATION = "COMPENSATION"
    CONDITIONAL = "CONDITIONAL"


class ErrorType(StrEnum):
    """Incident error types, as Zeebe names them."""

    UNKNOWN = "UNKNOWN"
    IO_MAPPING_ERROR = "IO_MAPPING_ERROR"
    JOB_NO_RETRIES = "JOB_NO_RETRIES"
    EXECUTION_LISTENER_NO_RETRIES = "EXECUTION_LISTENER_NO_RETRIES"
    CONDITION_ERROR = "CONDITION_ERROR"
    EXTRACT_VALUE_ERROR = "EXTRACT_VALUE_ERROR"
    CALLED_ELEMENT_ERROR = "CALLED_ELEMENT_ERROR"
    UNHANDLED_ERROR_EVENT = "UNHANDLED_ERROR_EVENT"
    MESSAGE_SIZE_EXCEEDED = "MESSAGE_SIZE_EXCEEDED"
    CALLED_DECISION_ERROR = "CALLED_DECISION_ERROR"
    DECISION_EVALUATION_ERROR = "DECISION_EVALUATION_ERROR"
    FORM_NOT_FOUND = "FORM_NOT_FOUND"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"


class RejectionType(StrEnum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_STATE = "INVALID_STATE"
    PROCESSING_ERROR = "PROCESSING_ERROR"
    EXCEEDED_BATCH_RECORD_SIZE = "EXCEEDED_BATCH_RECORD_SIZE"


class Rejection(Exception):
    """A command the engine refuses, with Zeebe's rejection type and reason.

    The gRPC layer maps the type to a status code and formats the message the way Zeebe's gateway does:
    "Command 'COMPLETE' rejected with code 'NOT_FOUND': Expected to ...".
    """

    def __init__(self, rejection_type: RejectionType, reason: str, *, intent: str | None = None) -> None:
        super().__init__(reason)
        self.rejection_type = rejection_type
        self.reason = reason
        self.intent = intent

    def message(self) -> str:
        if self.intent is None:
            return self.reason
        return f"Command '{self.intent}' rejected with code '{self.rejection_type}': {self.reason}"
