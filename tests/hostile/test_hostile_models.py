"""Hostile process models: XML bombs, external entities, deep nesting, huge attributes and random mutations of
the real models in bpmn/, through the engine's real DeployResource (and, for the many mutations, its parser
in this process). Every case is answered with INVALID_ARGUMENT naming the resource, or deployed; nothing
else (no INTERNAL, no hang, no crash); a refused deployment leaves the engine's state as it was, and the
engine keeps serving. The time bound is a hang detector (a bomb that expanded would take minutes or
gigabytes), far above the milliseconds these take; pytest-timeout is the last resort."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from services.engine.dmn import DmnError, parse_dmn
from services.engine.model import DeploymentError, parse_bpmn
from services.engine.model.parser import MAX_RESOURCE_BYTES
from tests.engine import bpmn
from tests.engine.scenario import module_engine
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import EngineProcess

engine = module_engine()

ROOT = Path(__file__).resolve().parents[2]
MODELS = {path.name: path.read_bytes() for path in sorted((ROOT / "bpmn").iterdir())
          if path.suffix in (".bpmn", ".dmn")}
HANG_BOUND = 20.0  # seconds: a hang detector, not a performance figure
VALID = bpmn.simple("hostile-valid", "hostile.work")

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="laughs" isExecutable="true" name="&lol9;"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""


def quadratic_blowup() -> bytes:
    """One 50 kB entity referenced 50,000 times: 2.5 GB if expanded, 300 kB on the wire."""
    entity = "x" * 50_000
    refs = "&a;" * 50_000
    return (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "{entity}">]>'
            f'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            f'<bpmn:process id="q" isExecutable="true" name="{refs}"/></bpmn:definitions>').encode()


def nested(depth: int) -> bytes:
    return (b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            + b"<a>" * depth + b"</a>" * depth + b"</bpmn:definitions>")


def nested_sub_processes(depth: int) -> bytes:
    inner = bpmn.start("s0") + bpmn.end("e0") + bpmn.flow("f0", "s0", "e0")
    for level in range(1, depth + 1):
        inner = (f'<bpmn:subProcess id="sub{level}">{inner}</bpmn:subProcess>' + bpmn.start(f"s{level}")
                 + bpmn.end(f"e{level}") + bpmn.flow(f"fa{level}", f"s{level}", f"sub{level}")
                 + bpmn.flow(f"fb{level}", f"sub{level}", f"e{level}"))
    return bpmn.process("deep-subs", inner)


HOSTILE: list[tuple[str, bytes, str]] = [
    ("laughs.bpmn", BILLION_LAUGHS, "DTD"),
    ("quadratic.bpmn", quadratic_blowup(), "DTD"),
    ("xxe.bpmn", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                 b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&e;</bpmn:definitions>',
     "DTD"),
    ("external-dtd.bpmn", b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:1/evil.dtd">'
                          b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "DTD"),
    ("parameter-entity.bpmn", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd">%p;]>'
                              b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "DTD"),
    ("deep.bpmn", nested(100_000), "nested more than"),
    ("deep-subprocesses.bpmn", nested_sub_processes(70), "nested more than 64"),
    # over the engine's 4 MiB: gRPC's own message limit (RESOURCE_EXHAUSTED) or the parser's answers first
    ("too-big.bpmn", VALID + b"<!--" + b"x" * MAX_RESOURCE_BYTES + b"-->", "larger than|more than the limit"),
    ("not-xml.bpmn", b"\x00\xff\xfe garbage \x89PNG", "XML"),
    ("lying-encoding.bpmn", b'<?xml version="1.0" encoding="UTF-16"?><x/>', "XML"),
    ("empty.bpmn", b"", "XML"),
    ("wrong-root.bpmn", b"<html><body>hello</body></html>", "not a BPMN 2.0 model"),
    ("huge-id.bpmn", bpmn.process("huge-id", bpmn.start("s" * 1_000_000), bpmn.end(), bpmn.flow("f", "s" * 1_000_000,
                                                                                               "end")), ""),
    ("huge-feel.bpmn", bpmn.process("huge-feel", bpmn.start(), bpmn.exclusive("x", default="fd"), bpmn.end("a"),
                                    bpmn.end("b"), bpmn.flow("f0", "start", "x"),
                                    bpmn.flow("f1", "x", "a", "=" + "(" * 3000 + "1" + ")" * 3000),
                                    bpmn.flow("fd", "x", "b")), "nested less deeply"),
    ("bad-timer.bpmn", bpmn.process("bad-timer", bpmn.start(), bpmn.catch("t", bpmn.timer("duration", "P99999999999Y")),
                                    bpmn.end(), bpmn.chain("start", "t", "end")), ""),
    ("bomb.dmn", BILLION_LAUGHS.replace(b"bpmn:definitions", b"definitions"), "DTD"),
    ("deep.dmn", b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/">' + b"<a>" * 100_000
     + b"</a>" * 100_000 + b"</definitions>", ""),
]


@pytest.fixture(scope="module")
def log(engine: EngineProcess) -> RecordLog:
    return RecordLog(engine)


def deployed_state(log: RecordLog) -> tuple[int, int, int]:
    return (len(log.records("DEPLOYMENT", "CREATED")), len(log.records("PROCESS", "CREATED")),
            len(log.records("DECISION", "CREATED")))


async def deploy_or_refusal(gateway: RawGateway, name: str, content: bytes) -> str | None:
    """None when deployed; the engine's message when refused with INVALID_ARGUMENT (anything else fails)."""
    started = time.monotonic()
    try:
        await gateway.stub.DeployResource(pb.DeployResourceRequest(
            resources=[pb.Resource(name=name, content=content)]), timeout=HANG_BOUND)
        outcome = None
    except grpc.aio.AioRpcError as error:
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), \
            (name, error.code(), error.details())
        outcome = error.details() or ""
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            assert f"'{name}'" in outcome or name in outcome, (name, outcome[:300])
    assert time.monotonic() - started < HANG_BOUND, name
    return outcome


