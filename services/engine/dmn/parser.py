"""Reads DMN XML (1.1 to 1.5) into the model; namespaces are ignored, local names matter.

The XML is parsed with defusedxml (no DTDs, no entity expansion). FEEL in the model is compiled
here so that a broken expression rejects the deployment, naming the resource and element id.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from services.engine.feel import FeelSyntaxError, compile_expression, compile_unary_tests
from services.engine.feel.parser import parse_expression

from .model import (
    BusinessKnowledgeModel,
    ConditionalExpr,
    ContextExpr,
    Decision,
    DecisionInput,
    DecisionOutput,
    DecisionRequirements,
    DecisionService,
    DecisionTable,
    DmnError,
    FilterExpr,
    FunctionDefExpr,
    InputData,
    InvocationExpr,
    ItemDefinition,
    IterationExpr,
    ListExpr,
    LiteralExpr,
    RelationExpr,
    Rule,
)

_HIT_POLICIES = {"UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"}
_AGGREGATIONS = {"SUM", "MIN", "MAX", "COUNT"}
_EXPRESSION_TAGS = {"literalExpression", "decisionTable", "context", "invocation", "functionDefinition",
                    "list", "relation", "conditional", "filter", "for", "some", "every"}  # fmt: skip


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: Element, name: str) -> Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text(el: Element | None) -> str:
    if el is None:
        return ""
    t = _child(el, "text")
    return (t.text or "") if t is not None else ""


def _href(el: Element) -> str:
    h = el.get("href", "")
    return h.split("#", 1)[1] if "#" in h else h


def _needs_backticks(name: str) -> bool:
    """True for model names FEEL would not read as one name (keywords, dashes, ...)."""
    if not name or "`" in name:
        return False
    try:
        tree = parse_expression(name)
    except FeelSyntaxError:
        return True
    if tree[0] == "path":
        # "Person.Gender" reads as a path; FEEL falls back to the dotted variable name
        while tree[0] == "path":
            tree = tree[2]
        return tree[0] != "name"
    return not (tree[0] == "name" and tree[2] == " ".join(name.split()))


_STRING_OR_NAME = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`')


class _Escaper:
    """Wraps model names such as 'days in weekend' or 'Employee-ID' in backticks inside the
    model's expressions (outside string literals), so that FEEL reads them as names."""

    def __init__(self, names: list[str]) -> None:
        names = sorted({n for n in names if _needs_backticks(n)}, key=len, reverse=True)
        self.rx = (
            re.compile(r"(?<![\w`])(" + "|".join(re.escape(n) for n in names) + r")(?![\w`])") if names else None
        )

    def __call__(self, text: str) -> str:
        if self.rx is None:
            return text
        out = []
        last = 0
        for m in _STRING_OR_NAME.finditer(text):
            out.append(self.rx.sub(r"`\1`", text[last : m.start()]))
            out.append(m.group(0))
            last = m.end()
        out.append(self.rx.sub(r"`\1`", text[last:]))
        return "".join(out)


