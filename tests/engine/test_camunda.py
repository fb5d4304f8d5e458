"""Camunda 7 diagrams converted at deploy (app/engine/camunda.py): what each extension becomes, and
each thing that cannot run here refused with its element, line and a Chinese reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import check_bpmn
from app.engine.camunda import iso_duration

CORPUS = Path(__file__).resolve().parent.parent / "bpmn" / "compat" / "camunda"

DOC = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="p" name="测试流程" isExecutable="true">
    <bpmn:startEvent id="start"{start}>{start_body}</bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t" />
    {task}
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def doc(task: str, start: str = "", start_body: str = "") -> bytes:
    return DOC.format(task=task, start=start, start_body=start_body).encode()


def parse(content: bytes, dmn: dict | None = None):
    processes, problems = check_bpmn("c.bpmn", content, dmn or {})
    return processes, problems


def ok(content: bytes, dmn: dict | None = None):
    processes, problems = parse(content, dmn)
    assert problems == [], [str(p) for p in problems]
    (process,) = processes
    return process


def refused(content: bytes, dmn: dict | None = None) -> list:
    processes, problems = parse(content, dmn)
    assert processes == [] and problems
    for problem in problems:
        assert problem.line and problem.element_id, str(problem)
    return problems


def user_task(attrs: str = "", ext: str = "", body: str = "") -> str:
    extension = f"<bpmn:extensionElements>{ext}</bpmn:extensionElements>" if ext else ""
    return f'<bpmn:userTask id="t" name="审批" {attrs}>{extension}{body}</bpmn:userTask>'


# --- forms ----------------------------------------------------------------------------------------

def test_form_fields_become_a_json_schema_form_with_the_labels_as_written():
    form = """<camunda:formData>
        <camunda:formField id="reason" label="退回理由" type="string">
          <camunda:validation><camunda:constraint name="required" />
            <camunda:constraint name="minlength" config="2" /><camunda:constraint name="maxlength" config="200" />
          </camunda:validation></camunda:formField>
        <camunda:formField id="amount" label="金额（元）" type="long">
          <camunda:validation><camunda:constraint name="min" config="0" /><camunda:constraint name="max" config="5000" />
          </camunda:validation></camunda:formField>
        <camunda:formField id="caseNo" label="案件编号" type="string" defaultValue="JM-1">
          <camunda:validation><camunda:constraint name="readonly" /></camunda:validation></camunda:formField>
        <camunda:formField id="approved" label="是否同意" type="boolean" />
        <camunda:formField id="visitDay" label="走访日期" type="date" />
        <camunda:formField id="level" label="等级" type="enum">
          <camunda:value id="high" name="高" /><camunda:value id="low" name="低" /></camunda:formField>
      </camunda:formData>"""
    process = ok(doc(user_task(ext=form)))
    props = process.tasks["t"].properties
    schema = process.generated_forms[props["formJsonSchemaFilename"]]
    ui = process.generated_forms[props["formUiSchemaFilename"]]
    assert schema["title"] == "审批" and schema["required"] == ["reason"]
    assert schema["properties"] == {
        "reason": {"type": "string", "title": "退回理由", "minLength": 2, "maxLength": 200},
        "amount": {"type": "integer", "title": "金额（元）", "minimum": 0, "maximum": 5000},
        "caseNo": {"type": "string", "title": "案件编号", "default": "JM-1", "readOnly": True, "const": "JM-1"},
        "approved": {"type": "boolean", "title": "是否同意"},
        "visitDay": {"type": "string", "title": "走访日期", "format": "date"},
        "level": {"type": "string", "title": "等级", "oneOf": [{"const": "high", "title": "高"},
                                                             {"const": "low", "title": "低"}]},
    }
    assert ui["ui:order"] == ["reason", "amount", "caseNo", "approved", "visitDay", "level"]
    assert ui["caseNo"] == {"ui:readonly": True}


def test_a_start_event_form_is_the_start_form():
    form = '<bpmn:extensionElements><camunda:formData><camunda:formField id="title" label="标题" type="string" />' \
           '</camunda:formData></bpmn:extensionElements>'
    process = ok(doc(user_task('camunda:candidateGroups="g"'), start_body=form))
    path = process.start_properties["formJsonSchemaFilename"]
    assert process.generated_forms[path]["properties"]["title"]["title"] == "标题"


@pytest.mark.parametrize("field, message", [
    ('<camunda:formField id="x" type="double" />', "类型 double 不支持"),
    ('<camunda:formField id="x" type="enum" />', "枚举字段 x 没有选项"),
    ('<camunda:formField id="x" type="string"><camunda:validation><camunda:constraint name="validator" '
     'config="com.acme.Check" /></camunda:validation></camunda:formField>', "校验规则 validator 不支持"),
    ('<camunda:formField id="x" type="long"><camunda:validation><camunda:constraint name="maxlength" '
     'config="3" /></camunda:validation></camunda:formField>', "只适用于 string"),
    ('<camunda:formField id="x" type="string"><camunda:validation><camunda:constraint name="min" '
     'config="3" /></camunda:validation></camunda:formField>', "只适用于 long"),
    ('<camunda:formField id="x" type="long"><camunda:validation><camunda:constraint name="min" '
     'config="abc" /></camunda:validation></camunda:formField>', "须为整数"),
    ('<camunda:formField id="x" type="long" defaultValue="many" />', "不是整数"),
    ('<camunda:formField id="x" type="boolean" defaultValue="yes" />', "须为 true 或 false"),
    ('<camunda:formField id="x" type="date" defaultValue="next week" />', "dd/MM/yyyy"),
    ('<camunda:formField id="x" type="string" defaultValue="${today}" />', "是表达式"),
    ('<camunda:formField id="x-y" type="string" />', "表单字段 id “x-y”无效"),
])
def test_form_fields_that_cannot_be_generated_are_refused(field, message):
    (problem,) = refused(doc(user_task(ext=f"<camunda:formData>{field}</camunda:formData>")))
    assert message in problem.message and problem.element_id == "t"


@pytest.mark.parametrize("attrs", ['camunda:formKey="embedded:app:forms/a.html"',
                                   'camunda:formKey="camunda-forms:deployment:a.form"', 'camunda:formRef="a"'])
def test_html_and_camunda_forms_are_refused(attrs):
    (problem,) = refused(doc(user_task(attrs)))
    assert "formData" in problem.message and "formJsonSchemaFilename" in problem.message


def test_a_form_key_is_accepted_when_the_task_names_a_json_schema_form():
    ext = ('<spiffworkflow:properties xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
           '<spiffworkflow:property name="formJsonSchemaFilename" value="a.schema.json" /></spiffworkflow:properties>')
    process = ok(doc(user_task('camunda:formKey="embedded:app:forms/a.html"', ext)))
    assert process.tasks["t"].properties["formJsonSchemaFilename"] == "a.schema.json"


# --- assignment and due dates -----------------------------------------------------------------------

@pytest.mark.parametrize("attrs, expected", [
    ('camunda:assignee="demo"', {"assignee": "demo"}),
    ('camunda:assignee="${reviewer}"', {"assignee": "${reviewer}"}),
    ('camunda:candidateUsers="demo"', {"assignee": "demo"}),
    ('camunda:candidateUsers=" demo "', {"assignee": "demo"}),
    ('camunda:candidateGroups="management, ${approverGroup}"', {"candidateGroups": "management, ${approverGroup}"}),
    ('camunda:priority="80"', {"priority": "80"}),
    ('camunda:dueDate="P3D"', {"dueIn": "72H"}),
    ('camunda:dueDate="PT30M"', {"dueIn": "30MIN"}),
    ('camunda:dueDate="${dateTime().plusWeeks(1).toDate()}"', {"dueIn": "168H"}),
    ('camunda:dueDate="${dateTime().plusDays(2).toDate()}"', {"dueIn": "48H"}),
    ('camunda:dueDate="${deadline}"', {"dueIn": "${deadline}"}),
    ('camunda:dueDate="2026-12-31T17:00:00+08:00"', {"dueAt": "2026-12-31T17:00:00+08:00", "dueIn": None}),
])
def test_assignment_and_due_date_become_task_properties(attrs, expected):
    props = ok(doc(user_task(attrs))).tasks["t"].properties
    assert {k: props.get(k) for k in expected} == expected


def test_the_start_events_initiator_variable_assigns_the_starter():
    process = ok(doc(user_task('camunda:assignee="${starter}"'), start=' camunda:initiator="starter"'))
    assert process.tasks["t"].properties["assignee"] == "${initiator}"


@pytest.mark.parametrize("attrs, message", [
    ('camunda:candidateUsers="a,b"', "candidateUsers 列出了 2 个用户"),
    ('camunda:assignee="${users.get(0)}"', "办理人表达式"),
    ('camunda:candidateGroups="${org.unit}"', "candidateGroups 中的表达式"),
    ('camunda:dueDate="2026-13-45T17:00:00"', "不是有效的 ISO 8601 日期时间"),
    ('camunda:dueDate="P1M"', "无法转换"),
    ('camunda:dueDate="${dateTime().plusMonths(1).toDate()}"', "无法转换"),
    ('camunda:priority="${prio}"', "须为整数"),
])
def test_assignments_that_cannot_be_mapped_are_refused(attrs, message):
    (problem,) = refused(doc(user_task(attrs)))
    assert message in problem.message and problem.element_id == "t" and problem.line == 8


@pytest.mark.parametrize("iso, ours", [("P2D", "48H"), ("P1W", "168H"), ("PT4H", "4H"), ("PT90M", "90MIN"),
                                       ("P1DT12H", "36H"), ("PT120S", "2MIN"), ("p1d", "24H")])
def test_iso_durations_become_exact_time_limits(iso, ours):
    assert iso_duration(iso) == ours


def test_a_due_date_resolved_at_run_time_is_a_time_limit_from_now():
    from datetime import datetime, timezone
    from app.engine.camunda import due_in_from
    now = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)   # 09:00 in Jiangmen
    assert due_in_from("P2D", now) == "48H"
    assert due_in_from("2026-12-01T17:00:00+08:00", now) == "480MIN"
    assert due_in_from("2026-12-01T17:00:00", now) == "480MIN"              # no offset: Beijing time
    assert due_in_from("2026-12-01T09:00:30Z", now) == "481MIN"             # rounded up
    assert due_in_from("2026-11-30", now) == "1MIN"                         # already past: due at once
    assert due_in_from("15WD", now) is None and due_in_from(None, now) is None and due_in_from(3, now) is None


@pytest.mark.parametrize("text", ["P1M", "P1Y", "PT10S", "P", "PT", "3WD", "", None, "2026-01-01"])
def test_what_is_not_an_exact_iso_duration_is_not_converted(text):
    assert iso_duration(text) is None


# --- expressions -------------------------------------------------------------------------------------

GATEWAY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" name="金额?" />
    <bpmn:sequenceFlow id="big" sourceRef="gw" targetRef="end1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"{language}>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small" sourceRef="gw" targetRef="end2">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${{amount &lt;= 1000}}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="end1" /><bpmn:endEvent id="end2" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_conditions_are_python_in_the_spec():
    process = ok(GATEWAY.format(condition="${amount > 1000 &amp;&amp; !urgent}", language="").encode())
    conditions = {condition.args[0] for condition, _ in process.spec.task_specs["gw"].cond_task_specs}
    assert conditions == {"(amount > 1000) and (not urgent)", "amount <= 1000"}


@pytest.mark.parametrize("condition, language, message", [
    ("${service.check(amount)}", "", "不支持调用方法 check()"),
    ("${amount &gt; }", "", "表达式不完整"),
    ("amount &gt; 1000", ' language="groovy"', "条件的脚本语言 groovy 不支持"),
    ("${__import__}", "", "转换为 Python 后不能执行"),
])
def test_conditions_that_cannot_be_translated_are_refused_at_their_flow(condition, language, message):
    (problem,) = refused(GATEWAY.format(condition=condition, language=language).encode())
    assert message in problem.message and problem.element_id == "big" and problem.line == 10


def test_input_output_parameters_become_pre_and_post_scripts():
    io = """<camunda:inputOutput>
        <camunda:inputParameter name="level">${amount > 1000 ? 'high' : 'low'}</camunda:inputParameter>
        <camunda:inputParameter name="title">审批单</camunda:inputParameter>
        <camunda:inputParameter name="reviewers"><camunda:list><camunda:value>张三</camunda:value>
          <camunda:value>${boss}</camunda:value></camunda:list></camunda:inputParameter>
        <camunda:inputParameter name="meta"><camunda:map><camunda:entry key="k">${v}</camunda:entry></camunda:map>
        </camunda:inputParameter>
        <camunda:inputParameter name="nothing" />
        <camunda:outputParameter name="done">${true}</camunda:outputParameter>
      </camunda:inputOutput>"""
    process = ok(doc(user_task(ext=io)))
    spec = process.spec.task_specs["t"]
    assert spec.prescript.splitlines() == ["level = 'high' if (amount > 1000) else 'low'", "title = '审批单'",
                                           "reviewers = ['张三', boss]", "meta = {'k': v}", "nothing = None"]
    assert spec.postscript == "done = True"


@pytest.mark.parametrize("io, message", [
    ('<camunda:inputParameter name="x"><camunda:script scriptFormat="groovy">1</camunda:script>'
     '</camunda:inputParameter>', "参数 x 的脚本（camunda:script）不支持"),
    ('<camunda:inputParameter name="x">${bean.call()}</camunda:inputParameter>', "不支持调用方法 call()"),
    ('<camunda:inputParameter name="1x">1</camunda:inputParameter>', "参数名“1x”无效"),
])
def test_parameters_that_cannot_be_translated_are_refused(io, message):
    (problem,) = refused(doc(user_task(ext=f"<camunda:inputOutput>{io}</camunda:inputOutput>")))
    assert message in problem.message and problem.element_id == "t"


def test_multi_instance_collection_cardinality_and_completion():
    mi = ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}" '
          'camunda:elementVariable="reviewer"><bpmn:completionCondition xsi:type="bpmn:tFormalExpression">'
          '${rejected}</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics>')
    spec = ok(doc(user_task('camunda:assignee="${reviewer}"', body=mi))).spec.task_specs["t"]
    assert spec.data_input.bpmn_id == "reviewers" and spec.input_item.bpmn_id == "reviewer"
    assert spec.condition == "rejected"
    cardinality = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">'
                   '${count + 1}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>')
    assert ok(doc(user_task(body=cardinality))).spec.task_specs["t"].cardinality == "count + 1"


@pytest.mark.parametrize("mi, message", [
    ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="${bean.list()}" camunda:elementVariable="x" />',
     "camunda:collection"),
    ('<bpmn:multiInstanceLoopCharacteristics camunda:elementVariable="x"><bpmn:loopCardinality>3'
     '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>', "没有 camunda:collection"),
    ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="xs" camunda:elementVariable="x">'
     '<bpmn:completionCondition>${nrOfCompletedInstances >= 2}</bpmn:completionCondition>'
     '</bpmn:multiInstanceLoopCharacteristics>', "nrOfCompletedInstances"),
])
def test_multi_instance_forms_that_cannot_run_are_refused(mi, message):
    (problem,) = refused(doc(user_task(body=mi)))
    assert message in problem.message and problem.element_id == "t"


def test_bare_iso_timer_literals_are_quoted_and_expressions_translated():
    timer = """<bpmn:intermediateCatchEvent id="t" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{}</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"""
    assert ok(doc(timer.format("PT5M"))).has_timers
    assert ok(doc(timer.format("${wait}"))).has_timers
    (problem,) = refused(doc(timer.format("${dateTime().plusDays(1)}")))
    assert "定时表达式" in problem.message
    (problem,) = refused(doc(timer.format("0 0/5 * * * ?")))
    assert "cron 表达式" in problem.message and problem.element_id == "t"


# --- what cannot run here ----------------------------------------------------------------------------

@pytest.mark.parametrize("task, message", [
    ('<bpmn:serviceTask id="t" camunda:class="com.acme.Archive" />', "camunda:class=“com.acme.Archive”"),
    ('<bpmn:serviceTask id="t" camunda:delegateExpression="${archiver}" />', "camunda:delegateExpression"),
    ('<bpmn:serviceTask id="t" camunda:expression="${svc.run()}" />', "camunda:expression"),
    ('<bpmn:sendTask id="t" camunda:class="com.acme.Mail" />', "camunda:class"),
    ('<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="charge" />', "外部任务"),
    ('<bpmn:serviceTask id="t"><bpmn:extensionElements><camunda:connector><camunda:connectorId>http-connector'
     '</camunda:connectorId></camunda:connector></bpmn:extensionElements></bpmn:serviceTask>', "camunda:connector"),
])
def test_java_delegates_external_tasks_and_camunda_connectors_point_to_connectors(task, message):
    problems = refused(doc(task))
    assert any(message in p.message and "spiffworkflow:serviceTaskOperator" in p.message and
               p.element_id == "t" for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize("task, message", [
    (user_task(ext='<camunda:taskListener event="create" class="com.acme.L" />'), "camunda:taskListener"),
    (user_task(ext='<camunda:executionListener event="start" expression="${x}" />'), "camunda:executionListener"),
    (user_task(ext='<camunda:formProperty id="x" />'), "camunda:formProperty"),
    ('<bpmn:scriptTask id="t" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
     "脚本语言 groovy 不支持"),
    ('<bpmn:scriptTask id="t" scriptFormat="javascript"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
     "脚本语言 javascript 不支持"),
    ('<bpmn:scriptTask id="t" scriptFormat="python" camunda:resultVariable="r"><bpmn:script>1</bpmn:script>'
     '</bpmn:scriptTask>', "camunda:resultVariable"),
    ('<bpmn:scriptTask id="t" scriptFormat="python" camunda:resource="a.py" />', "camunda:resource"),
])
def test_listeners_old_forms_and_foreign_scripts_are_refused(task, message):
    problems = refused(doc(task))
    assert any(message in p.message and p.element_id == "t" for p in problems), [str(p) for p in problems]


def test_a_python_script_task_runs_as_written():
    ok(doc('<bpmn:scriptTask id="t" name="算" scriptFormat="python"><bpmn:script>x = 1</bpmn:script>'
           '</bpmn:scriptTask>'))


def test_the_old_activiti_namespace_is_read_as_camunda():
    content = doc(user_task('camunda:candidateUsers="a,b"')).replace(
        b"http://camunda.org/schema/1.0/bpmn", b"http://activiti.org/bpmn")
    (problem,) = refused(content)
    assert "candidateUsers" in problem.message


def test_a_diagram_breaking_the_bpmn_schema_is_checked_as_written_and_warned_about():
    """A harmless break of the BPMN schema (#14 item 2) is a warning with its line, on the diagram as
    written (not the converted one); the diagram still deploys."""
    content = doc(user_task()).replace(b'<bpmn:endEvent id="end" />', b'<bpmn:endEvent id="end" bogus="1" />')
    processes, (problem,) = parse(content)
    assert len(processes) == 1 and problem.severity == "warning"
    assert "bogus" in problem.message and problem.line == 10


# --- decisions ----------------------------------------------------------------------------------------

INVOICE_DMN = (CORPUS / "refused_invoice" / "invoiceBusinessDecisions.dmn").read_bytes()


def rule_task(attrs: str) -> str:
    return f'<bpmn:businessRuleTask id="t" name="分类" {attrs} />'


@pytest.mark.parametrize("mapping, collect_policy, line", [
    ("singleEntry", False, "category = invoiceClassification"),
    ("collectEntries", False, "category = ([] if invoiceClassification is None else [invoiceClassification])"),
    ("singleResult", False, "category = {'invoiceClassification': invoiceClassification}"),
])
def test_decision_results_are_mapped_into_the_result_variable(mapping, collect_policy, line):
    process = ok(doc(rule_task('camunda:decisionRef="invoiceClassification" camunda:resultVariable="category" '
                               f'camunda:mapDecisionResult="{mapping}"')), {"invoice.dmn": INVOICE_DMN})
    spec = process.spec.task_specs["t"]
    assert spec.prescript == "invoiceClassification = None"
    assert spec.postscript == line
    assert process.referenced_dmn == {"invoice.dmn"}


def test_camunda_dmn_feel_entries_are_python():
    process = ok(doc(rule_task('camunda:decisionRef="invoiceClassification"')), {"invoice.dmn": INVOICE_DMN})
    table = process.spec.task_specs["t"].dmnEngine.decision_table
    entries = [[e.lhs[0] for e in rule.inputEntries] for rule in table.rules]
    assert entries == [["? < 250", "? == 'Misc'"], ["250 <= ? and ? <= 1000", "? == 'Misc'"],
                       ["? > 1000", "? == 'Misc'"], [None, "? == 'Travel Expenses'"],
                       [None, "? == 'Software License Costs'"]]


def test_a_decision_needing_another_decision_is_refused_in_the_dmn_file():
    (problem,) = refused(doc(rule_task('camunda:decisionRef="invoice-assign-approver"')),
                         {"invoice.dmn": INVOICE_DMN})
    assert problem.file == "invoice.dmn" and "requiredDecision" in problem.message


@pytest.mark.parametrize("attrs, message", [
    ('camunda:decisionRef="${which}"', "须为决策 id"),
    ('camunda:decisionRef="nope"', "找不到决策 nope"),
    ('camunda:decisionRef="invoiceClassification" camunda:resultVariable="r" camunda:mapDecisionResult="other"',
     "mapDecisionResult=“other”不支持"),
    ('camunda:decisionRef="invoiceClassification" camunda:resultVariable="r-1"', "不是有效的变量名"),
])
def test_decision_references_that_cannot_run_are_refused(attrs, message):
    (problem,) = refused(doc(rule_task(attrs)), {"invoice.dmn": INVOICE_DMN})
    assert message in problem.message and problem.element_id == "t"


FEEL_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    id="d" name="d" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="level" name="等级">
    <decisionTable id="table" hitPolicy="{policy}"{aggregation}>
      <input id="i1" label="金额" camunda:inputVariable="v"><inputExpression id="e1" typeRef="integer">
        <text>{expression}</text></inputExpression></input>
      <output id="o1" label="等级" name="level" typeRef="string" />
      <rule id="r1"><inputEntry id="a1"><text>{entry}</text></inputEntry>
        <outputEntry id="b1"><text>"高"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def feel(entry="&gt; 10", policy="UNIQUE", aggregation="", expression="amount"):
    return {"level.dmn": FEEL_DMN.format(entry=entry, policy=policy, aggregation=aggregation,
                                         expression=expression).encode()}


@pytest.mark.parametrize("entry, python", [
    ('"a","b"', "(? == 'a') or (? == 'b')"),
    ('not("a")', "not (? == 'a')"),
    ("]1..5[", "1 < ? and ? < 5"),
    ("[1..5)", "1 <= ? and ? < 5"),
    (">= limit", "? >= limit"),
    ("null", "? is None"),
    ("v &gt; 3 and v &lt; 9", "(? > 3) and (? < 9)"),
])
def test_feel_unary_tests(entry, python):
    process = ok(doc(rule_task('camunda:decisionRef="level"')), feel(entry))
    (rule,) = process.spec.task_specs["t"].dmnEngine.decision_table.rules
    assert rule.inputEntries[0].lhs == [python]


@pytest.mark.parametrize("dmn, message", [
    (feel(policy="PRIORITY"), "命中策略 PRIORITY 不支持"),
    (feel(policy="COLLECT", aggregation=' aggregation="SUM"'), "聚合 SUM 不支持"),
    (feel(entry='date("2020-01-01")'), "不支持调用函数 date()"),
    (feel(expression="order.total()"), "不支持调用方法 total()"),
])
def test_dmn_features_that_cannot_run_are_refused_when_the_decision_is_called(dmn, message):
    (problem,) = refused(doc(rule_task('camunda:decisionRef="level"')), dmn)
    assert problem.file == "level.dmn" and message in problem.message


def test_a_spiff_diagram_is_left_as_it_is(app):
    content = (Path(__file__).resolve().parent.parent.parent / "bpmn").glob("*.bpmn")
    for path in content:
        processes, problems = check_bpmn(path.name, path.read_bytes(), {
            p.name: p.read_bytes() for p in path.parent.glob("*.dmn")})
        assert problems == [] and all(p.generated_forms == {} for p in processes)


def test_the_designer_conventions_read_camunda_assignment_and_forms():
    from app.engine import check_conventions
    form = '<camunda:formData><camunda:formField id="x" label="说明" type="string" /></camunda:formData>'
    named = check_conventions("c.bpmn", doc(user_task('camunda:assignee="demo"', ext=form)))
    assert not [p for p in named if p.element_id == "t"]
    bare = check_conventions("c.bpmn", doc(user_task()))
    assert {p.message.split("：")[0] for p in bare if p.element_id == "t"} == {"用户任务没有办理组", "用户任务没有表单"}


@pytest.mark.parametrize("amount, category, expected", [
    (100, "Misc", "day-to-day expense"), (250, "Misc", "budget"), (1000, "Misc", "budget"),
    (1001, "Misc", "exceptional"), (5000, "Travel Expenses", "day-to-day expense"),
    (10, "Software License Costs", "budget"), (10, "Other", None),
])
def test_the_invoice_classification_decision_runs(app, db, tmp_path, amount, category, expected):
    """Camunda's own DMN 1.3 table (invoiceBusinessDecisions.dmn), called by decisionRef."""
    from app.processes.deploy import deploy_file
    from app.processes.running import start_process
    from app.processes import instances
    (tmp_path / "invoiceBusinessDecisions.dmn").write_bytes(INVOICE_DMN)
    bpmn = tmp_path / "classify.bpmn"
    bpmn.write_bytes(doc(rule_task('camunda:decisionRef="invoiceClassification" camunda:resultVariable="category" '
                                   'camunda:mapDecisionResult="singleEntry"')))
    (outcome,) = deploy_file(bpmn, forms_dir=str(tmp_path))
    assert not outcome.problems, [str(p) for p in outcome.problems]
    instance, _ = start_process("p", {"amount": amount, "invoiceCategory": category}, None)
    db.session.expire_all()
    assert instance.status == "completed"
    assert instances.instance_details(instance)["data"]["category"] == expected


def test_a_read_only_field_cannot_be_changed_on_submit():
    from app.taskforms.validation import FormValidator
    form = ('<camunda:formData><camunda:formField id="caseNo" label="案件编号" type="string" defaultValue="JM-1">'
            '<camunda:validation><camunda:constraint name="readonly" /></camunda:validation></camunda:formField>'
            '</camunda:formData>')
    process = ok(doc(user_task(ext=form)))
    validator = FormValidator(process.generated_forms[process.tasks["t"].properties["formJsonSchemaFilename"]])
    assert validator.errors({"caseNo": "JM-1"}) == {}
    assert "caseNo" in validator.errors({"caseNo": "JM-2"})


def test_the_structure_check_reads_implicit_ends_and_id_less_flows_as_camunda_does():
    from app.engine import check_structure
    path = CORPUS / "form_types" / "FormDataTest.testGetFormFieldBuiltInTypes.bpmn"
    assert check_structure(path.name, path.read_bytes()) == []
    spiff = path.read_bytes().replace(b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', b"").replace(
        b'camunda:candidateGroups="dummy"', b"")
    spiff = b"\n".join(line for line in spiff.split(b"\n") if b"camunda:" not in line)
    assert any("结束事件" in p.message for p in check_structure(path.name, spiff))   # BPMN's letter elsewhere