@pytest.mark.parametrize(("name", "content", "expected"), HOSTILE, ids=[case[0] for case in HOSTILE])
async def test_a_hostile_model_is_refused_precisely_and_changes_nothing(
        engine: EngineProcess, log: RecordLog, name: str, content: bytes, expected: str) -> None:
    gateway = RawGateway(engine.address)
    try:
        before = deployed_state(log)
        refusal = await deploy_or_refusal(gateway, name, content)
        if expected:
            assert refusal is not None and re.search(expected, refusal), (name, (refusal or "")[:500])
        if refusal is not None:
            assert deployed_state(log) == before
        # the engine still serves: a valid model deploys and runs
        await gateway.deploy(("valid.bpmn", VALID))
        instance = await gateway.create("hostile-valid")
        assert instance > 0
    finally:
        await gateway.close()


async def test_a_deployment_with_one_bad_resource_deploys_none_of_them(engine: EngineProcess, log: RecordLog) -> None:
    gateway = RawGateway(engine.address)
    try:
        before = deployed_state(log)
        good = bpmn.simple("hostile-all-or-nothing", "hostile.none")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await gateway.deploy(("good.bpmn", good), ("laughs.bpmn", BILLION_LAUGHS))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "'laughs.bpmn'" in refused.value.details()
        assert deployed_state(log) == before
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await gateway.create("hostile-all-or-nothing")
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await gateway.close()


# -- random mutations of the real models ---------------------------------------------------------------------

HOSTILE_VALUES = ["", " ", "=", "=(((", "= 1 +", '="unterminated', "=for x in 1..99999999 return x", "${x}",
                  "-1", "99999999999999999999", "P-1D", "R/P0D", "\u202e\u0000", "💥" * 1000, "x" * 200_000,
                  "=" + "not " * 2000 + "true", "=matches(x, \"(a+)+$\")", "../../etc/passwd", "<", "&amp;"]


