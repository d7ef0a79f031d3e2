"""DMN decisions (deployment, EvaluateDecision, business rule tasks), script tasks and FEEL failures as incidents."""

from __future__ import annotations

import json
from xml.sax.saxutils import quoteattr

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog

DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def assignment_dmn(required: bool = True) -> bytes:
    """Which units handle a blocked approval: a unique-hit table, and a literal decision that requires it."""
    literal = """
  <decision id="notice" name="Notice">
    <informationRequirement id="ir1"><requiredDecision href="#units"/></informationRequirement>
    <literalExpression id="le1"><text>"请 " + units.approvalUnit + " 与 " + units.assistantUnit + " 协办"</text></literalExpression>
  </decision>""" if required else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN_NS}" id="assignment" name="Assignment rules" namespace="http://qianliyan.test/dmn">
  <decision id="units" name="Responsible units">
    <decisionTable id="t1" hitPolicy="UNIQUE">
      <input id="in_item" label="Approval item"><inputExpression id="ie1" typeRef="string"><text>item</text></inputExpression></input>
      <input id="in_county" label="County"><inputExpression id="ie2" typeRef="string"><text>county</text></inputExpression></input>
      <output id="out_approval" name="approvalUnit" typeRef="string"/>
      <output id="out_assistant" name="assistantUnit" typeRef="string"/>
      <rule id="r_land"><inputEntry id="a1"><text>"land"</text></inputEntry><inputEntry id="a2"><text>-</text></inputEntry>
        <outputEntry id="a3"><text>"自然资源和规划局"</text></outputEntry><outputEntry id="a4"><text>county + "营商办"</text></outputEntry></rule>
      <rule id="r_permit"><inputEntry id="b1"><text>"construction_permit"</text></inputEntry><inputEntry id="b2"><text>-</text></inputEntry>
        <outputEntry id="b3"><text>"住房和城乡建设局"</text></outputEntry><outputEntry id="b4"><text>county + "营商办"</text></outputEntry></rule>
    </decisionTable>
  </decision>{literal}
