"""Job workers (pyzeebe), one module per family; ``python -m services.workers`` runs them all.

| family | module | task types |
|---|---|---|
| life cycle | ``lifecycle`` | ``lifecycle.register``, ``lifecycle.progress``, ``lifecycle.close`` |
| docking | ``docking`` | ``docking.ingest``, ``docking.publish-progress`` |
| assignment | ``assignment`` | ``assignment.assign-units``, ``assignment.unit-options``, ``assignment.assign-by-hand`` |
| calendar | ``calendar`` | ``calendar.due-date`` |
| escalation | ``escalation`` | ``escalation.check-stall``, ``escalation.raise-yellow-flag``, ``escalation.escalate-overdue``, ``escalation.lift`` |
| problems | ``problems`` | ``problems.load``, ``problems.record-report``, ``problems.decide`` |
| notification | ``notification.worker`` | ``notification.send`` |
| evaluation | ``evaluation`` | ``evaluation.request``, ``evaluation.invitations``, ``evaluation.record``, ``evaluation.aggregate`` |
| inbox | ``inbox`` | ``io.camunda.zeebe:userTask``, ``inbox.withdraw`` |

Each module's docstring states its tasks' inputs and outputs.
"""
