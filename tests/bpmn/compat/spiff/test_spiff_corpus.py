"""Diagrams from SpiffWorkflow's own tests (see README.md here), as a designer brings them: each model
deploys and is driven to its end through the services (deploy, start, complete tasks), or is refused at
deploy with a located Chinese reason. None fails at run time."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent

# (files of one model, start data, the processes deployed, what the end data holds)
RUNS = [
    (["call_activity_end_event.bpmn", "call_activity_call_activity.bpmn"], {}, ["Process_8200379"],
     {"pre_var": "some string", "my_var": "World", "my_other_var": "Mike"}),
    (["io_spec_parent.bpmn", "io_spec.bpmn"], {}, ["parent"], {"out_1": 2, "out_2": "HELLO WORLD"}),
    (["event-subprocess.bpmn"], {}, ["main"], {}),
    (["ScriptTest.bpmn"], {}, ["Process_1l85e0n"], {}),
    # its gateway reads NeedClarification, which SpiffWorkflow's test sets: here the start data brings it
    (["Approvals.bpmn"], {}, ["Approvals"], {}),
    (["ParallelOrder.bpmn"], {}, ["ParallelOrder"], {}),
    (["exclusive_gateway_no_default.bpmn"], {"x": 2}, ["NoDefaultGateway"], {}),
]

# (files, [(file, line, element, what the reason says)])
REFUSED = [
    # its user tasks name Camunda forms by formKey, which cannot be shown here (app/engine/camunda.py)
    (["transaction.bpmn"],
     [("transaction.bpmn", 13, "Activity_Get_Data", "camunda:formKey=“FirstTaskForm”"),
      ("transaction.bpmn", 22, "Activity_Get_Quantity", "camunda:formKey=“SecondTaskForm”")]),
    (["lanes.bpmn"],
     [("lanes.bpmn", 28, "Activity_A1", "camunda:formKey=“Feature Request”"),
      ("lanes.bpmn", 37, "Activity_B1", "camunda:formKey=“Clarification”"),
      ("lanes.bpmn", 40, "Activity_B1", "NeedClarification"),   # a boolean whose default is "No"
      ("lanes.bpmn", 46, "Activity_A2", "camunda:formKey=“Clarification”")]),
    (["single_call_activity.bpmn"],
     [("single_call_activity.bpmn", 12, "Activity_0q1z4d4", "调用的流程 SingleTask_Process 不存在")]),
    (["multiple_call_activities.bpmn"],
     [("multiple_call_activities.bpmn", 8, "Activity_185dcnc", "调用的流程 Process_sypm122 不存在"),
      ("multiple_call_activities.bpmn", 13, "Activity_0rsppq2", "调用的流程 Process_diu8ta2 不存在"),
      ("multiple_call_activities.bpmn", 22, "Activity_0d5dido", "调用的流程 Process_l14lar1 不存在")]),
    (["nested_call_activity.bpmn"],
     [("nested_call_activity.bpmn", 15, "Activity_0f25k4g", "调用的流程 is_this_missing 不存在"),
      ("nested_call_activity.bpmn", 40, "Activity_00etcsd", "调用的流程 set_permissions_process 不存在")]),
]


@pytest.fixture
def admin(app, db):
    from app.auth.models import User
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])
    return db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()


def _deploy(files):
    from app.processes.deploy import deploy_model
    return deploy_model([HERE / name for name in files], message="compat", forms_dir=str(HERE))


def _run_to_end(key, data, admin, db):
    """Start the process and complete every task it offers, until it ends; the instance at the end."""
    from app.processes.models import ProcessInstance
    from app.processes.running import start_process
    from app.tasks import services as tasks
    from app.tasks.models import HumanTask, TaskStatus
    instance, _ = start_process(key, data, None)
    for _ in range(50):
        ready = db.session.execute(db.select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)
            .order_by(HumanTask.id)).scalars().all()
        if not ready:
            break
        tasks.complete_task(ready[0].id, {}, admin)
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance.id)


@pytest.mark.parametrize("files, data, keys, expected", RUNS, ids=[r[0][0] for r in RUNS])
def test_each_diagram_runs_to_its_end(app, db, admin, files, data, keys, expected):
    from app.processes.models import InstanceStatus
    from app.processes.versions import get_bundle, get_latest_definition
    outcomes = _deploy(files)
    assert not [p for o in outcomes for p in o.problems], [str(p) for o in outcomes for p in o.problems]
    assert sorted(o.key for o in outcomes if o.key) == sorted(keys)
    for key in keys:
        instance = _run_to_end(key, data, admin, db)
        assert instance.status == InstanceStatus.COMPLETED, (instance.status, instance.error_message)
        assert instance.error_message is None
        from app import engine
        end = engine.read(get_bundle(get_latest_definition(key).id).process, instance.id, instance.rev,
                          _state(instance))
        for name, value in expected.items():
            assert end["data"].get(name) == value, (name, end["data"])


def _state(instance):
    from app.processes.running import state_loader
    return state_loader(instance)


@pytest.mark.parametrize("files, reasons", REFUSED, ids=[r[0][0] for r in REFUSED])
def test_what_cannot_run_is_refused_at_deploy_with_a_located_reason(app, db, files, reasons):
    from app.processes.models import ProcessDefinition
    outcomes = _deploy(files)
    problems = [p for o in outcomes for p in o.problems]
    assert [(p.file, p.line, p.element_id) for p in problems] == [(f, line, e) for f, line, e, _ in reasons], \
        [str(p) for p in problems]
    for problem, (_, _, _, needle) in zip(problems, reasons):
        assert needle in problem.message
        assert "调用活动" in problem.message or "formKey" in needle or needle == "NeedClarification"
    assert db.session.execute(db.select(ProcessDefinition)).first() is None


def test_the_corpus_readme_lists_every_file_with_its_origin():
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    for path in HERE.glob("*.bpmn"):
        assert f"`{path.name}`" in readme, path.name
    assert "LGPL-3.0" in readme