</definitions>""".encode()


async def test_dmn_deploys_beside_bpmn_and_the_reply_lists_decisions(gateway: RawGateway) -> None:
    process = bpmn.process("with_rules", bpmn.start(), bpmn.end(), bpmn.chain("start", "end"))
    response = await gateway.deploy(("assignment.dmn", assignment_dmn()), ("p.bpmn", process))
    kinds = [d.WhichOneof("Metadata") for d in response.deployments]
    assert sorted(kinds) == ["decision", "decision", "decisionRequirements", "process"]
    decisions = {d.decision.dmnDecisionId: d.decision for d in response.deployments if d.HasField("decision")}
    (drg,) = [d.decisionRequirements for d in response.deployments if d.HasField("decisionRequirements")]
    assert set(decisions) == {"units", "notice"}
    assert drg.dmnDecisionRequirementsId == "assignment" and drg.version == 1
    assert all(d.decisionRequirementsKey == drg.decisionRequirementsKey for d in decisions.values())
    again = await gateway.deploy(("assignment.dmn", assignment_dmn()))
    again_drg = next(d.decisionRequirements for d in again.deployments if d.HasField("decisionRequirements"))
    assert again_drg.version == 1 and again_drg.decisionRequirementsKey == drg.decisionRequirementsKey


async def test_evaluate_decision_by_id_and_key_with_required_decisions(gateway: RawGateway) -> None:
    response = await gateway.deploy(("assignment.dmn", assignment_dmn()))
    notice_key = next(d.decision.decisionKey for d in response.deployments
                      if d.HasField("decision") and d.decision.dmnDecisionId == "notice")
    by_id = await gateway.stub.EvaluateDecision(pb.EvaluateDecisionRequest(
        decisionId="units", variables=json.dumps({"item": "land", "county": "清江浦区"})))
    assert json.loads(by_id.decisionOutput) == {"approvalUnit": "自然资源和规划局", "assistantUnit": "清江浦区营商办"}
    (evaluated,) = by_id.evaluatedDecisions
    assert evaluated.decisionType == "DECISION_TABLE"
    assert [r.ruleId for r in evaluated.matchedRules] == ["r_land"] and evaluated.matchedRules[0].ruleIndex == 1
    assert {i.inputId: json.loads(i.inputValue) for i in evaluated.evaluatedInputs} == {
        "in_item": "land", "in_county": "清江浦区"}
    by_key = await gateway.stub.EvaluateDecision(pb.EvaluateDecisionRequest(
        decisionKey=notice_key, variables=json.dumps({"item": "construction_permit", "county": "盱眙县"})))
    assert json.loads(by_key.decisionOutput) == "请 住房和城乡建设局 与 盱眙县营商办 协办"
    assert [d.decisionId for d in by_key.evaluatedDecisions] == ["units", "notice"]


async def test_evaluate_decision_failures(gateway: RawGateway) -> None:
    await gateway.deploy(("assignment.dmn", assignment_dmn(required=False)))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.EvaluateDecision(pb.EvaluateDecisionRequest(decisionId="nope"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    # no rule matches: a unique table without a match gives null, not a failure (Zeebe's convention)
    none = await gateway.stub.EvaluateDecision(pb.EvaluateDecisionRequest(
        decisionId="units", variables=json.dumps({"item": "fire", "county": "x"})))
    assert json.loads(none.decisionOutput) is None and none.failedDecisionId == ""


async def test_business_rule_task_calls_the_decision(gateway: RawGateway, log: RecordLog) -> None:
    process = bpmn.process(
        "assign", bpmn.start(),
        '<bpmn:businessRuleTask id="rules"><bpmn:extensionElements><zeebe:calledDecision decisionId="units" '
        'resultVariable="assignment"/></bpmn:extensionElements></bpmn:businessRuleTask>',
        bpmn.end(), bpmn.chain("start", "rules", "end"))
    await gateway.deploy(("p.bpmn", process))
    missing = await gateway.create("assign", {"item": "land", "county": "淮阴区"})
    (incident,) = log.open_incidents(missing)
    assert incident["value"]["errorType"] == "CALLED_DECISION_ERROR"
    assert "no decision found for id 'units'" in incident["value"]["errorMessage"]
    await gateway.deploy(("assignment.dmn", assignment_dmn(required=False)))
    await gateway.resolve(incident["key"])
    assert log.instance_state(missing) == "ELEMENT_COMPLETED"
    assert log.variables(missing)["assignment"] == {"approvalUnit": "自然资源和规划局", "assistantUnit": "淮阴区营商办"}
    evaluations = log.records("DECISION_EVALUATION", "EVALUATED", processInstanceKey=missing)
    assert len(evaluations) == 1 and evaluations[0]["value"]["decisionId"] == "units"


def script(expression: str, result: str = "result") -> str:
    return (f'<bpmn:scriptTask id="script"><bpmn:extensionElements><zeebe:script expression={quoteattr(expression)} '
            f'resultVariable="{result}"/></bpmn:extensionElements></bpmn:scriptTask>')


async def test_script_task_is_evaluated_by_the_engine(gateway: RawGateway, log: RecordLog) -> None:
    process = bpmn.process("calc", bpmn.start(),
                           script("=for x in items return x.price * x.count"), bpmn.end(),
                           bpmn.chain("start", "script", "end"))
    await gateway.deploy(("calc.bpmn", process))
    key = await gateway.create("calc", {"items": [{"price": 2.5, "count": 4}, {"price": 1, "count": 3}]})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.variables(key)["result"] == [10, 3]


async def test_a_failing_script_raises_an_incident_with_the_feel_message(gateway: RawGateway,
                                                                         log: RecordLog) -> None:
    process = bpmn.process("bad", bpmn.start(), script('=assert(total, total > 0, "total must be positive")'),
                           bpmn.end(), bpmn.chain("start", "script", "end"))
    await gateway.deploy(("bad.bpmn", process))
    key = await gateway.create("bad", {"total": -1})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert "total must be positive" in incident["value"]["errorMessage"]
    await gateway.set_variables(key, {"total": 5})
    await gateway.resolve(incident["key"])
    assert log.variables(key)["result"] == 5


async def test_an_output_mapping_failure_is_an_io_mapping_incident(gateway: RawGateway, log: RecordLog) -> None:
    process = bpmn.process("out", bpmn.start(),
                           bpmn.service("t", "out", outputs={"checked": "=assert(score, score != null)"}),
                           bpmn.end(), bpmn.chain("start", "t", "end"))
    await gateway.deploy(("out.bpmn", process))
    key = await gateway.create("out")
    (job,) = await gateway.activate("out")
    await gateway.complete(job.key, {"other": 1})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "IO_MAPPING_ERROR"
    # the job is gone; the task waits in COMPLETING until the variable exists and the incident is resolved
    await gateway.set_variables(job.elementInstanceKey, {"score": 9}, local=True)
    await gateway.resolve(incident["key"])
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.variables(key)["checked"] == 9
