"""Structural checks of a diagram as drawn (issue #12): one checker behind the CLI, the API and the
modeler page; each problem in Chinese with its element id and line, never the engine's English."""
from __future__ import annotations

import re
import shutil

import pytest
from lxml import etree

from tests.conftest import FIXTURES, PROJECT
from tests.designer.conftest import HEADER, user_task

BROKEN = FIXTURES / "bpmn" / "designer_structure_problems.bpmn"
# (element id, line, what the message says) for each of the fixture's seven problems
EXPECTED = [
    ("end_out", 7, "没有经过任何办理人"),
    ("approve", 18, "找不到表单文件 forms/missing/approve.schema.json"),
    ("gw_stuck", 21, "没有出口顺序流"),
    ("gw_orphan", 22, "没有入口顺序流"),
    ("archive", 23, "从开始事件无法到达"),
    ("f_fix", 37, "终点 precheck 不存在"),
    ("approve", 46, "id “approve” 重复"),
]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _assert_expected(problems):
    assert [(p["element_id"], p["line"]) for p in problems] == [(e, line) for e, line, _ in EXPECTED], problems
    for problem, (_, _, needle) in zip(problems, EXPECTED):
        assert needle in problem["message"], problem
        assert problem["file"] == "designer_structure_problems.bpmn"
    assert all(CJK.search(p["message"]) and "流程无法解析" not in p["message"] for p in problems)


def test_each_structural_problem_is_reported_once_with_element_and_line(app, fixture_forms):
    from app.designer.services import validate_path
    problems = [p.as_dict() for p in validate_path(BROKEN)]
    _assert_expected(problems)
    assert "start → gw_scope → end_out" in problems[0]["message"]


def test_the_cli_lists_the_same_problems(app, fixture_forms, tmp_path):
    from app.designer.services import validate_path
    copy = tmp_path / BROKEN.name
    shutil.copy(BROKEN, copy)
    result = app.test_cli_runner().invoke(args=["bpmn", "validate", str(copy)])
    assert result.exit_code == 1
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert lines[0] == f"✗ {BROKEN.name}: {len(EXPECTED)} problem(s)"
    problems = validate_path(BROKEN)   # errors first, then warnings, each said so
    assert lines[1:] == [f"错误 {p}" for p in problems if p.is_error] + [f"警告 {p}" for p in problems if not p.is_error]
    assert sum(p.is_error for p in problems) == 4


def test_the_api_lists_the_same_problems(app, users, fixture_forms, api):
    from app.designer.services import validate_path
    resp = api.post("/api/v1/designer/validate", user="designer", json={"xml": BROKEN.read_text(encoding="utf-8")})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["valid"] is False
    _assert_expected(body["problems"])
    assert body["problems"] == [p.as_dict() for p in validate_path(BROKEN)]


def _without_precheck() -> str:
    """one_thing_transport.bpmn after deleting 收件预审 in the modeler, as the issue found it: its
    shape and outgoing flow are gone, the flow into it is left with no target."""
    root = etree.fromstring((PROJECT / "bpmn" / "one_thing_transport.bpmn").read_bytes())
    for element in root.xpath("//*[@id='precheck' or @bpmnElement='precheck' or @sourceRef='precheck'"
                              " or @bpmnElement='flow_precheck_gw'"
                              " or (local-name()='flowNodeRef' and text()='precheck')]"):
        element.getparent().remove(element)
    return etree.tostring(root, encoding="unicode")


def test_deleting_a_task_in_the_modeler_is_not_valid(app, users, api):
    resp = api.post("/api/v1/designer/validate", user="designer", json={"xml": _without_precheck()})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["valid"] is False
    found = {p["element_id"]: p for p in body["problems"]}
    assert "终点 precheck 不存在" in found["flow_classify_precheck"]["message"]
    assert "没有入口顺序流" in found["gw_complete"]["message"]
    assert all(p["line"] and CJK.search(p["message"]) and "流程无法解析" not in p["message"]
               for p in body["problems"]), body["problems"]


