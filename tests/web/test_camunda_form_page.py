"""A Camunda 7 diagram's camunda:formData, generated into a JSON Schema form at deploy, is the task page
a caseworker fills in: its labels as written, its types as inputs, its constraints enforced at the field."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

CORPUS = Path(__file__).resolve().parent.parent / "bpmn" / "compat" / "camunda"
KEY = "FormDataTest.testGetFormFieldBuiltInTypes"


def _task(db):
    from app.auth import services as auth
    from app.processes.deploy import deploy_file
    from app.processes.running import start_process
    from app.tasks.models import HumanTask
    (outcome,) = deploy_file(CORPUS / "form_types" / f"{KEY}.bpmn", forms_dir=str(CORPUS))
    assert not outcome.problems
    auth.create_or_update_user("worker", "demo12345", "经办人 小王", [auth.ensure_group("dummy", "测试组")])
    db.session.commit()
    instance, _ = start_process(KEY, {}, None)
    return instance, db.session.execute(sa.select(HumanTask).where(HumanTask.instance_id == instance.id)).scalar_one()


def test_the_generated_form_is_the_task_page_and_its_rules_hold_at_the_fields(app, db, browser):
    from app.processes.models import ProcessInstance
    instance, task = _task(db)
    browser.login("worker")
    html = browser.text(browser.get(f"/tasks/{task.id}"))
    for label in ("String Field", "Long Field", "Boolean Field", "Date Field", "Enum Field"):
        assert label in html
    assert 'type="date"' in html and 'value="2013-01-10"' in html and 'value="someString"' in html
    assert html.index("String Field") < html.index("Long Field") < html.index("Enum Field")   # as written
    assert browser.post(f"/tasks/{task.id}/claim").status_code in (302, 303)
    bad = browser.post(f"/tasks/{task.id}", {"action": "complete", "stringField": "文本", "longField": "许多",
                                              "booleanField": "true", "dateField": "2026-12-31", "enumField": "b"})
    assert bad.status_code == 422
    block = browser.text(bad).split('id="f_longField-wrap"', 1)[1].split('-wrap"', 1)[0]
    assert "整数" in block and 'value="许多"' in browser.text(bad)   # the reason at the field; the input kept
    done = browser.post(f"/tasks/{task.id}", {"action": "complete", "stringField": "文本", "longField": "12",
                                               "booleanField": "false", "dateField": "2026-12-31",
                                               "enumField": "b"})
    assert done.status_code == 303, browser.text(done)[:3000]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance.id).status == "completed"
