"""Parsing DMN resources: model identity, every DMN namespace version, and precise errors."""

from __future__ import annotations

import pytest

from services.engine.dmn import DmnError, evaluate_decision, parse_dmn

MODEL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="invest" name="Investment checks"
             namespace="http://qianliyan/invest">
  <inputData id="i_amount" name="amount"/>
  <decision id="size" name="Project size">
    <informationRequirement><requiredInput href="#i_amount"/></informationRequirement>
    <decisionTable id="t1" hitPolicy="FIRST">
      <input id="in1" label="Amount"><inputExpression typeRef="number"><text>amount</text></inputExpression></input>
      <output id="o1" name="size" typeRef="string"/>
      <rule id="big"><inputEntry><text>&gt;= 1000000</text></inputEntry><outputEntry><text>"big"</text></outputEntry></rule>
      <rule id="small"><inputEntry><text>-</text></inputEntry><outputEntry><text>"small"</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="review" name="Needs review">
    <informationRequirement><requiredDecision href="#size"/></informationRequirement>
    <literalExpression><text>Project size = "big"</text></literalExpression>
  </decision>
</definitions>
"""


def test_model_identity() -> None:
    drg = parse_dmn(MODEL, "invest.dmn")
    assert (drg.id, drg.name, drg.namespace) == ("invest", "Investment checks", "http://qianliyan/invest")
    assert [(d.id, d.name) for d in drg.decisions] == [("size", "Project size"), ("review", "Needs review")]
    assert drg.decisions[0].decision_type == "DECISION_TABLE"
    assert drg.decisions[1].required_decisions == ["size"]
    assert drg.resource_name == "invest.dmn"


def test_requirement_names_with_spaces_are_visible() -> None:
    drg = parse_dmn(MODEL, "invest.dmn")
    assert evaluate_decision(drg, "review", {"amount": 2_000_000}).output is True
    assert evaluate_decision(drg, "review", {"amount": 10}).output is False


@pytest.mark.parametrize(
    "namespace",
    [
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20211108/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    ],
)
def test_all_dmn_versions(namespace: str) -> None:
    xml = MODEL.replace(b"https://www.omg.org/spec/DMN/20191111/MODEL/", namespace.encode())
    drg = parse_dmn(xml, "v.dmn")
    assert evaluate_decision(drg, "size", {"amount": 5}).output == "small"


def _error(xml: bytes, resource: str = "bad.dmn") -> str:
    with pytest.raises(DmnError) as info:
        parse_dmn(xml, resource)
    return str(info.value)


def test_not_xml() -> None:
    msg = _error(b"<definitions", "broken.dmn")
    assert msg.startswith("broken.dmn: not well-formed XML")


def test_doctype_and_entities_are_refused() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x" name="x" namespace="n">&lol2;</definitions>"""
    msg = _error(bomb, "bomb.dmn")
    assert msg.startswith("bomb.dmn: forbidden XML construct")


def test_wrong_root() -> None:
    assert "expected a DMN 'definitions' element" in _error(b"<bpmn/>")


def test_invalid_feel_names_the_element() -> None:
    xml = MODEL.replace(b"&gt;= 1000000", b"&gt;= [1..")
    msg = _error(xml, "invest.dmn")
    assert msg.startswith("invest.dmn (element 'big'):")
    assert "failed to parse" in msg and "line 1, column" in msg


def test_invalid_literal_expression_names_the_decision() -> None:
    xml = MODEL.replace(b'Project size = "big"', b"Project size = = 1")
    assert _error(xml).startswith("bad.dmn (element 'review'):")


def test_unknown_hit_policy() -> None:
    xml = MODEL.replace(b'hitPolicy="FIRST"', b'hitPolicy="SOMETIMES"')
    assert "unknown hit policy 'SOMETIMES'" in _error(xml)


def test_aggregation_needs_collect() -> None:
    xml = MODEL.replace(b'hitPolicy="FIRST"', b'hitPolicy="FIRST" aggregation="SUM"')
    assert "COLLECT" in _error(xml)


def test_missing_required_decision() -> None:
    xml = MODEL.replace(b'<requiredDecision href="#size"/>', b'<requiredDecision href="#nowhere"/>')
    msg = _error(xml)
    assert "(element 'review')" in msg and "'nowhere' does not exist" in msg


def test_cycle_is_refused() -> None:
    xml = MODEL.replace(
        b'<decisionTable id="t1"',
        b'<informationRequirement><requiredDecision href="#review"/></informationRequirement><decisionTable id="t1"',
    )
    assert "cycle" in _error(xml)


def test_rule_with_wrong_number_of_entries() -> None:
    xml = MODEL.replace(b"<rule id=\"small\"><inputEntry><text>-</text></inputEntry>", b"<rule id=\"small\">")
    msg = _error(xml)
    assert "(element 'small')" in msg and "0 input entries for 1 inputs" in msg


def test_duplicate_ids() -> None:
    xml = MODEL.replace(b'id="review"', b'id="size"')
    assert "duplicate element id" in _error(xml)