def test_the_shipped_diagrams_have_no_structural_problem(app):
    from app.engine import check_structure
    for path in sorted((PROJECT / "bpmn").glob("*.bpmn")):
        assert check_structure(path.name, path.read_bytes(), app.config["FORMS_DIR"]) == [], path.name


# --- the outcome rule, element by element ----------------------------------------------------------

def _process(body: str) -> bytes:
    return (HEADER + '  <bpmn:process id="p" name="测试" isExecutable="true">\n' + body
            + '  </bpmn:process>\n</bpmn:definitions>\n').encode()


def _flows(*pairs: str) -> str:
    return "".join(f'    <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />\n'
                   for i, pair in enumerate(pairs) for a, b in [pair.split(">")])


START, END = '    <bpmn:startEvent id="start" name="开始" />\n', '    <bpmn:endEvent id="end" name="结束" />\n'


def _script(task_id: str, source: str) -> str:
    return f'    <bpmn:scriptTask id="{task_id}" name="脚本"><bpmn:script>{source}</bpmn:script></bpmn:scriptTask>\n'


def _silent(content: bytes) -> list:
    from app.engine import check_structure
    return [p for p in check_structure("p.bpmn", content) if "没有经过任何办理人" in p.message]


@pytest.mark.parametrize("body", [
    # a person handles it
    START + user_task("a", "登记") + END + _flows("start>a", "a>end"),
    # a timeout while a person had it
    START + user_task("a", "登记") + END
    + '    <bpmn:boundaryEvent id="late" name="超时" attachedToRef="a"><bpmn:timerEventDefinition>'
      '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n'
    + '    <bpmn:endEvent id="end_late" name="超时办结" />\n' + _flows("start>a", "a>end", "late>end_late"),
    # a script records the outcome
    START + _script("s", "status = '不予受理'") + END + _flows("start>s", "s>end"),
    START + _script("s", "review_outcome = 'ok'") + END + _flows("start>s", "s>end"),
    # the result is sent to someone
    START + '    <bpmn:endEvent id="end" name="告知"><bpmn:messageEventDefinition /></bpmn:endEvent>\n'
    + _flows("start>end"),
    # a parallel split: one branch has a person, so the case does not end unseen
    START + '    <bpmn:parallelGateway id="fork" />\n' + user_task("a", "登记") + _script("s", "x = 1")
    + '    <bpmn:parallelGateway id="join" />\n' + END
    + _flows("start>fork", "fork>a", "fork>s", "a>join", "s>join", "join>end"),
    # an embedded subprocess whose every path has a person
    START + '    <bpmn:subProcess id="sub" name="子流程"><bpmn:startEvent id="s_start" name="开始" />\n'
    + user_task("s_a", "办理") + '<bpmn:endEvent id="s_end" name="结束" />\n'
    + '<bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="s_a" />'
      '<bpmn:sequenceFlow id="s2" sourceRef="s_a" targetRef="s_end" /></bpmn:subProcess>\n'
    + END + _flows("start>sub", "sub>end"),
])
def test_paths_that_record_an_outcome_pass(body):
    from app.engine import check_structure
    assert check_structure("p.bpmn", _process(body)) == []


@pytest.mark.parametrize("body, path", [
    (START + END + _flows("start>end"), "start → end"),
    (START + _script("s", "x = 1") + END + _flows("start>s", "s>end"), "start → s → end"),
    (START + '    <bpmn:exclusiveGateway id="g" name="?" default="f2" />\n' + user_task("a", "登记") + END
     + '    <bpmn:endEvent id="end_auto" name="自动办结" />\n'
     + _flows("start>g", "g>end_auto", "g>a", "a>end"), "start → g → end_auto"),
    (START + '    <bpmn:subProcess id="sub" name="子流程"><bpmn:startEvent id="s_start" name="开始" />\n'
     + _script("s_x", "x = 1") + '<bpmn:endEvent id="s_end" name="结束" />\n'
     + '<bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="s_x" />'
       '<bpmn:sequenceFlow id="s2" sourceRef="s_x" targetRef="s_end" /></bpmn:subProcess>\n'
     + END + _flows("start>sub", "sub>end"), "start → sub → end"),
])
def test_paths_that_end_with_nobody_and_no_outcome_are_flagged(body, path):
    [problem] = _silent(_process(body))
    assert f"（{path}）" in problem.message and problem.element_id == path.split(" → ")[-1] and problem.line