def mutations(content: bytes, rng: random.Random) -> Callable[[], bytes]:
    text = content.decode()

    def byte_flip() -> bytes:
        data = bytearray(content)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)

    def truncate() -> bytes:
        return content[: rng.randrange(len(content))]

    def attribute() -> bytes:
        matches = list(re.finditer(r'(\w[\w:.-]*)="([^"]*)"', text))
        match = rng.choice(matches)
        value = rng.choice(HOSTILE_VALUES).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        if rng.random() < 0.3:
            return (text[: match.start()] + text[match.end():]).encode()  # drop the attribute
        return (text[: match.start(2)] + value + text[match.end(2):]).encode()

    def element() -> bytes:
        root = ET.fromstring(content)
        parents = [p for p in root.iter() if len(p)]
        parent = rng.choice(parents)
        child = rng.choice(list(parent))
        choice = rng.random()
        if choice < 0.4:
            parent.remove(child)
        elif choice < 0.7:
            parent.append(child)  # the same element twice: duplicate ids, or a flow listed twice
        else:
            for _ in range(rng.randint(1, 3)):
                child = ET.SubElement(child, child.tag, dict(child.attrib))  # nest a copy inside itself
        return ET.tostring(root)

    def expression() -> bytes:
        spots = list(re.finditer(r"(?<=[>\"])=[^<\"]*", text))
        if not spots:
            return byte_flip()
        spot = rng.choice(spots)
        tokens = ["(", ")", "[", "]", "{", "}", "if", "then", "else", "for", "in", "return", "some", "every",
                  "satisfies", "and", "or", "not(", "..", ".", ",", ":", "1", "-", "*", "**", "/", "\\\"",
                  "x", "date(", "@\"", "function(", "->", "null", "instance of", "between"]
        garbage = "=" + " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 30)))
        garbage = garbage.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        return (text[: spot.start()] + garbage + text[spot.end():]).encode()

    operators = [byte_flip, truncate, attribute, element, expression, expression, attribute]
    return lambda: rng.choice(operators)()


def parse_in_process(name: str, content: bytes) -> str | None:
    """None when the model parses; the error text when it is refused the documented way."""
    try:
        if name.endswith(".dmn"):
            parse_dmn(content, name)
        else:
            parse_bpmn(content, name)
    except (DeploymentError, DmnError) as error:
        return str(error)
    return None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mutations_of_a_real_model_parse_or_are_refused_by_name(name: str) -> None:
    rng = random.Random(f"qianliyan-{name}")
    mutate = mutations(MODELS[name], rng)
    refused = 0
    for _ in range(150):
        mutated = mutate()
        started = time.monotonic()
        error = parse_in_process(name, mutated)  # any other exception fails the test, with its traceback
        assert time.monotonic() - started < HANG_BOUND
        if error is not None:
            refused += 1
            assert name in error, error[:300]
    assert refused > 30  # the mutations do reach the validation, not only the happy path


async def test_mutations_through_the_engine_leave_it_serving(engine: EngineProcess, log: RecordLog) -> None:
    gateway = RawGateway(engine.address)
    rng = random.Random("qianliyan-grpc")
    try:
        for name, content in sorted(MODELS.items()):
            mutate = mutations(content, rng)
            for _ in range(12):
                mutated = mutate()
                before = deployed_state(log)
                expected = parse_in_process(name, mutated)
                refusal = await deploy_or_refusal(gateway, name, mutated)
                if refusal is not None:
                    assert deployed_state(log) == before
                # the engine and the parser agree (a refusal may add the start-event checks of the engine)
                if expected is not None:
                    assert refusal is not None, name
        await gateway.deploy(("valid.bpmn", VALID))
        assert await gateway.create("hostile-valid") > 0
    finally:
        await gateway.close()
