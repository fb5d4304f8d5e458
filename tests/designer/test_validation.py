"""Server-side validation: every problem at once, each with its element id and line."""
from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, PROJECT
from tests.designer.conftest import HEADER, linear, user_task

FIVE = FIXTURES / "bpmn" / "designer_five_problems.bpmn"


def test_five_different_problems_are_reported_at_once_with_element_and_line(app, fixture_forms):
    from app.designer.services import validate_path
    problems = validate_path(FIVE)
    found = {p.element_id: p for p in problems}
    assert sorted(found) == ["approve_deadline", "approve_no_form", "calc", "f_no", "review_no_group"], \
        [str(p) for p in problems]
    assert len(problems) == 5
    assert "没有名称" in found["calc"].message and found["calc"].line == 6
    assert "没有条件" in found["f_no"].message and "gw_decide" in found["f_no"].message and found["f_no"].line == 14
    assert "办理组" in found["review_no_group"].message and found["review_no_group"].line == 15
    assert "表单" in found["approve_no_form"].message and found["approve_no_form"].line == 21
    assert "ISO 8601" in found["approve_deadline"].message and "P1X" in found["approve_deadline"].message
    assert found["approve_deadline"].line == 29
    assert all(p.file == "designer_five_problems.bpmn" for p in problems)
    assert "第 6 行" in str(found["calc"]) and "元素 calc" in str(found["calc"])


def test_the_same_problems_from_xml_text(app, fixture_forms):
    from app.designer.services import validate_xml
    problems = validate_xml(FIVE.read_text(encoding="utf-8"))
    assert sorted(p.element_id for p in problems) == [
        "approve_deadline", "approve_no_form", "calc", "f_no", "review_no_group"]


def test_shipped_diagrams_pass_every_rule(app):
    from app.designer.services import validate_path
    for path in sorted((PROJECT / "bpmn").glob("*.bpmn")):
        assert validate_path(path) == [], (path.name, [str(p) for p in validate_path(path)])


def test_a_clean_diagram_passes(app, fixture_forms):
    from app.designer.services import validate_xml
    assert validate_xml(linear("clean", [("a", "登记"), ("b", "审核")], timer_on="a")) == []


def _timer_diagram(kind: str, expression: str) -> str:
    return (HEADER + '  <bpmn:process id="tmr" name="定时" isExecutable="true">\n'
            '    <bpmn:startEvent id="start" name="开始" />\n'
            '    <bpmn:intermediateCatchEvent id="wait" name="等待">\n'
            f'      <bpmn:timerEventDefinition><bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>\n'
            '    </bpmn:intermediateCatchEvent>\n'
            '    <bpmn:scriptTask id="remind" name="记录提醒"><bpmn:script>status = "已提醒"</bpmn:script></bpmn:scriptTask>\n'
            '    <bpmn:endEvent id="end" name="结束" />\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />\n'
            '    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="remind" />\n'
            '    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="end" />\n'
            '  </bpmn:process>\n</bpmn:definitions>\n')


@pytest.mark.parametrize("kind, expression", [
    ("timeDuration", '"PT48H"'),
    ("timeDuration", "sla_duration"),                         # a data variable: known at run time
    ("timeDate", 'due_in("3WD")'),                            # the helpers are available
    ("timeDate", 'add_duration(today(), "2WD")'),
    ("timeDate", '"2030-01-31T17:00:00+08:00"'),
    ("timeCycle", '"R3/PT1H"'),
])
def test_timer_expressions_that_evaluate_are_accepted(app, kind, expression):
    from app.designer.services import validate_xml
    assert validate_xml(_timer_diagram(kind, expression)) == []


@pytest.mark.parametrize("kind, expression, needle", [
    ("timeDuration", '"P1X"', "ISO 8601 时长"),
    ("timeDuration", "PT48H", "须加引号"),                   # the reference's pitfall: unquoted literal
    ("timeDuration", '"PT" +', "语法错误"),
    ("timeDuration", "due_inn('3WD')", "未知函数 due_inn"),
    ("timeDate", 'due_in("3XX")', "3XX"),                    # the helper refuses the duration
    ("timeDate", '"P3D"', "ISO 8601 日期时间"),              # a duration where a date is needed
    ("timeCycle", '"R3/PX"', "循环周期"),
    ("timeDuration", "48", "ISO 8601 字符串"),
])
def test_timer_expressions_that_cannot_work_are_problems(app, kind, expression, needle):
    from app.designer.services import validate_xml
    problems = validate_xml(_timer_diagram(kind, expression))
    assert len(problems) == 1, [str(p) for p in problems]
    assert problems[0].element_id == "wait" and problems[0].line == 6
    assert needle in problems[0].message