def test_a_loop_with_no_way_out_is_reported_once():
    from app.engine import check_structure
    body = (START + user_task("a", "登记") + user_task("b", "审核") + END
            + _flows("start>a", "a>b", "b>a"))
    [problem] = [p for p in check_structure("p.bpmn", _process(body)) if p.element_id in ("a", "b")]
    assert problem.element_id == "a" and "无法到达结束事件" in problem.message and "其前 2 个元素" in problem.message


_A = user_task("a", "登记")


@pytest.mark.parametrize("body", [
    START + _A + END + _flows("start>a", "a>gone"),                                         # a deleted target
    START + _A + END + _flows("start>a") + '    <bpmn:sequenceFlow id="fx" sourceRef="a" />\n',   # no targetRef
    START + _A + _A.replace('"登记"', '"审核"') + END + _flows("start>a", "a>end"),          # duplicate id
    START + _A + END + '    <bpmn:endEvent id="end2" name="结束2" />\n' + _flows("start>a", "a>end", "a>end2"),
    START + '    <bpmn:userTsk id="t" name="拼错" />\n' + _A + END + _flows("start>a", "a>end"),
    START + '    <bpmn:intermediateCatchEvent id="m" name="等待"><bpmn:messageEventDefinition messageRef="nope" />'
            '</bpmn:intermediateCatchEvent>\n' + _A + END + _flows("start>m", "m>a", "a>end"),
    START + '    <bpmn:eventBasedGateway id="g" name="等待?" />\n' + _A + END + _flows("start>g", "g>a", "a>end"),
    START + '    <bpmn:subProcess id="sp" name="子流程" />\n' + _A + END + _flows("start>sp", "sp>a", "a>end"),
    START + '    <bpmn:callActivity id="c" name="调用" />\n' + _A + END + _flows("start>c", "c>a", "a>end"),
    START + _A.replace("</bpmn:userTask>", "<bpmn:multiInstanceLoopCharacteristics /></bpmn:userTask>") + END
    + _flows("start>a", "a>end"),
])
def test_a_broken_diagram_gets_chinese_problems_never_the_engine_s_english(app, users, fixture_forms, api, body):
    resp = api.post("/api/v1/designer/validate", user="designer", json={"xml": _process(body).decode()})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert body["valid"] is False
    for problem in body["problems"]:
        assert CJK.search(problem["message"]) and "原文" not in problem["message"], problem
        assert not re.search(r"[A-Za-z]{3,} [a-z]{3,} [a-z]{3,}", problem["message"]), problem


def test_a_file_that_is_not_bpmn_says_so(app, users, api):
    resp = api.post("/api/v1/designer/validate", user="designer",
                    json={"xml": '<?xml version="1.0"?><diagram><node id="x" /></diagram>'})
    [problem] = resp.get_json()["problems"]
    assert "不是 BPMN 2.0 文件" in problem["message"]


def test_an_invalid_id_is_said_even_beside_other_structural_problems_and_deploy_speaks_chinese():
    from app.engine import check_bpmn, check_structure
    xml = b'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
<bpmn:process id="p" name="P" isExecutable="true">
<bpmn:startEvent id="s" name="S"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="2m" name="A"/>
<bpmn:userTask id="t" name="B"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="e" name="E"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
<bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e"/>
</bpmn:process></bpmn:definitions>'''
    assert any(p.element_id == "2m" and "无效" in p.message for p in check_structure("p.bpmn", xml))
    # the parser's own failure is worded in Chinese where deploy reads it too (flask bpmn deploy)
    fixed = xml.replace(b'id="2m"', b'id="m2"')
    problems = check_bpmn("p.bpmn", fixed)[1]
    assert problems and all(CJK.search(p.message) and "not supported" not in p.message for p in problems)
