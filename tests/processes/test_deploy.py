"""Deploy: versioned by content, parsed once, every problem named with file, element and line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PROJECT

PROC = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="x">
  <bpmn:process id="{key}" name="测试" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" name="计算">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="review" name="{task_name}">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidateGroups" value="intake" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="review" />
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def write(folder: Path, name: str, key="simple", script="x = 1", task_name="审核") -> Path:
    path = folder / name
    path.write_text(PROC.format(key=key, script=script, task_name=task_name), encoding="utf-8")
    return path


def versions(key):
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    return [d.version for d in db.session.execute(
        db.select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version))
        .scalars()]


def test_unchanged_file_makes_no_new_version_and_a_change_does(app, tmp_path):
    from app.processes.deploy import deploy_file
    path = write(tmp_path, "simple.bpmn")
    first = deploy_file(path, forms_dir=str(tmp_path))
    assert (first[0].key, first[0].version, first[0].created) == ("simple", 1, True)
    again = deploy_file(path, forms_dir=str(tmp_path))
    assert (again[0].version, again[0].created) == (1, False)
    write(tmp_path, "simple.bpmn", task_name="复核")
    changed = deploy_file(path, forms_dir=str(tmp_path))
    assert (changed[0].version, changed[0].created) == (2, True)
    assert versions("simple") == [1, 2]


def test_a_changed_form_makes_a_new_version_and_the_old_one_keeps_its_snapshot(app, tmp_path):
    from app.processes.deploy import deploy_file
    from app.processes.versions import get_bundle
    forms = tmp_path / "forms"
    forms.mkdir()
    shutil.copy(FIXTURES / "forms" / "note.schema.json", forms / "note.schema.json")
    shutil.copy(FIXTURES / "bpmn" / "script_error.bpmn", tmp_path / "script_error.bpmn")
    v1 = deploy_file(tmp_path / "script_error.bpmn", forms_dir=str(forms))[0]
    (forms / "note.schema.json").write_text('{"type": "object", "properties": {"note": {"type": "string"}}}')
    v2 = deploy_file(tmp_path / "script_error.bpmn", forms_dir=str(forms))[0]
    assert (v1.version, v2.version, v2.created) == (1, 2, True)
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    rows = db.session.execute(db.select(ProcessDefinition).order_by(ProcessDefinition.version)).scalars().all()
    assert rows[0].forms["note.schema.json"]["required"] == ["note"]
    assert "required" not in rows[1].forms["note.schema.json"]
    assert get_bundle(rows[0].id).process is not get_bundle(rows[1].id).process


def test_spec_is_parsed_once_per_version(app, tmp_path):
    from app.engine import definitions
    from app.processes.deploy import deploy_file
    from app.processes.versions import get_bundle
    write(tmp_path, "simple.bpmn")
    deploy_file(tmp_path / "simple.bpmn", forms_dir=str(tmp_path))
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    row = db.session.execute(db.select(ProcessDefinition)).scalar_one()
    calls = []
    original = definitions.parse_bpmn
    definitions.parse_bpmn = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        first = get_bundle(row.id).process
        for _ in range(5):
            assert get_bundle(row.id).process is first
    finally:
        definitions.parse_bpmn = original
    assert len(calls) == 1


def test_malformed_xml_names_file_and_line_and_deploys_nothing_of_it(app, tmp_path):
    from app.processes.deploy import deploy_folder
    write(tmp_path, "a_good.bpmn", key="good")
    bad = tmp_path / "b_broken.bpmn"
    bad.write_text(PROC.format(key="broken", script="x = 1", task_name="审核").replace(
        "</bpmn:userTask>", "</bpmn:userTsk>"), encoding="utf-8")
    outcomes = deploy_folder(tmp_path)
    by_file = {o.file: o for o in outcomes}
    assert by_file["a_good.bpmn"].created and not by_file["a_good.bpmn"].problems
    problems = by_file["b_broken.bpmn"].problems
    assert len(problems) == 1
    assert problems[0].file == "b_broken.bpmn" and problems[0].line == 14
    assert "XML" in problems[0].message and "第 14 行" in str(problems[0])
    assert versions("broken") == [] and versions("good") == [1]


@pytest.mark.parametrize("script, needle", [
    ("import os", "import"),
    ("x = __import__('os')", "__import__"),
    ("data = open('/etc/passwd').read()", "open"),
    ("k = ().__class__.__base__.__subclasses__()", "下划线"),
])
def test_a_dangerous_script_is_refused_at_deploy_with_element_and_line(app, tmp_path, script, needle):
    from app.processes.deploy import deploy_file
    path = write(tmp_path, "danger.bpmn", key="danger", script=script)
    outcome = deploy_file(path, forms_dir=str(tmp_path))[0]
    assert outcome.key is None and outcome.problems
    problem = outcome.problems[0]
    assert problem.element_id == "calc" and problem.line == 7
    assert needle in problem.message or needle in str(problem)
    assert versions("danger") == []


def test_every_problem_is_listed_at_once(app, tmp_path):
    from app.processes.deploy import deploy_file
    text = PROC.format(key="multi", script="import os", task_name="审核").replace(
        '<spiffworkflow:property name="candidateGroups" value="intake" />',
        '<spiffworkflow:property name="formJsonSchemaFilename" value="missing.json" />')
    text = text.replace('<bpmn:sequenceFlow id="f3"', '<bpmn:sequenceFlow id="f3x" sourceRef="start" '
                        'targetRef="end"><bpmn:conditionExpression>x = = 1</bpmn:conditionExpression>'
                        '</bpmn:sequenceFlow>\n    <bpmn:sequenceFlow id="f3"')
    (tmp_path / "multi.bpmn").write_text(text, encoding="utf-8")
    problems = deploy_file(tmp_path / "multi.bpmn", forms_dir=str(tmp_path))[0].problems
    elements = sorted(p.element_id or "" for p in problems)
    assert "calc" in elements and "f3x" in elements and "review" in elements, [str(p) for p in problems]


def test_external_entities_are_refused(app, tmp_path):
    from app.processes.deploy import deploy_file
    text = PROC.format(key="xxe", script="x = 1", task_name="&xxe;").replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
    (tmp_path / "xxe.bpmn").write_text(text, encoding="utf-8")
    problems = deploy_file(tmp_path / "xxe.bpmn", forms_dir=str(tmp_path))[0].problems
    assert problems and "DOCTYPE" in problems[0].message
    assert versions("xxe") == []


def test_shipped_diagrams_validate(app):
    from app.processes.deploy import validate_file
    for path in sorted((PROJECT / "bpmn").glob("*.bpmn")):
        assert validate_file(path) == [], path


def test_lanes_map_to_groups_and_candidate_groups_override(app):
    from app.processes.deploy import deploy_folder
    from app.processes.versions import get_bundle
    from app.seed import seed_demo_users
    seed_demo_users("demo12345")
    outcome = [o for o in deploy_folder() if o.key == "complaint"][0]
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    row = db.session.execute(db.select(ProcessDefinition).where(ProcessDefinition.key == "complaint")).scalar_one()
    tasks = get_bundle(row.id).meta["tasks"]
    assert outcome.created
    assert tasks["register"]["candidate_groups"] == ["intake"]       # lane 受理员 -> group intake
    assert tasks["callback"]["candidate_groups"] == ["callback"]
    deploy_fixture_outcome = deploy_timer()
    assert deploy_fixture_outcome


def deploy_timer():
    from tests.conftest import deploy_fixture
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    from app.processes.versions import get_bundle
    deploy_fixture("timer_escalation.bpmn")
    row = db.session.execute(db.select(ProcessDefinition).where(
        ProcessDefinition.key == "timer_escalation")).scalar_one()
    meta = get_bundle(row.id).meta
    assert meta["tasks"]["escalate"]["candidate_groups"] == ["supervisor"]   # property, no lane
    assert meta["has_timers"] is True
    return True


def test_camunda_attributes_are_read(app, tmp_path):
    from app.processes.deploy import deploy_file
    from app.processes.versions import get_bundle
    text = PROC.format(key="cam", script="x = 1", task_name="审核").replace(
        'xmlns:spiffworkflow=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:spiffworkflow=').replace(
        '<bpmn:userTask id="review" name="审核">',
        '<bpmn:userTask id="review" name="审核" camunda:assignee="intake1" camunda:priority="80">').replace(
        '<spiffworkflow:property name="candidateGroups" value="intake" />', '').replace(
        '<bpmn:process id="cam"', '<bpmn:process camunda:candidateStarterGroups="dispatch" id="cam"')
    text = text.replace('<bpmn:userTask id="review" name="审核" camunda:assignee="intake1" camunda:priority="80">',
                        '<bpmn:userTask id="review" name="审核" camunda:assignee="intake1" camunda:priority="80" '
                        'camunda:candidateGroups="handler,callback">')
    (tmp_path / "cam.bpmn").write_text(text, encoding="utf-8")
    outcome = deploy_file(tmp_path / "cam.bpmn", forms_dir=str(tmp_path))[0]
    assert not outcome.problems, [str(p) for p in outcome.problems]
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    row = db.session.execute(db.select(ProcessDefinition).where(ProcessDefinition.key == "cam")).scalar_one()
    meta = get_bundle(row.id).meta
    assert meta["tasks"]["review"]["candidate_groups"] == ["handler", "callback"]
    assert meta["tasks"]["review"]["assignee"] == "intake1"
    assert meta["tasks"]["review"]["priority"] == 80
    assert meta["starter_groups"] == ["dispatch"]


def test_a_doctype_behind_a_long_comment_is_refused_too(app, tmp_path):
    """Not only the file's head: the parsed document's DOCTYPE is checked (deploy, validate, diff)."""
    from app.designer.diff import DiffError, parse_document
    from app.processes.deploy import deploy_file
    text = PROC.format(key="late_dtd", script="x = 1", task_name="审核").replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?>\n<!--' + "x" * 5000 + '-->\n'
        '<!DOCTYPE d PUBLIC "-//x//y" "http://example.com/x.dtd">')
    assert text.upper().index("<!DOCTYPE") > 4096
    (tmp_path / "late.bpmn").write_text(text, encoding="utf-8")
    problems = deploy_file(tmp_path / "late.bpmn", forms_dir=str(tmp_path))[0].problems
    assert problems and "DOCTYPE" in problems[0].message
    assert versions("late_dtd") == []
    with pytest.raises(DiffError, match="DOCTYPE"):
        parse_document(text)