def _gateway_diagram(default: str = "", second_condition: str = "", groups: str = "intake") -> str:
    cond = f"<bpmn:conditionExpression>{second_condition}</bpmn:conditionExpression>" if second_condition else ""
    default_attr = f' default="{default}"' if default else ""
    return (HEADER + '  <bpmn:process id="gw" name="网关" isExecutable="true">\n'
            '    <bpmn:startEvent id="start" name="开始" />\n'
            + user_task("intake", "受理") +
            f'    <bpmn:exclusiveGateway id="decide" name="通过?"{default_attr} />\n'
            '    <bpmn:userTask id="fix" name="补正"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="candidateGroups" value="{groups}" />'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="note.schema.json" />'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>\n'
            '    <bpmn:endEvent id="end" name="结束" />\n'
            '    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="intake" />\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="intake" targetRef="decide" />\n'
            '    <bpmn:sequenceFlow id="f_ok" sourceRef="decide" targetRef="end">'
            '<bpmn:conditionExpression>ok == True</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
            f'    <bpmn:sequenceFlow id="f_fix" sourceRef="decide" targetRef="fix">{cond}</bpmn:sequenceFlow>\n'
            '    <bpmn:sequenceFlow id="f3" sourceRef="fix" targetRef="end" />\n'
            '  </bpmn:process>\n</bpmn:definitions>\n')


def test_gateway_flows_need_a_condition_unless_default(app, fixture_forms):
    from app.designer.services import validate_xml
    assert validate_xml(_gateway_diagram(default="f_fix")) == []
    assert validate_xml(_gateway_diagram(second_condition="ok == False")) == []
    [problem] = validate_xml(_gateway_diagram())
    assert problem.element_id == "f_fix" and "没有条件" in problem.message
    [problem] = validate_xml(_gateway_diagram(default="f_elsewhere", second_condition="ok == False"))
    assert problem.element_id == "decide" and "f_elsewhere" in problem.message


def test_candidate_groups_may_be_placeholders_resolved_at_run_time(app, fixture_forms):
    from app.designer.services import validate_xml
    assert validate_xml(_gateway_diagram(default="f_fix", groups="${handling_unit}")) == []
    assert validate_xml(_gateway_diagram(default="f_fix", groups="dispatch,${handling_unit}")) == []
    [problem] = validate_xml(_gateway_diagram(default="f_fix", groups="${handling unit}"))
    assert problem.element_id == "fix" and "占位符" in problem.message


def test_a_placeholder_the_engine_would_not_fill_in_is_a_problem(app, fixture_forms):
    """The same rule as at run time (app.engine.placeholders): ${单位} or ${_unit} would stay literal
    group names and the task would be offered to nobody."""
    from app.designer.services import validate_xml
    from app.engine.runtime import resolve_groups
    for written in ("${单位}", "${_unit}", "${1unit}"):
        [problem] = validate_xml(_gateway_diagram(default="f_fix", groups=written))
        assert problem.element_id == "fix" and "占位符" in problem.message, written
        assert resolve_groups(written, {"单位": "x", "_unit": "x", "1unit": "x"}) == [written]


def test_a_lane_is_a_group(app, fixture_forms):
    from app.designer.services import validate_xml
    xml = linear("laned", [("a", "登记")]).replace(
        '<spiffworkflow:property name="candidateGroups" value="intake" />', "").replace(
        '<bpmn:startEvent id="start"', '<bpmn:laneSet id="ls"><bpmn:lane id="l1" name="受理员">'
        '<bpmn:flowNodeRef>a</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>\n    <bpmn:startEvent id="start"')
    assert validate_xml(xml) == []
    [problem] = validate_xml(xml.replace("<bpmn:flowNodeRef>a</bpmn:flowNodeRef>", ""))
    assert problem.element_id == "a" and "办理组" in problem.message


def test_merging_and_parallel_gateways_need_no_name(app, fixture_forms):
    from app.designer.services import validate_xml
    xml = (HEADER + '  <bpmn:process id="par" name="并行" isExecutable="true">\n'
           '    <bpmn:startEvent id="start" name="开始" />\n'
           '    <bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />\n'
           + user_task("work", "办理") +
           '    <bpmn:endEvent id="end" />\n'
           '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />\n'
           '    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="work" />\n'
           '    <bpmn:sequenceFlow id="f2b" sourceRef="work" targetRef="join" />\n'
           '    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="join" />\n'
           '    <bpmn:sequenceFlow id="f4" sourceRef="join" targetRef="end" />\n'
           '  </bpmn:process>\n</bpmn:definitions>\n')
    [problem] = validate_xml(xml)
    assert problem.element_id == "end" and "事件没有名称" in problem.message


def test_loading_a_deployed_version_does_not_evaluate_timers(app, fixture_forms):
    """A helper's failure later (e.g. a calendar change) must never make a deployed version unloadable."""
    from app.engine import definitions
    calls = []
    original = definitions._timer_checks
    definitions._timer_checks = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        definitions.load_process(-1, "tmr", _timer_diagram("timeDuration", '"PT1H"'), {})
        assert calls == []
        definitions.check_bpmn("t.bpmn", _timer_diagram("timeDuration", '"PT1H"').encode())
        assert calls == [1]
    finally:
        definitions._timer_checks = original
        definitions._cache.pop(-1, None)