class _Reader:
    def __init__(self, resource: str, strict: bool) -> None:
        self.resource = resource
        self.strict = strict
        self.escape = _Escaper([])

    def fail(self, element_id: str | None, message: str) -> DmnError:
        where = f" (element '{element_id}')" if element_id else ""
        return DmnError(f"{self.resource}{where}: {message}")

    # -- FEEL -----------------------------------------------------------------------------

    def expr(self, text: str, element_id: str | None) -> Any:
        try:
            return compile_expression(self.escape(text))
        except FeelSyntaxError as e:
            if self.strict:
                raise self.fail(element_id, str(e)) from None
            return e

    def tests(self, text: str, element_id: str | None) -> Any:
        try:
            return compile_unary_tests(self.escape(text))
        except FeelSyntaxError as e:
            if self.strict:
                raise self.fail(element_id, str(e)) from None
            return e

    def literal(self, el: Element, type_ref: str | None = None, owner_id: str | None = None) -> LiteralExpr:
        text = _text(el).strip()
        eid = el.get("id")
        lit = LiteralExpr(eid, text, el.get("typeRef") or type_ref)
        lit.compiled = self.expr(text, eid or owner_id) if text else None
        return lit

    # -- boxed expressions -------------------------------------------------------------------

    def expression(self, el: Element | None, owner_id: str | None) -> Any:
        if el is None:
            return None
        tag = _local(el.tag)
        if tag == "literalExpression":
            return self.literal(el, None, owner_id)
        if tag == "decisionTable":
            return self.decision_table(el, owner_id)
        if tag == "context":
            entries = []
            for entry in _children(el, "contextEntry"):
                var = _child(entry, "variable")
                value = self.expression(_first_expression(entry), owner_id)
                name = var.get("name") if var is not None else None
                type_ref = var.get("typeRef") if var is not None else None
                entries.append((name, type_ref, value))
            return ContextExpr(el.get("id"), entries, el.get("typeRef"))
        if tag == "invocation":
            callee_el = _first_expression(el)
            if callee_el is None or _local(callee_el.tag) != "literalExpression":
                raise self.fail(el.get("id") or owner_id, "an invocation needs the name of the function to call")
            bindings = []
            for b in _children(el, "binding"):
                param = _child(b, "parameter")
                if param is None or not param.get("name"):
                    raise self.fail(el.get("id") or owner_id, "a binding needs a parameter name")
                bindings.append((param.get("name", ""), self.expression(_first_expression(b), owner_id)))
            return InvocationExpr(el.get("id"), self.literal(callee_el, None, owner_id), bindings, el.get("typeRef"))
        if tag == "functionDefinition":
            return self.function_definition(el, owner_id)
        if tag == "list":
            items = [self.expression(c, owner_id) for c in el if _local(c.tag) in _EXPRESSION_TAGS]
            return ListExpr(el.get("id"), items, el.get("typeRef"))
        if tag == "relation":
            columns = [c.get("name", "") for c in _children(el, "column")]
            rows = []
            for row in _children(el, "row"):
                cells = [self.expression(c, owner_id) for c in row if _local(c.tag) in _EXPRESSION_TAGS]
                if len(cells) != len(columns):
                    raise self.fail(el.get("id") or owner_id, "a relation row must have one cell per column")
                rows.append(cells)
            return RelationExpr(el.get("id"), columns, rows, el.get("typeRef"))
        if tag in ("conditional", "filter", "for", "some", "every"):
            return self.boxed(el, tag, owner_id)
        raise self.fail(el.get("id") or owner_id, f"unsupported expression '{tag}'")

    def boxed(self, el: Element, tag: str, owner_id: str | None) -> Any:
        """DMN 1.5 boxed conditional, filter and iterators: each part wraps one expression."""

        def part(name: str) -> Any:
            p = _child(el, name)
            inner = _first_expression(p) if p is not None else None
            if inner is None:
                raise self.fail(el.get("id") or owner_id, f"a boxed {tag} needs its '{name}' expression")
            return self.expression(inner, owner_id)

        eid, type_ref = el.get("id"), el.get("typeRef")
        if tag == "conditional":
            return ConditionalExpr(eid, part("if"), part("then"), part("else"), type_ref)
        if tag == "filter":
            return FilterExpr(eid, part("in"), part("match"), type_ref)
        variable = el.get("iteratorVariable")
        if not variable:
            raise self.fail(eid or owner_id, f"a boxed {tag} needs an iteratorVariable")
        body = part("return" if tag == "for" else "satisfies")
        return IterationExpr(eid, tag, variable, part("in"), body, type_ref)

    def function_definition(self, el: Element, owner_id: str | None) -> FunctionDefExpr:
        params = [(p.get("name", ""), p.get("typeRef")) for p in _children(el, "formalParameter")]
        body = self.expression(_first_expression(el), owner_id)
        return FunctionDefExpr(el.get("id"), params, body, el.get("kind", "FEEL"), el.get("typeRef"))

    def decision_table(self, el: Element, owner_id: str | None) -> DecisionTable:
        table_id = el.get("id") or owner_id
        hit = el.get("hitPolicy", "UNIQUE").upper()
        if hit not in _HIT_POLICIES:
            raise self.fail(table_id, f"unknown hit policy '{hit}'")
        agg = el.get("aggregation")
        if agg is not None:
            agg = agg.upper()
            if agg not in _AGGREGATIONS:
                raise self.fail(table_id, f"unknown aggregation '{agg}'")
            if hit != "COLLECT":
                raise self.fail(table_id, "an aggregation is only allowed with the hit policy COLLECT")
        inputs = []
        for n, i in enumerate(_children(el, "input")):
            ie = _child(i, "inputExpression")
            if ie is None:
                raise self.fail(i.get("id") or table_id, "an input needs an inputExpression")
            iid = i.get("id") or f"input{n + 1}"
            lit = self.literal(ie, ie.get("typeRef"), iid)
            if lit.compiled is None:
                raise self.fail(iid, "the input expression is empty")
            allowed = None
            values = _child(i, "inputValues")
            if values is not None and _text(values).strip():
                allowed = self.tests(_text(values).strip(), iid)
            label = i.get("label") or lit.text
            inputs.append(DecisionInput(iid, label, lit, ie.get("typeRef"), allowed))
        outputs = []
        out_els = _children(el, "output")
        if not out_els:
            raise self.fail(table_id, "a decision table needs at least one output")
        for n, o in enumerate(out_els):
            oid = o.get("id") or f"output{n + 1}"
            name = o.get("name") or ""
            if len(out_els) > 1 and not name:
                raise self.fail(oid, "outputs of a table with several outputs need a name")
            default = None
            d = _child(o, "defaultOutputEntry")
            if d is not None and _text(d).strip():
                default = self.literal(d, None, oid)
            allowed_values: list[Any] = []
            ov = _child(o, "outputValues")
            if ov is not None and _text(ov).strip():
                allowed_values = _priority_values(_text(ov).strip())
            outputs.append(DecisionOutput(oid, name, o.get("label") or name, o.get("typeRef"), default, allowed_values))
        rules = []
        for n, r in enumerate(_children(el, "rule")):
            rid = r.get("id") or f"rule{n + 1}"
            ins = [self.tests((_text(e).strip() or "-"), e.get("id") or rid) for e in _children(r, "inputEntry")]
            outs = [self.literal(e, None, rid) for e in _children(r, "outputEntry")]
            if len(ins) != len(inputs):
                raise self.fail(rid, f"the rule has {len(ins)} input entries for {len(inputs)} inputs")
            if len(outs) != len(outputs):
                raise self.fail(rid, f"the rule has {len(outs)} output entries for {len(outputs)} outputs")
            rules.append(Rule(rid, ins, outs))
        return DecisionTable(el.get("id"), hit, agg, inputs, outputs, rules, el.get("typeRef"))

    # -- DRG -----------------------------------------------------------------------------------

    def item_definition(self, el: Element) -> ItemDefinition:
        name = el.get("name", "")
        tr = _child(el, "typeRef")
        type_ref = (tr.text or "").strip() if tr is not None else el.get("typeRef")
        allowed = None
        av = _child(el, "allowedValues")
        if av is not None and _text(av).strip():
            allowed = self.tests(_text(av).strip(), el.get("id") or name)
        comps = [self.item_definition(c) for c in _children(el, "itemComponent")]
        return ItemDefinition(
            name=name,
            type_ref=type_ref or None,
            is_collection=el.get("isCollection", "false") == "true",
            components=comps,
            allowed_values=allowed,
            is_function=_child(el, "functionItem") is not None,
        )

    def read(self, root: Element) -> DecisionRequirements:
        if _local(root.tag) != "definitions":
            raise self.fail(None, f"expected a DMN 'definitions' element but found '{_local(root.tag)}'")
        names = [
            el.get("name", "")
            for el in root.iter()
            if _local(el.tag) in ("decision", "businessKnowledgeModel", "inputData", "decisionService",
                                  "variable", "formalParameter", "parameter", "itemDefinition", "itemComponent")
        ]  # fmt: skip
        self.escape = _Escaper(names)
        decisions: list[Decision] = []
        bkms: list[BusinessKnowledgeModel] = []
        inputs: list[InputData] = []
        services: list[DecisionService] = []
        items = {}
        seen: set[str] = set()
        for el in root:
            tag = _local(el.tag)
            eid = el.get("id") or el.get("name") or ""
            if tag in ("decision", "businessKnowledgeModel", "inputData", "decisionService"):
                if not eid:
                    raise self.fail(None, f"a {tag} needs an id")
                if eid in seen:
                    raise self.fail(eid, "duplicate element id")
                seen.add(eid)
            if tag == "itemDefinition":
                item = self.item_definition(el)
                items[item.name] = item
            elif tag == "decision":
                var = _child(el, "variable")
                name = el.get("name") or eid
                req_d, req_i = [], []
                for ir in _children(el, "informationRequirement"):
                    for rd in _children(ir, "requiredDecision"):
                        req_d.append(_href(rd))
                    for ri in _children(ir, "requiredInput"):
                        req_i.append(_href(ri))
                req_k = [_href(rk) for kr in _children(el, "knowledgeRequirement") for rk in _children(kr, "requiredKnowledge")]
                logic = self.expression(_first_expression(el), eid)
                decisions.append(
                    Decision(
                        id=eid,
                        name=name,
                        variable_name=(var.get("name") if var is not None else None) or name,
                        type_ref=var.get("typeRef") if var is not None else None,
                        logic=logic,
                        required_decisions=req_d,
                        required_knowledge=req_k,
                        required_inputs=req_i,
                    )
                )
            elif tag == "businessKnowledgeModel":
                logic_el = _child(el, "encapsulatedLogic")
                logic = self.function_definition(logic_el, eid) if logic_el is not None else None
                req_k = [_href(rk) for kr in _children(el, "knowledgeRequirement") for rk in _children(kr, "requiredKnowledge")]
                bkms.append(BusinessKnowledgeModel(eid, el.get("name") or eid, logic, req_k))
            elif tag == "inputData":
                var = _child(el, "variable")
                inputs.append(InputData(eid, el.get("name") or eid, var.get("typeRef") if var is not None else None))
            elif tag == "decisionService":
                services.append(
                    DecisionService(
                        id=eid,
                        name=el.get("name") or eid,
                        output_decisions=[_href(x) for x in _children(el, "outputDecision")],
                        encapsulated_decisions=[_href(x) for x in _children(el, "encapsulatedDecision")],
                        input_decisions=[_href(x) for x in _children(el, "inputDecision")],
                        input_data=[_href(x) for x in _children(el, "inputData")],
                    )
                )
        drg = DecisionRequirements(
            id=root.get("id") or root.get("name") or "",
            name=root.get("name") or root.get("id") or "",
            namespace=root.get("namespace") or "",
            resource_name=self.resource,
            decisions=decisions,
            bkms=bkms,
            input_data=inputs,
            decision_services=services,
            item_definitions=items,
        )
        self.check_references(drg)
        return drg

    def check_references(self, drg: DecisionRequirements) -> None:
        ids = {d.id for d in drg.decisions}
        knowledge = {b.id for b in drg.bkms} | {s.id for s in drg.decision_services}
        inputs = {i.id for i in drg.input_data}
        for d in drg.decisions:
            for r in d.required_decisions:
                if r not in ids:
                    raise self.fail(d.id, f"required decision '{r}' does not exist")
            for r in d.required_knowledge:
                if r not in knowledge:
                    raise self.fail(d.id, f"required knowledge '{r}' does not exist")
            for r in d.required_inputs:
                if r not in inputs:
                    raise self.fail(d.id, f"required input '{r}' does not exist")
        # cycles would recurse forever at evaluation time
        state: dict[str, int] = {}
        by_id = {d.id: d for d in drg.decisions}

        def visit(did: str) -> None:
            state[did] = 1
            for r in by_id[did].required_decisions:
                if state.get(r) == 1:
                    raise self.fail(did, f"decision requirements form a cycle through '{r}'")
                if r not in state:
                    visit(r)
            state[did] = 2

        for d in drg.decisions:
            if d.id not in state:
                visit(d.id)


def _first_expression(el: Element) -> Element | None:
    for c in el:
        if _local(c.tag) in _EXPRESSION_TAGS:
            return c
    return None


def _priority_values(text: str) -> list[Any]:
    """Output values ("high", "medium", "low") in priority order, as FEEL values."""
    try:
        value = compile_expression("[" + text + "]").evaluate({})
    except Exception:
        return []
    return value if isinstance(value, list) else []


def parse_dmn(xml: bytes | str, resource_name: str = "model.dmn", *, strict: bool = True) -> DecisionRequirements:
    """Parse a DMN resource. Raises DmnError naming the resource (and element id)."""
    reader = _Reader(resource_name, strict)
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise DmnError(f"{resource_name}: forbidden XML construct: {type(e).__name__}") from None
    except SafeET.ParseError as e:
        raise DmnError(f"{resource_name}: not well-formed XML: {e}") from None
    except (ValueError, TypeError) as e:
        raise DmnError(f"{resource_name}: unreadable XML: {e}") from None
    try:
        return reader.read(root)
    except RecursionError:
        raise DmnError(f"{resource_name}: model nested too deeply") from None
