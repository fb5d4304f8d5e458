"""Camunda 7 diagrams written by others (see README.md here), each driven through the services:
deployed, started, its tasks claimed and completed with form data validated by the form generated
from its camunda:formData, to its end; or refused at deploy with a located reason. None fails at run
time with a raw error."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

CORPUS = Path(__file__).parent
CST = timezone(timedelta(hours=8))


def _deploy(case: str, name: str):
    from app.processes.deploy import deploy_file
    (outcome,) = deploy_file(CORPUS / case / name, forms_dir=str(CORPUS))
    assert not outcome.problems, [str(p) for p in outcome.problems]
    return outcome


def _refusals(case: str, name: str) -> list:
    from app.processes.deploy import deploy_file
    from app.processes.models import ProcessDefinition
    from app.extensions import db
    (outcome,) = deploy_file(CORPUS / case / name, forms_dir=str(CORPUS))
    assert outcome.problems and outcome.key is None
    assert db.session.execute(sa.select(sa.func.count(ProcessDefinition.id))).scalar() == 0
    for problem in outcome.problems:   # located: file, line and element
        assert problem.file and problem.line and problem.element_id, str(problem)
    return outcome.problems


def _user(username: str, groups: tuple[str, ...] = (), admin: bool = False):
    from app.auth import services as auth
    from app.auth.models import GroupKind
    from app.extensions import db
    members = [auth.ensure_group(g, g) for g in groups]
    if admin:
        members.append(auth.ensure_group("admin", "管理员", GroupKind.ROLE))
    user, _ = auth.create_or_update_user(username, "demo12345", username, members)
    db.session.commit()
    return user


def _ready(instance_id: int) -> list:
    from app.extensions import db
    from app.tasks.models import HumanTask
    db.session.expire_all()
    return db.session.execute(sa.select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.status == "ready")
                              .order_by(HumanTask.id)).scalars().all()


def _instance(instance_id: int):
    from app.extensions import db
    from app.processes.models import ProcessInstance
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance_id)


def _do(task, user, data=None):
    from app.tasks import services
    if task.assignee_id is None:
        services.claim_task(task.id, user)
    services.complete_task(task.id, data or {}, user)


def _data(instance_id: int) -> dict:
    from app.processes import instances
    return instances.instance_details(_instance(instance_id))["data"]


def _form_errors(task, user, data) -> dict:
    from app.errors import FormInvalid
    from app.tasks import services
    with pytest.raises(FormInvalid) as caught:
        services.complete_task(task.id, data, user)
    return caught.value.fields


# --- runnable --------------------------------------------------------------------------------------

def test_formdata_validation_constraints_become_the_task_form_and_are_enforced(app):
    from app.processes.running import start_process
    from app.processes.versions import get_bundle, get_latest_definition
    _deploy("form_constraints", "FormDataTest.testGetFormFieldValidationConstraints.bpmn")
    key = "FormDataTest.testGetFormFieldValidationConstraints"
    worker = _user("worker", ("dummy",))
    bundle = get_bundle(get_latest_definition(key).id)
    form = bundle.forms[bundle.meta["tasks"]["usertask"]["form"]]
    assert form["properties"]["stringField"] == {"type": "string", "title": "String Field", "minLength": 5,
                                                 "maxLength": 10, "default": "someString"}
    instance, _ = start_process(key, {}, worker)
    (task,) = _ready(instance.id)
    assert task.candidate_groups == ["dummy"] and task.form == bundle.meta["tasks"]["usertask"]["form"]
    assert "stringField" in _form_errors(task, worker, {"stringField": "abc"})            # minlength 5
    assert "stringField" in _form_errors(task, worker, {"stringField": "abcdefghijkl"})   # maxlength 10
    assert "other" in _form_errors(task, worker, {"other": "x"})                          # not in the form
    _do(task, worker, {"stringField": "hello"})
    assert _instance(instance.id).status == "completed"
    assert _data(instance.id)["stringField"] == "hello"


def test_formdata_builtin_types_string_long_boolean_date_enum(app):
    from app.processes.running import start_process
    from app.processes.versions import get_bundle, get_latest_definition
    key = "FormDataTest.testGetFormFieldBuiltInTypes"
    _deploy("form_types", "FormDataTest.testGetFormFieldBuiltInTypes.bpmn")
    worker = _user("worker", ("dummy",))
    bundle = get_bundle(get_latest_definition(key).id)
    props = bundle.forms[bundle.meta["tasks"]["usertask"]["form"]]["properties"]
    assert props["longField"] == {"type": "integer", "title": "Long Field", "default": 1}
    assert props["booleanField"] == {"type": "boolean", "title": "Boolean Field", "default": True}
    assert props["dateField"] == {"type": "string", "title": "Date Field", "format": "date",
                                  "default": "2013-01-10"}   # Camunda's dd/MM/yyyy default, as ISO
    assert props["enumField"]["oneOf"] == [{"const": "a", "title": "A"}, {"const": "b", "title": "B"},
                                           {"const": "c", "title": "C"}]
    instance, _ = start_process(key, {}, worker)
    (task,) = _ready(instance.id)
    errors = _form_errors(task, worker, {"longField": "many", "booleanField": "yes", "dateField": "31/12/2026",
                                         "enumField": "z"})
    assert set(errors) == {"longField", "booleanField", "dateField", "enumField"}
    _do(task, worker, {"longField": 7, "booleanField": False, "dateField": "2026-12-31", "enumField": "b"})
    data = _data(instance.id)
    assert _instance(instance.id).status == "completed"
    assert (data["longField"], data["booleanField"], data["dateField"], data["enumField"], data["stringField"]) \
        == (7, False, "2026-12-31", "b", "someString")


@pytest.mark.parametrize("value, task_id", [(1, "theTask1"), (2, "theTask2"), (3, "theTask3")])
def test_juel_gateway_conditions_choose_the_path(app, value, task_id):
    from app.processes.running import start_process
    _deploy("gateway_juel", "ExclusiveGatewayTest.testDecisionFunctionality.bpmn")
    admin = _user("boss", admin=True)
    instance, _ = start_process("exclusiveGateway", {"input": value}, None)   # a system start with variables
    (task,) = _ready(instance.id)
    assert task.bpmn_id == task_id
    _do(task, admin)
    assert _instance(instance.id).status == "completed"


def test_juel_gateway_without_its_variable_stops_with_a_located_error_not_a_raw_one(app):
    from app.errors import ProcessDefinitionError
    from app.processes.running import start_process
    _deploy("gateway_juel", "ExclusiveGatewayTest.testDecisionFunctionality.bpmn")
    with pytest.raises(ProcessDefinitionError) as caught:
        start_process("exclusiveGateway", {}, None)
    assert "input" in caught.value.message and "Traceback" not in caught.value.message


def test_multi_instance_over_a_collection_assigns_each_element_in_turn(app):
    from app.processes.running import start_process
    _deploy("mi_collection", "MultiInstanceTest.testParallelUserTasksCustomExtensions.bpmn")
    users = {name: _user(name) for name in ("kermit", "gonzo", "fozzie")}
    instance, _ = start_process("miSequentialUserTasks", {"assigneeList": ["kermit", "gonzo", "fozzie"]}, None)
    seen = []
    for _ in range(3):   # isSequential="true": one task at a time, assigned to ${assignee}
        (task,) = _ready(instance.id)
        holder = next(u for u in users.values() if u.id == task.assignee_id)
        seen.append(holder.username)
        _do(task, holder)
    assert seen == ["kermit", "gonzo", "fozzie"]
    assert _instance(instance.id).status == "completed"


def test_business_rule_task_with_decision_ref_single_entry(app):
    from app.processes.running import start_process
    _deploy("dmn_single_entry", "DmnBusinessRuleTaskTest.testDecisionRef.bpmn")
    instance, _ = start_process("testProcess", {}, None)
    assert _instance(instance.id).status == "completed"
    assert _data(instance.id)["result"] == "okay"


@pytest.mark.parametrize("value, expected", [
    ("multiple entries list", [{"result1": "foo", "result2": "bar"}, {"result1": "foo", "result2": "bar"}]),
    ("single entry", [{"result1": "foo", "result2": ""}]),
    ("no rule for this", []),
])
def test_business_rule_task_result_list_with_rule_order(app, value, expected):
    from app.processes.running import start_process
    _deploy("dmn_result_list", "DmnBusinessRuleTaskResultMappingTest.testResultList.bpmn")
    instance, _ = start_process("testProcess", {"input": value}, None)
    assert _instance(instance.id).status == "completed"
    assert _data(instance.id)["result"] == expected


def test_input_output_mapping_runs_before_and_after_the_task(app):
    from app.processes.running import start_process
    _deploy("io_mapping", "oneTaskProcessWithIoMappings.bpmn")
    admin = _user("boss", admin=True)
    instance, _ = start_process("ioMappingProcess", {}, None)
    (task,) = _ready(instance.id)
    assert _data(instance.id).get("inputMappingExecuted") is True
    assert "outputMappingExecuted" not in _data(instance.id)
    _do(task, admin)
    assert _instance(instance.id).status == "completed"
    assert _data(instance.id)["outputMappingExecuted"] is True


def test_one_candidate_user_gets_the_task_and_nobody_else_may_do_it(app):
    from app.errors import Forbidden
    from app.processes.running import start_process
    from app.tasks import services
    _deploy("candidate_user", "OneTaskProcessWithCandidateUser.bpmn")
    demo, other = _user("demo"), _user("other")
    instance, _ = start_process("oneTaskProcessForHistoricIdentityLinkWithCanidateUser", {}, None)
    (task,) = _ready(instance.id)
    assert task.assignee_id == demo.id
    with pytest.raises(Forbidden):
        services.complete_task(task.id, {}, other)
    _do(task, demo)
    assert _instance(instance.id).status == "completed"


@pytest.mark.parametrize("value, due", [("P2D", timedelta(days=2)), ("PT4H", timedelta(hours=4)),
                                        ("2027-03-05T17:00:00+08:00", timedelta(days=2, hours=7))])
def test_due_date_from_a_variable_holding_an_iso_duration_or_date_time(app, clock, value, due):
    from app.processes.running import start_process
    _deploy("due_date", "TaskDueDateExtensionsTest.testRelativeDueDate.bpmn")
    admin = _user("boss", admin=True)
    now = datetime(2027, 3, 3, 10, 0, tzinfo=CST)   # a Wednesday
    clock.set(now)
    instance, _ = start_process("dueDateExtension", {"dateVariable": value}, None)
    (task,) = _ready(instance.id)
    due_at = task.due_at if task.due_at.tzinfo else task.due_at.replace(tzinfo=timezone.utc)
    assert due_at == now + due
    _do(task, admin)
    assert _instance(instance.id).status == "completed"


# --- refused at deploy, with the element, the line and why --------------------------------------------

def test_invoice_is_refused_for_its_java_delegate_forms_listeners_and_decision_graph(app):
    problems = _refusals("refused_invoice", "invoice.v2.bpmn")
    by_element = {}
    for p in problems:
        by_element.setdefault(p.element_id, []).append(p)
    (archive,) = by_element["ServiceTask_1"]
    assert "camunda:class" in archive.message and "spiffworkflow:serviceTaskOperator" in archive.message
    assert "连接器" in archive.message and archive.line == 79
    assert any("camunda:taskListener" in p.message for p in by_element["approveInvoice"])
    assert any("formKey" in p.message for p in by_element["StartEvent_1"])
    (graph,) = by_element["invoice-assign-approver"]
    assert graph.file == "invoiceBusinessDecisions.dmn" and "requiredDecision" in graph.message


def test_review_invoice_is_refused_for_its_embedded_forms(app):
    problems = _refusals("refused_invoice", "reviewInvoice.bpmn")
    assert {p.element_id for p in problems} == {"assignReviewer", "reviewInvoice"}
    assert all("formKey" in p.message for p in problems)


def test_java_delegates_are_refused_with_a_pointer_to_connectors(app):
    problems = _refusals("refused_retry", "retry-example.bpmn")
    assert [p.element_id for p in problems] == ["service-fetch-data", "service-fetch-address",
                                                "service-send-data", "service-add-address"]
    assert all("camunda:class" in p.message and "连接器" in p.message for p in problems)


def test_generated_forms_example_is_refused_for_its_service_expression_and_html_form(app):
    problems = _refusals("refused_generated_forms", "fox-invoice_generated_forms.bpmn")
    messages = {p.element_id: p.message for p in problems}
    assert "camunda:expression" in messages["saveInvoiceToSVN"] and "连接器" in messages["saveInvoiceToSVN"]
    assert "formKey" in messages["approveInvoice"]


def test_a_bean_call_as_collection_is_refused(app):
    (problem,) = _refusals("refused_bean_collection",
                           "MultiInstanceTest.testParallelUserTasksBasedOnCollectionExpression.bpmn")
    assert problem.element_id == "miTasks" and "camunda:collection" in problem.message


def test_several_candidate_users_are_refused(app):
    (problem,) = _refusals("refused_candidate_users", "OneTaskProcessWithMultipleCandidateUser.bpmn")
    assert problem.element_id == "theTask" and "candidateGroups" in problem.message


def test_old_form_properties_are_refused(app):
    (problem,) = _refusals("refused_form_property",
                           "FullHistoryTest.testHistoricFormPropertiesOnReEnteringActivity.bpmn")
    assert problem.element_id == "task1" and "camunda:formData" in problem.message


def test_every_file_of_the_corpus_is_covered_by_a_test():
    named = set()
    for line in Path(__file__).read_text(encoding="utf-8").splitlines():
        named.update(part for part in line.replace('"', " ").split() if part.endswith((".bpmn", ".bpmn\",")))
    files = {p.name for p in CORPUS.glob("*/*.bpmn")}
    assert files <= {n.rstrip(",") for n in named}, files - named


def test_every_file_of_the_corpus_has_its_origin_in_the_readme():
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    files = [p for p in CORPUS.glob("*/*") if p.suffix in (".bpmn", ".dmn")]
    assert len(files) == 19
    missing = [f"{p.parent.name}/{p.name}" for p in files if f"`{p.parent.name}/{p.name}`" not in readme]
    assert missing == []
