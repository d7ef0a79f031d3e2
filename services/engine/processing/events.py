"""Events: subscriptions (timers, messages, signals), triggers, and the catching of errors and escalations.

An element instance that waits for an event opens subscriptions when it is activated: a catch event or
receive task for itself, an event-based gateway for the events after it, an activity for its boundary
events, a scope for the start events of its event sub-processes. They close when the instance leaves.
Start events of a process (timer, message, signal) subscribe on behalf of its latest version.

When an event occurs, `trigger` decides what happens by the kind of catch element:
- the waiting catch element itself completes;
- an interrupting boundary event terminates its activity and then continues; a non-interrupting one
  starts a parallel path;
- an interrupting event sub-process terminates everything else in its scope and then runs; a
  non-interrupting one runs beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from services.engine.expressions import ExpressionError, result_type
from services.engine.model.elements import ExecutableProcess, FlowNode
from services.engine.protocol import ElementState, ElementType, EventType, Rejection, RejectionType, ValueType
from services.engine.state.entities import ElementInstance, Message, Subscription
from services.engine.timers import (
    TimerDefinitionError,
    from_ms,
    parse_cycle,
    parse_datetime,
    parse_duration,
    to_ms,
)

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine

log = structlog.get_logger("engine")

_WAITING_CATCHES = (ElementType.INTERMEDIATE_CATCH_EVENT, ElementType.RECEIVE_TASK)


class Events:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state
        # latest process versions with start events, by message / signal name
        self.start_messages: dict[str, list[tuple[int, str]]] = {}  # name -> [(definition key, element id)]
        self.start_signals: dict[str, list[tuple[int, str]]] = {}
        # (bpmn process id, correlation key) -> active instances a message with that key started
        self.started_by_message: dict[tuple[str, str], set[int]] = {}

    # -- dispatch of queued event commands ---------------------------------------------------------------

    def dispatch(self, command: tuple[Any, ...]) -> None:
        op = command[0]
        if op == "trigger_message":
            self.correlate_buffered_now(command[1], command[2], command[3])
        else:
            raise ValueError(f"unknown engine command {op!r}")

    # -- opening and closing subscriptions -------------------------------------------------------------------

    def catch_nodes(self, instance: ElementInstance) -> list[FlowNode]:
        """The catch elements an instance subscribes for, by its kind."""
        node = instance.node
        element_type = node.element_type
        if element_type in _WAITING_CATCHES:
            return [node, *node.boundary_events]
        if element_type == ElementType.EVENT_BASED_GATEWAY:
            return [flow.target for flow in node.outgoing]
        nodes = list(node.boundary_events)
        if node.event_sub_processes:
            for esp in node.event_sub_processes:
                nodes.extend(c for c in esp.children if c.element_type == ElementType.START_EVENT)
        return nodes

    def open_for(self, instance: ElementInstance) -> None:
        """Open the instance's timer, message and signal subscriptions; raises ExpressionError."""
        catches = self.catch_nodes(instance)
        if not catches:
            return
        view = self.engine.variables.view(instance.key)
        opened: list[Subscription] = []
        try:
            for catch in catches:
                subscription = self._subscription_for(instance, catch, view)
                if subscription is not None:
                    opened.append(subscription)
        except ExpressionError:
            for subscription in opened:
                self.state.subscriptions.pop(subscription.key, None)
            raise
        for subscription in opened:
            self._open(instance, subscription)

    def _subscription_for(self, instance: ElementInstance, catch: FlowNode, view: Any) -> Subscription | None:
        parameters = self.catch_parameters(catch, view)
        if parameters is None:
            return None
        kind, fields = parameters
        process = self.engine.processes[instance.process_definition_key]
        return Subscription(
            self.state.new_key(), kind, element_instance_key=instance.key,
            process_instance_key=instance.process_instance_key, process_definition_key=process.key,
            bpmn_process_id=process.bpmn_process_id, catch_element_id=catch.id, interrupting=catch.interrupting,
            **fields)

    def catch_parameters(self, catch: FlowNode, view: Any) -> tuple[str, dict[str, Any]] | None:
        """What a subscription for `catch` would be (kind, fields), evaluated in `view` without changing
        anything, so a command that must be all-or-nothing can find a failing expression first."""
        if catch.event_type == EventType.TIMER and catch.timer is not None:
            due, repetitions, cycle = self.timer_due(catch, view, self.engine.now())
            return "timer", {"due": due, "repetitions": repetitions, "cycle": cycle}
        if catch.event_type == EventType.MESSAGE and catch.message is not None:
            name = catch.message.name.evaluate_string(view, self.engine.now) if catch.message.name else ""
            key_expr = catch.message.correlation_key
            if key_expr is None:
                raise ExpressionError(f"Expected a correlation key for the message '{name}', but none is defined")
            correlation_key = key_expr.evaluate_string_or_number(view, self.engine.now)
            return "message", {"name": name, "correlation_key": correlation_key}
        if catch.event_type == EventType.SIGNAL and catch.signal_name is not None:
            return "signal", {"name": catch.signal_name.evaluate_string(view, self.engine.now)}
        return None

    def _open(self, instance: ElementInstance, subscription: Subscription) -> None:
        self.state.put_subscription(subscription)
        if instance is not None:
            instance.subscriptions.append(subscription.key)
            self.state.touch_element(instance)
        self._write(subscription, "CREATED")
        if subscription.kind == "message":
            self.correlate_buffered(subscription)

    def _write(self, subscription: Subscription, intent: str, variables: dict[str, Any] | None = None,
               message_key: int = -1) -> None:
        if subscription.kind == "timer":
            self.engine.write(subscription.key, ValueType.TIMER, intent, {
                "elementInstanceKey": subscription.element_instance_key,
                "processInstanceKey": subscription.process_instance_key,
                "processDefinitionKey": subscription.process_definition_key, "dueDate": subscription.due,
                "targetElementId": subscription.catch_element_id, "repetitions": subscription.repetitions,
                "tenantId": "<default>",
            })
        elif subscription.kind == "message":
            value_type = (ValueType.PROCESS_MESSAGE_SUBSCRIPTION if subscription.element_instance_key > 0
                          else ValueType.MESSAGE_START_EVENT_SUBSCRIPTION)
            self.engine.write(subscription.key, value_type, intent, {
                "processInstanceKey": subscription.process_instance_key,
                "elementInstanceKey": subscription.element_instance_key,
                "processDefinitionKey": subscription.process_definition_key,
                "bpmnProcessId": subscription.bpmn_process_id, "messageName": subscription.name,
                "correlationKey": subscription.correlation_key, "elementId": subscription.catch_element_id,
                "interrupting": subscription.interrupting, "messageKey": message_key,
                "variables": variables or {}, "tenantId": "<default>",
            })
        else:
            self.engine.write(subscription.key, ValueType.SIGNAL_SUBSCRIPTION, intent, {
                "signalName": subscription.name, "catchElementId": subscription.catch_element_id,
                "catchEventInstanceKey": subscription.element_instance_key,
                "processDefinitionKey": subscription.process_definition_key,
                "bpmnProcessId": subscription.bpmn_process_id, "tenantId": "<default>",
            })

    def close_all(self, instance: ElementInstance) -> None:
        if not instance.subscriptions:
            return
        for key in instance.subscriptions:
            subscription = self.state.remove_subscription(key)
            if subscription is not None:
                self._write(subscription, "CANCELED" if subscription.kind == "timer" else "DELETED")
        instance.subscriptions = []
        self.state.touch_element(instance)

    def close_event_sub_process_starts(self, scope: ElementInstance) -> None:
        """An interrupting event sub-process took over the scope: no other one may start, but the events
        attached to the scope itself (its boundary events) stay."""
        if not scope.subscriptions:
            return
        elements = self.engine.processes[scope.process_definition_key].elements
        for key in list(scope.subscriptions):
            subscription = self.state.subscriptions.get(key)
            if subscription is None:
                continue
            catch = elements[subscription.catch_element_id]
            if catch.element_type == ElementType.START_EVENT and catch.flow_scope is not None \
                    and catch.flow_scope.element_type == ElementType.EVENT_SUB_PROCESS:
                self.close(scope, subscription, "CANCELED" if subscription.kind == "timer" else "DELETED")

    def close(self, instance: ElementInstance, subscription: Subscription, intent: str,
              variables: dict[str, Any] | None = None, message_key: int = -1) -> None:
        self.state.remove_subscription(subscription.key)
        try:
            instance.subscriptions.remove(subscription.key)
        except ValueError:
            pass
        self.state.touch_element(instance)
        self._write(subscription, intent, variables, message_key)

    # -- timers ------------------------------------------------------------------------------------------------

    def timer_due(self, catch: FlowNode, view: Any, now: int) -> tuple[int, int, str | None]:
        """(due ms, repetitions, cycle text) of a timer definition evaluated now."""
        spec = catch.timer
        assert spec is not None
        expression = spec.expression
        if expression.is_static:
            text = expression.static or ""
        else:
            value = expression.evaluate(view, self.engine.now)
            if not isinstance(value, str):
                kinds = {"duration": "[DURATION, PERIOD, STRING]", "date": "[DATE_TIME, STRING]",
                         "cycle": "[STRING]"}[spec.kind]
                raise ExpressionError(
                    f"Expected result of the expression '{expression.text}' to be one of '{kinds}', but was "
                    f"'{result_type(value)}'")
            text = value
        try:
            if spec.kind == "duration":
                duration = parse_duration(text)
                return to_ms(duration.add_to(from_ms(now))), 1, None
            if spec.kind == "date":
                return to_ms(parse_datetime(text)), 1, None
            cycle = parse_cycle(text)
            due = cycle.first_due(now)
            if due is None:
                raise ExpressionError(f"The time cycle '{text}' has no next occurrence")
            return due, cycle.repetitions, text
        except TimerDefinitionError as error:
            raise ExpressionError(str(error)) from error

    def fire_timer(self, key: int, due: int) -> bool:
        subscription = self.state.subscriptions.get(key)
        if subscription is None or subscription.kind != "timer" or subscription.due != due:
            return False
        self.engine.metrics.timers_fired += 1
        self.state.remove_subscription(key)
        started_key = 0
        if subscription.element_instance_key <= 0:
            # the record of a start event's timer names the instance it starts, as Zeebe's does
            started_key = self.state.new_key()
            subscription.process_instance_key = started_key
            self._write(subscription, "TRIGGERED")
            subscription.process_instance_key = -1
        else:
            self._write(subscription, "TRIGGERED")
        instance = self.state.elements.get(subscription.element_instance_key) \
            if subscription.element_instance_key > 0 else None
        if instance is not None:
            try:
                instance.subscriptions.remove(key)
            except ValueError:
                pass
            self.state.touch_element(instance)
        repeat = subscription.cycle is not None and subscription.repetitions != 1 and (
            subscription.element_instance_key <= 0 or not subscription.interrupting)
        if repeat:
            cycle = self._cycle_again(subscription, instance)
            next_due = parse_cycle(cycle).next_due(due, self.engine.now())
            if next_due is not None:
                following = Subscription(
                    self.state.new_key(), "timer", element_instance_key=subscription.element_instance_key,
                    process_instance_key=subscription.process_instance_key,
                    process_definition_key=subscription.process_definition_key,
                    bpmn_process_id=subscription.bpmn_process_id, catch_element_id=subscription.catch_element_id,
                    interrupting=subscription.interrupting, due=next_due, cycle=cycle,
                    repetitions=subscription.repetitions - 1 if subscription.repetitions > 0 else -1,
                )
                if instance is not None:
                    self._open(instance, following)
                else:
                    self.state.put_subscription(following)
                    self._write(following, "CREATED")
        if subscription.element_instance_key <= 0:
            process = self.engine.processes.get(subscription.process_definition_key)
            if process is not None:
                self.engine.processors[ElementType.PROCESS].start_at(
                    process, process.elements[subscription.catch_element_id], {}, key=started_key)
        elif instance is not None:
            self.trigger(instance, subscription.catch_element_id, {})
        return True

    def _cycle_again(self, subscription: Subscription, instance: ElementInstance | None) -> str:
        """The cycle for the next repetition. As Zeebe does, a timer's expression is evaluated again when it is
        rescheduled, so a changed variable sets the next interval; the repetitions left still count down from
        the first evaluation. An expression that fails now keeps the interval it had (Zeebe rejects the
        reschedule; an incident has no element to sit on between repetitions)."""
        assert subscription.cycle is not None
        process = self.engine.processes.get(subscription.process_definition_key)
        catch = process.elements.get(subscription.catch_element_id) if process is not None else None
        if catch is None or catch.timer is None or catch.timer.expression.is_static:
            return subscription.cycle
        view = self.engine.variables.view(instance.key) if instance is not None else {}
        try:
            _, _, text = self.timer_due(catch, view, self.engine.now())
        except ExpressionError as error:
            log.warning("timer cycle not evaluated again; keeping the last one", element_id=catch.id,
                        element_instance_key=subscription.element_instance_key, error=str(error)[:300])
            return subscription.cycle
        return text or subscription.cycle

    # -- messages -------------------------------------------------------------------------------------------------

    def publish(self, name: str, correlation_key: str, ttl_ms: int, message_id: str,
                variables: dict[str, Any]) -> int:
        if message_id and (name, correlation_key, message_id) in self.state.message_ids:
            raise Rejection(
                RejectionType.ALREADY_EXISTS,
                f"Expected to publish a new message with id '{message_id}', but a message with that id was "
                "already published", intent="PUBLISH")
        now = self.engine.now()
        message = Message(self.state.new_key(), name, correlation_key, message_id, variables,
                          now + ttl_ms if ttl_ms > 0 else now, now)
        self.engine.write(message.key, ValueType.MESSAGE, "PUBLISHED", message.record_value())
        self.engine.metrics.messages_published += 1
        self.correlate_published(message)
        if ttl_ms > 0:
            self.state.put_message(message)
        else:
            self.engine.write(message.key, ValueType.MESSAGE, "EXPIRED", message.record_value())
        return message.key

    def correlate_published(self, message: Message) -> None:
        subscriptions = self.state.message_subscriptions.get((message.name, message.correlation_key))
        if subscriptions:
            for key in list(subscriptions):
                subscription = self.state.subscriptions.get(key)
                if subscription is None or subscription.bpmn_process_id in message.correlated:
                    continue
                if self._correlate(subscription, message):
                    message.correlated.append(subscription.bpmn_process_id)
        for definition_key, element_id in self.start_messages.get(message.name, ()):
            process = self.engine.processes[definition_key]
            if process.bpmn_process_id in message.correlated:
                continue
            if message.correlation_key and self._has_active_instance_for_key(process.bpmn_process_id,
                                                                             message.correlation_key):
                continue
            message.correlated.append(process.bpmn_process_id)
            self.start_by_message(process, process.elements[element_id], message)

    def start_by_message(self, process: ExecutableProcess, start: FlowNode, message: Message) -> None:
        self.engine.metrics.messages_correlated += 1
        key = self.state.new_key()
        self.engine.write(message.key, ValueType.MESSAGE_START_EVENT_SUBSCRIPTION, "CORRELATED", {
            "processDefinitionKey": process.key, "bpmnProcessId": process.bpmn_process_id,
            "startEventId": start.id, "messageName": message.name, "messageKey": message.key,
            "correlationKey": message.correlation_key, "variables": message.variables,
            "processInstanceKey": key, "tenantId": "<default>",
        })
        root = self.engine.processors[ElementType.PROCESS].start_at(process, start, message.variables, key=key)
        if message.correlation_key:
            root.created_by_message = message.correlation_key
            self.state.touch_element(root)
            self.started_by_message.setdefault((process.bpmn_process_id, message.correlation_key), set()).add(key)

    def _has_active_instance_for_key(self, bpmn_process_id: str, correlation_key: str) -> bool:
        return bool(self.started_by_message.get((bpmn_process_id, correlation_key)))

    def message_started_instance_ended(self, root: ElementInstance) -> None:
        process = self.engine.processes[root.process_definition_key]
        correlation_key = root.created_by_message or ""
        active = self.started_by_message.get((process.bpmn_process_id, correlation_key))
        if active is not None:
            active.discard(root.key)
            if not active:
                del self.started_by_message[(process.bpmn_process_id, correlation_key)]
        self.correlate_buffered_starts(process, correlation_key)

    def _correlate(self, subscription: Subscription, message: Message) -> bool:
        instance = self.state.elements.get(subscription.element_instance_key)
        if instance is None or instance.state != ElementState.ACTIVATED:
            return False
        self.engine.metrics.messages_correlated += 1
        catch = self.engine.processes[subscription.process_definition_key].elements[subscription.catch_element_id]
        keep_open = catch.element_type in (ElementType.BOUNDARY_EVENT, ElementType.START_EVENT) and \
            not catch.interrupting
        if keep_open:
            self._write(subscription, "CORRELATED", message.variables, message.key)
        else:
            self.close(instance, subscription, "CORRELATED", message.variables, message.key)
        self.trigger(instance, subscription.catch_element_id, dict(message.variables))
        return True

    def correlate_buffered(self, subscription: Subscription) -> None:
        buffered = self.state.buffered.get((subscription.name, subscription.correlation_key))
        if not buffered:
            return
        now = self.engine.event_time()
        for key in list(buffered):
            message = self.state.messages.get(key)
            if message is None or message.deadline <= now or subscription.bpmn_process_id in message.correlated:
                continue
            # correlate after the opening step finishes, so the element is fully activated first
            message.correlated.append(subscription.bpmn_process_id)
            self.state.touch_message(message)
            self.engine.enqueue("trigger_message", subscription.key, message.key, subscription.bpmn_process_id)
            return

    def correlate_buffered_now(self, subscription_key: int, message_key: int, bpmn_process_id: str) -> None:
        message = self.state.messages.get(message_key)
        if message is None:
            return
        subscription = self.state.subscriptions.get(subscription_key)
        if subscription is None or not self._correlate(subscription, message):
            # the waiting element went away meanwhile: the message stays available to the process
            message.correlated.remove(bpmn_process_id)
            self.state.touch_message(message)

    def correlate_buffered_starts(self, process: ExecutableProcess, correlation_key: str) -> None:
        """An instance started by a message ended: a buffered message with the same key may start the next."""
        for start in process.message_starts:
            name = self.start_name(start)
            if not name:
                continue
            for key in list(self.state.buffered.get((name, correlation_key), ())):
                message = self.state.messages.get(key)
                if message is None or process.bpmn_process_id in message.correlated:
                    continue
                if message.deadline <= self.engine.event_time():
                    continue
                message.correlated.append(process.bpmn_process_id)
                self.state.touch_message(message)
                self.start_by_message(process, start, message)
                return

    def expire_message(self, key: int, due: int) -> bool:
        message = self.state.messages.get(key)
        if message is None or message.deadline != due:
            return False
        self.state.remove_message(key)
        self.engine.write(message.key, ValueType.MESSAGE, "EXPIRED", message.record_value())
        return True

    # -- signals ---------------------------------------------------------------------------------------------------

    def broadcast_signal(self, name: str, variables: dict[str, Any]) -> int:
        key = self.state.new_key()
        self.engine.write(key, ValueType.SIGNAL, "BROADCASTED", {
            "signalName": name, "variables": variables, "tenantId": "<default>"})
        for subscription_key in list(self.state.signal_subscriptions.get(name, ())):
            subscription = self.state.subscriptions.get(subscription_key)
            if subscription is None:
                continue
            instance = self.state.elements.get(subscription.element_instance_key)
            if instance is None or instance.state != ElementState.ACTIVATED:
                continue
            catch = self.engine.processes[subscription.process_definition_key].elements[subscription.catch_element_id]
            if not (catch.element_type in (ElementType.BOUNDARY_EVENT, ElementType.START_EVENT)
                    and not catch.interrupting):
                self.close(instance, subscription, "DELETED")
            self.trigger(instance, subscription.catch_element_id, dict(variables))
        for definition_key, element_id in list(self.start_signals.get(name, ())):
            process = self.engine.processes[definition_key]
            self.engine.processors[ElementType.PROCESS].start_at(process, process.elements[element_id], variables)
        return key

    # -- triggering -------------------------------------------------------------------------------------------------

    def trigger(self, subscriber: ElementInstance, catch_id: str, variables: dict[str, Any]) -> None:
        process = self.engine.processes[subscriber.process_definition_key]
        catch = process.elements[catch_id]
        node = subscriber.node
        if catch is node or (catch.id == node.id and node.element_type in _WAITING_CATCHES):
            # the waiting element itself (for a multi-instance receive task, `catch` is its body)
            self.engine.processors[node.element_type].on_event(subscriber, variables)
            return
        if node.element_type == ElementType.EVENT_BASED_GATEWAY:
            self.close_all(subscriber)
            self.engine.processors[node.element_type].on_event_chosen(subscriber, catch, variables)
            return
        if catch.element_type == ElementType.BOUNDARY_EVENT:
            if catch.interrupting:
                self.close_all(subscriber)
                subscriber.trigger = {"kind": "boundary", "element": catch.id, "variables": variables}
                self.state.touch_element(subscriber)
                self.engine.enqueue("terminate", subscriber.key)
            else:
                scope = self.state.elements.get(subscriber.flow_scope_key)
                if scope is not None:
                    self.activate_triggered(scope, catch, variables)
            return
        if catch.element_type == ElementType.START_EVENT and catch.flow_scope is not None \
                and catch.flow_scope.element_type == ElementType.EVENT_SUB_PROCESS:
            self.engine.processors[ElementType.EVENT_SUB_PROCESS].trigger(subscriber, catch, variables)
            return
        raise AssertionError(f"no way to trigger {catch!r} on {node!r}")

    def activate_triggered(self, scope: ElementInstance, catch: FlowNode, variables: dict[str, Any]) -> ElementInstance:
        instance = self.engine.lifecycle.create(scope, catch)
        instance.trigger = {"kind": "event", "variables": variables}
        self.engine.enqueue("activate", instance.key)
        return instance

    # -- errors and escalations ------------------------------------------------------------------------------------

    def throw_error(self, thrower: ElementInstance, code: str, message: str, variables: dict[str, Any]) -> bool:
        """Find the catch event for an error thrown at `thrower` and trigger it; False when nobody catches it."""
        found = self._find_catch(thrower, EventType.ERROR, code)
        if found is None:
            return False
        subscriber, catch = found
        caught = dict(variables)
        if catch.error_code_variable:
            caught[catch.error_code_variable] = code
        if catch.error_message_variable:
            caught[catch.error_message_variable] = message
        self.engine.write(self.state.new_key(), ValueType.ERROR, "CREATED", {
            "errorCode": code, "errorMessage": message, "elementInstanceKey": thrower.key,
            "processInstanceKey": thrower.process_instance_key, "tenantId": "<default>"})
        self.trigger(subscriber, catch.id, caught)
        return True

    def throw_escalation(self, thrower: ElementInstance, code: str) -> bool:
        """Returns True when an interrupting catch event took over (the thrower is being terminated)."""
        found = self._find_catch(thrower, EventType.ESCALATION, code)
        value = {"escalationCode": code, "throwElementId": thrower.element_id,
                 "catchElementId": found[1].id if found else "", "processInstanceKey": thrower.process_instance_key,
                 "tenantId": "<default>"}
        if found is None:
            self.engine.write(self.state.new_key(), ValueType.ESCALATION, "NOT_ESCALATED", value)
            return False
        self.engine.write(self.state.new_key(), ValueType.ESCALATION, "ESCALATED", value)
        subscriber, catch = found
        self.trigger(subscriber, catch.id, {})
        return catch.interrupting

    def _find_catch(self, thrower: ElementInstance, kind: EventType, code: str) -> tuple[ElementInstance, FlowNode] | None:
        elements = self.state.elements
        current: ElementInstance | None = thrower
        check_boundaries = True
        while current is not None:
            node = current.node
            if check_boundaries and node.boundary_events:
                match = _best_match([b for b in node.boundary_events if b.event_type == kind], code)
                if match is not None and current.state in (ElementState.ACTIVATED, ElementState.ACTIVATING,
                                                           ElementState.COMPLETING):
                    return current, match
            scope = elements.get(current.flow_scope_key) if current.flow_scope_key > 0 else None
            if scope is None:
                # a called process: the error leaves through the call activity in the parent process
                if current.parent_element_instance_key > 0:
                    current = elements.get(current.parent_element_instance_key)
                    check_boundaries = True
                    continue
                return None
            starts = []
            for esp in scope.node.event_sub_processes:
                starts.extend(c for c in esp.children
                              if c.element_type == ElementType.START_EVENT and c.event_type == kind)
            match = _best_match(starts, code)
            if match is not None and scope.interrupt is None:
                return scope, match
            current = scope
            check_boundaries = True
        return None

    # -- start events of process definitions ------------------------------------------------------------------------

    def recover(self) -> None:
        self.rebuild_start_subscriptions()
        for instance in self.state.elements.values():
            if instance.created_by_message and instance.key == instance.process_instance_key:
                process = self.engine.processes[instance.process_definition_key]
                self.started_by_message.setdefault((process.bpmn_process_id, instance.created_by_message),
                                                   set()).add(instance.key)

    def rebuild_start_subscriptions(self) -> None:
        self.start_messages.clear()
        self.start_signals.clear()
        for process in self.engine.deployments.latest_processes():
            for start in process.message_starts:
                name = self.start_name(start)
                if name is not None:
                    self.start_messages.setdefault(name, []).append((process.key, start.id))
            for start in process.signal_starts:
                name = self.start_name(start)
                if name is not None:
                    self.start_signals.setdefault(name, []).append((process.key, start.id))

    def start_name(self, start: FlowNode) -> str | None:
        """The message or signal name of a process start event: an expression is evaluated without
        variables (there is no instance yet); deployment rejects one that fails."""
        expression = start.message.name if start.message is not None else start.signal_name
        if expression is None:
            return None
        if expression.is_static:
            return expression.static or ""
        try:
            return expression.evaluate_string({}, self.engine.now)
        except ExpressionError:
            return None

    def start_event_problems(self, process: ExecutableProcess) -> list[tuple[str, str]]:
        """(element id, message) for each start event of the process whose expression can't be evaluated at
        deployment, as Zeebe validates them."""
        problems = []
        now = self.engine.now()
        for start in process.timer_starts:
            if start.timer is not None and not start.timer.expression.is_static:
                try:
                    self.timer_due(start, {}, now)
                except ExpressionError as error:
                    problems.append((start.id, "Expected a valid timer expression for start event, but encountered "
                                     f"the following error: {error}"))
        for start in [*process.message_starts, *process.signal_starts]:
            expression = start.message.name if start.message is not None else start.signal_name
            if expression is None or expression.is_static:
                continue
            what = "message" if start.message is not None else "signal"
            try:
                expression.evaluate_string({}, self.engine.now)
            except ExpressionError as error:
                problems.append((start.id, f"Expected a valid {what} name expression for start event, but "
                                 f"encountered the following error: {error}"))
        return problems

    def write_start_subscriptions(self, process: ExecutableProcess | None, previous: ExecutableProcess | None) -> None:
        """The records of a new version's message and signal start subscriptions replacing the previous
        version's (the subscriptions themselves are the `start_messages` / `start_signals` maps). When the
        latest version is deleted, `previous` is it and `process` the version before it (if any)."""
        for version, intent in ((previous, "DELETED"), (process, "CREATED")):
            if version is None:
                continue
            for start in version.message_starts:
                self.engine.write(self.state.new_key(), ValueType.MESSAGE_START_EVENT_SUBSCRIPTION, intent, {
                    "processDefinitionKey": version.key, "bpmnProcessId": version.bpmn_process_id,
                    "startEventId": start.id, "messageName": self.start_name(start) or "", "messageKey": -1,
                    "correlationKey": "", "variables": {}, "processInstanceKey": -1, "tenantId": "<default>"})
            for start in version.signal_starts:
                self.engine.write(self.state.new_key(), ValueType.SIGNAL_SUBSCRIPTION, intent, {
                    "signalName": self.start_name(start) or "", "catchElementId": start.id,
                    "catchEventInstanceKey": -1, "processDefinitionKey": version.key,
                    "bpmnProcessId": version.bpmn_process_id, "tenantId": "<default>"})

    def schedule_timer_starts(self, process: ExecutableProcess | None, previous: ExecutableProcess | None) -> None:
        """A new version replaces the timer start events of the previous one (`process` None: no version
        takes over from a deleted one)."""
        if previous is not None:
            for subscription in [s for s in self.state.subscriptions.values()
                                 if s.kind == "timer" and s.element_instance_key <= 0
                                 and s.process_definition_key == previous.key]:
                self.state.remove_subscription(subscription.key)
                self._write(subscription, "CANCELED")
        if process is None:
            return
        now = self.engine.now()
        for start in process.timer_starts:
            try:
                due, repetitions, cycle = self.timer_due(start, {}, now)
            except ExpressionError:
                continue  # validated at deployment; an expression needing variables can't start a process
            subscription = Subscription(
                self.state.new_key(), "timer", element_instance_key=-1, process_instance_key=-1,
                process_definition_key=process.key, bpmn_process_id=process.bpmn_process_id,
                catch_element_id=start.id, due=due, repetitions=repetitions, cycle=cycle)
            self.state.put_subscription(subscription)
            self._write(subscription, "CREATED")


def _best_match(catches: list[FlowNode], code: str) -> FlowNode | None:
    """A catch event for exactly this code wins over a catch-all."""
    catch_all = None
    for catch in catches:
        expected = catch.error_code if catch.event_type == EventType.ERROR else catch.escalation_code
        if expected is None or not (expected.static or "").strip():
            catch_all = catch_all or catch
        elif expected.static == code:
            return catch
    return catch_all
