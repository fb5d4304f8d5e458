"""Fixtures of the designer tests: demo users, the fixture forms, diagrams written on the fly."""
from __future__ import annotations

import pytest

from tests.conftest import FIXTURES

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
          'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
          'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">\n')


def user_task(task_id: str, name: str, group: str = "intake", form: str = "note.schema.json",
              extra_props: str = "") -> str:
    return (f'    <bpmn:userTask id="{task_id}" name="{name}">\n'
            f'      <bpmn:extensionElements><spiffworkflow:properties>\n'
            f'        <spiffworkflow:property name="candidateGroups" value="{group}" />\n'
            f'        <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />{extra_props}\n'
            f'      </spiffworkflow:properties></bpmn:extensionElements>\n'
            f'    </bpmn:userTask>\n')


def linear(key: str, tasks: list[tuple[str, str]], *, name: str = "设计器测试", timer_on: str | None = None,
           timer: str = '"P30D"', shapes: str = "") -> str:
    """start -> the user tasks in order -> end; optionally an interrupting boundary timer on one task."""
    ids = ["start", *[t for t, _ in tasks], "end"]
    body = ['    <bpmn:startEvent id="start" name="开始" />\n']
    body += [user_task(task_id, task_name) for task_id, task_name in tasks]
    body.append('    <bpmn:endEvent id="end" name="办结" />\n')
    body += [f'    <bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}" />\n'
             for a, b in zip(ids, ids[1:])]
    if timer_on:
        body.append(f'    <bpmn:boundaryEvent id="{timer_on}_deadline" name="超时" attachedToRef="{timer_on}" '
                    f'cancelActivity="true"><bpmn:timerEventDefinition><bpmn:timeDuration>{timer}'
                    f'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n'
                    f'    <bpmn:endEvent id="end_timeout" name="超时办结" />\n'
                    f'    <bpmn:sequenceFlow id="f_timeout" sourceRef="{timer_on}_deadline" targetRef="end_timeout" />\n')
    return (HEADER + f'  <bpmn:process id="{key}" name="{name}" isExecutable="true">\n' + "".join(body)
            + '  </bpmn:process>\n' + shapes + '</bpmn:definitions>\n')


@pytest.fixture
def users(app, db):
    """The demo groups and users (designer, admin, supervisor, intake1, ...)."""
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])


@pytest.fixture
def fixture_forms(app, monkeypatch):
    """Forms come from tests/fixtures/forms (note.schema.json) for whatever reads FORMS_DIR."""
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FIXTURES / "forms"))
    return str(FIXTURES / "forms")


def user(username: str):
    from app.auth.services import get_user_by_username
    return get_user_by_username(username)
