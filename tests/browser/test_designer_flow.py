"""A process designer in a real browser: open the shipped complaint process in the modeler, rename
the 登记建档 task and change its dueIn in the 五邑流程 properties, see a bad value highlighted by
the server's validation, fix it, validate, deploy with a message; a case started before stays on
the old version while a new case runs on the new one; the versions page counts them and the diff
page lists the renamed task as changed. Also the form workbench's live preview and sample check."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, PROJECT
from tests.samples import START

NEW_NAME = "登记建档（新版）"


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"designer-{name}.png"), full_page=True)


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/tasks"))


def _start_case(server) -> dict:
    resp = server.api("POST", "/api/v1/process-definitions/complaint/start", "intake1", json={"data": START})
    assert resp.status_code == 201, resp.text
    return resp.json()["instance"]


def _instance(server, instance_id: int) -> dict:
    resp = server.api("GET", f"/api/v1/process-instances/{instance_id}", "admin")
    assert resp.status_code == 200, resp.text
    return resp.json()


def _open_group(page, group_id: str) -> None:
    header = page.locator(f'[data-group-id="group-{group_id}"] .bio-properties-panel-group-header')
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def _select(page, element_id: str) -> None:
    """Click the element on the canvas (clicking a selected element deselects it: start from none)."""
    page.click("#canvas", position={"x": 300, "y": 8})
    page.locator(f'.djs-element[data-element-id="{element_id}"]').first.click()
    page.wait_for_selector(f'.djs-element.selected[data-element-id="{element_id}"]')


def _xml(server, version: int) -> str:
    resp = server.api("GET", f"/api/v1/designer/processes/complaint/versions/{version}/xml", "designer")
    assert resp.status_code == 200
    return resp.text


def test_a_designer_changes_a_task_validates_deploys_and_compares(live_server, page):
    old_case = _start_case(live_server)
    assert old_case["process_version"] == 1
    base = live_server.url
    _login(page, base, "designer")

    page.click("nav.mainnav a:has-text('流程设计')")
    page.wait_for_url(re.compile(r"/designer$"))
    _shot(page, "00-index")
    page.locator('tr[data-key="complaint"] a:has-text("在设计器中打开")').click()
    page.wait_for_selector('.modeler-body[data-state="ready"]')
    assert page.locator("#modeler-status.error").count() == 0
    _shot(page, "01-modeler")

    # rename the task and give it a wrong time limit: the panel warns at the field
    _select(page, "register")
    name = page.locator("#bio-properties-panel-name")
    name.fill(NEW_NAME)
    _open_group(page, "wuyi")
    due = page.locator("#bio-properties-panel-wuyi-dueIn")
    assert due.input_value() == "1WD"
    assert page.locator("#bio-properties-panel-wuyi-formJsonSchemaFilename").input_value() == \
        "complaint/register.schema.json"
    due.fill("3 天")
    page.wait_for_selector('[data-entry-id="wuyi-dueIn"] .bio-properties-panel-error')
    _shot(page, "02-properties")

    # the server's validation lists the problem and highlights the element
    page.click("#btn-validate")
    page.wait_for_selector("#problems:not([hidden])")
    problem = page.locator('#problem-list button[data-element-id="register"]')
    assert problem.count() >= 1
    assert "dueIn" in page.locator("#problem-list").inner_text() or "时限" in page.locator("#problem-list").inner_text()
    assert page.locator('.djs-element.wuyi-problem[data-element-id="register"]').count() == 1
    assert page.locator(".wuyi-problem-badge").count() >= 1
    page.click("#canvas", position={"x": 300, "y": 8})   # select nothing, then let the problem select it
    problem.first.click()
    assert page.locator('.djs-element.selected[data-element-id="register"]').count() == 1
    _shot(page, "03-problems")

    # a deploy with the problem is refused with the same list
    page.fill("#deploy-message", "试部署")
    page.click("#btn-deploy")
    page.wait_for_selector("#modeler-status.error:has-text('未部署')")

    # fix it; undo/redo works through the command stack
    _open_group(page, "wuyi")
    due = page.locator("#bio-properties-panel-wuyi-dueIn")
    due.fill("2WD")
    page.wait_for_timeout(500)
    page.click("#btn-validate")
    page.wait_for_selector("#modeler-status.success:has-text('验证通过')")
    assert page.locator("#problems").is_hidden()
    assert page.locator(".djs-element.wuyi-problem").count() == 0
    _shot(page, "04-valid")

    # every edit is a command: undo brings the old value back, redo the new one
    _select(page, "register")
    page.keyboard.press("Control+z")
    # (a locator wait: a polled page function is an eval, which the CSP forbids)
    expect(page.locator("#bio-properties-panel-wuyi-dueIn")).to_have_value("3 天")
    page.keyboard.press("Control+y")
    expect(page.locator("#bio-properties-panel-wuyi-dueIn")).to_have_value("2WD")

    # download the edited file, save it as a draft
    with page.expect_download() as download:
        page.click("#btn-download")
    downloaded = download.value.path().read_text(encoding="utf-8")
    assert download.value.suggested_filename == "complaint.bpmn"
    assert f'name="{NEW_NAME}"' in downloaded and 'name="dueIn" value="2WD"' in downloaded
    page.click("#btn-draft")
    page.wait_for_selector("#modeler-status.success:has-text('草稿已保存')")
    draft = live_server.api("GET", "/api/v1/designer/drafts/complaint", "designer").json()
    assert draft["base_version"] == 1 and f'name="{NEW_NAME}"' in draft["xml"]

    # deploy: a message is required
    page.fill("#deploy-message", "")
    page.click("#btn-deploy")
    page.wait_for_selector("#modeler-status.error:has-text('请填写部署说明')")
    page.fill("#deploy-message", "登记建档改名，时限改为 2 个工作日")
    page.click("#btn-deploy")
    page.wait_for_selector("#modeler-status.success:has-text('第 2 版')")
    _shot(page, "05-deployed")

    # the stored version has exactly our change, everything else round-tripped
    v1, v2 = _xml(live_server, 1), _xml(live_server, 2)
    assert f'name="{NEW_NAME}"' in v2
    register = re.search(r'<bpmn:userTask id="register".*?</bpmn:userTask>', v2, re.S).group(0)
    assert '<spiffworkflow:property name="dueIn" value="2WD" />' in register
    assert "<spiffworkflow:instructionsForEndUser>### 登记建档" in register
    for tag in ("<spiffworkflow:property ", "<spiffworkflow:instructionsForEndUser>", "<spiffworkflow:calledDecisionId>",
                "<bpmn:timeDate", "<bpmn:conditionExpression"):
        assert v1.count(tag) == v2.count(tag), tag
    diff = live_server.api("GET", "/api/v1/designer/processes/complaint/diff?from=1&to=2", "designer").json()
    assert diff["summary"] == {"added": 0, "removed": 0, "changed": 1}, diff
    assert {c["field"] for c in diff["changed"][0]["changes"]} == {"name", "properties.dueIn"}

    # new cases run on version 2; the open case stays on version 1
    new_case = _start_case(live_server)
    assert new_case["process_version"] == 2
    assert [t["name"] for t in _instance(live_server, new_case["id"])["open_tasks"]] == [NEW_NAME]
    old = _instance(live_server, old_case["id"])
    assert old["process_version"] == 1 and [t["name"] for t in old["open_tasks"]] == ["登记建档"]

    # the versions page: author, message, one running case on each version
    page.click("#modeler-status a:has-text('查看版本')")
    page.wait_for_url(re.compile(r"/designer/processes/complaint/versions$"))
    row2, row1 = page.locator('tr[data-version="2"]'), page.locator('tr[data-version="1"]')
    assert "登记建档改名" in row2.inner_text() and "流程设计员 周设计" in row2.inner_text()
    assert row2.locator("td.running").inner_text() == "1" and row1.locator("td.running").inner_text() == "1"
    _shot(page, "06-versions")

    # the diff page lists the renamed task as changed
    row2.locator("a:has-text('对比上一版')").click()
    page.wait_for_url(re.compile(r"/diff\?to=2"))
    changed = page.locator('.diff-changed .diff-element[data-element-id="register"]')
    assert changed.count() == 1
    text = changed.inner_text()
    assert NEW_NAME in text and "登记建档" in text and "1WD" in text and "2WD" in text
    assert page.locator("#h-changed").inner_text() == "修改（1）"
    _shot(page, "07-diff")
    assert page.errors == []


def _download(page) -> str:
    with page.expect_download() as download:
        page.click("#btn-download")
    return download.value.path().read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["complaint.bpmn", "dispute_escalation.bpmn", "one_thing_transport.bpmn",
                                  "problem_list.bpmn"])
def test_every_shipped_diagram_round_trips_through_the_modeler(live_server, page, name):
    """Opened from bpmn/ and saved untouched, a diagram keeps every element, property, script,
    timer and multi-instance reference (Spiff reads loopDataInputRef as a variable name); it still
    validates."""
    from app.designer.diff import diff_bpmn
    _login(page, live_server.url, "designer")
    page.goto(f"{live_server.url}/designer/files/{name}/modeler")
    page.wait_for_selector('.modeler-body[data-state="ready"]')
    original = (PROJECT / "bpmn" / name).read_text(encoding="utf-8")
    saved = _download(page)
    assert diff_bpmn(original, saved)["summary"] == {"added": 0, "removed": 0, "changed": 0}
    for tag in ("<bpmn:loopDataInputRef>", "<bpmn:loopDataOutputRef>", "spiffworkflow:scriptsOnInstances",
                "<spiffworkflow:preScript>", "<spiffworkflow:postScript>"):
        assert original.count(tag) == saved.count(tag), tag
    resp = live_server.api("POST", "/api/v1/designer/validate", "designer", json={"xml": saved})
    assert resp.json() == {"valid": True, "problems": []}

    if name == "complaint.bpmn":   # a timer's expression is edited in the 定时器 group
        _select(page, "sign_in_urge")
        expression = page.locator("#bio-properties-panel-wuyi-timer-expression")
        assert expression.input_value() == "due_in(sign_in_due)"
        assert page.locator("#bio-properties-panel-wuyi-timer-kind").input_value() == "timeDate"
        expression.fill('due_in("2WD")')
        page.wait_for_timeout(500)
        _shot(page, "10-timer")
        changed = diff_bpmn(original, _download(page))
        assert changed["summary"] == {"added": 0, "removed": 0, "changed": 1}
        assert changed["changed"][0]["id"] == "sign_in_urge"
        assert 'due_in("2WD")' in changed["changed"][0]["changes"][0]["to"]
    if name == "problem_list.bpmn":   # a new task from the palette, made a user task, given our properties
        _new_user_task_with_properties(page)
    assert page.errors == []


def _new_user_task_with_properties(page) -> None:
    rectify = page.locator('.djs-element[data-element-id="rectify"]').first.bounding_box()
    page.click(".djs-palette .entry.bpmn-icon-task")   # into the lane of rectify, left of it
    page.mouse.move(rectify["x"] - 100, rectify["y"] + rectify["height"] / 2)
    page.mouse.click(rectify["x"] - 150, rectify["y"] + rectify["height"] / 2)
    page.keyboard.type("新增任务")
    page.keyboard.press("Enter")   # ends editing the label; the new task stays selected
    page.click('.djs-context-pad .entry[data-action="replace"]')
    page.click('.djs-popup .entry[data-id="replace-with-user-task"]')
    _open_group(page, "wuyi")
    page.fill("#bio-properties-panel-wuyi-candidateGroups", "intake")
    page.select_option("#bio-properties-panel-wuyi-formJsonSchemaFilename", "problem_list/review.schema.json")
    page.fill("#bio-properties-panel-wuyi-priority", "80")
    page.fill("#bio-properties-panel-wuyi-warnBefore", "4H")
    page.fill("#bio-properties-panel-wuyi-instructions", "### 说明\n请核对 <材料> & 签字。")
    page.wait_for_timeout(500)
    _shot(page, "11-new-task")
    saved = _download(page)
    task = re.search(r'<bpmn:userTask id="[^"]+" name="新增任务">.*?</bpmn:userTask>', saved, re.S)
    assert task, saved[-3000:]
    task = task.group(0)
    for prop, value in (("candidateGroups", "intake"), ("formJsonSchemaFilename", "problem_list/review.schema.json"),
                        ("priority", "80"), ("warnBefore", "4H")):
        assert f'<spiffworkflow:property name="{prop}" value="{value}" />' in task, (prop, task)
    assert ("<spiffworkflow:instructionsForEndUser>### 说明\n请核对 &lt;材料&gt; &amp; 签字。"
            "</spiffworkflow:instructionsForEndUser>") in task, task
    page.fill("#bio-properties-panel-wuyi-priority", "")   # an emptied field removes the property
    page.fill("#bio-properties-panel-wuyi-priority", "101")
    page.wait_for_selector('[data-entry-id="wuyi-priority"] .bio-properties-panel-error:has-text("0–100")')
    page.fill("#bio-properties-panel-wuyi-priority", "")
    page.wait_for_timeout(500)
    assert 'name="priority"' not in re.search(r'<bpmn:userTask id="[^"]+" name="新增任务">.*?</bpmn:userTask>',
                                              _download(page), re.S).group(0)


def test_the_form_workbench_previews_live_and_checks_sample_data(live_server, page):
    _login(page, live_server.url, "designer")
    page.goto(live_server.url + "/designer/forms")
    page.click("a:has-text('handle.schema.json')")
    page.wait_for_selector("#preview .form-preview")
    fields = page.locator("#preview .field").count()
    assert fields > 0
    _shot(page, "08-workbench")

    schema = page.input_value("#schema")
    page.fill("#schema", schema.replace('"properties": {', '"properties": {\n    "zz_note": {"type": "string", "title": "工作台新增字段"},', 1))
    page.wait_for_selector("#preview #f_zz_note")
    page.fill("#schema", "{ broken")
    page.wait_for_selector("#preview #workbench-problems:has-text('JSON Schema不是有效的 JSON')")
    page.fill("#schema", schema)
    page.wait_for_selector("#preview .form-preview")

    page.fill("#data", '{"unknown_field": 1}')
    page.click("#btn-check")
    page.wait_for_selector("#preview[data-validated='true'] #form-errors")
    assert "此表单没有该字段" in page.inner_text("#preview")
    assert page.locator("#preview .field.has-error").count() >= 1
    _shot(page, "09-workbench-errors")
    assert page.errors == []


def test_a_caseworker_is_refused_in_chinese(live_server, page):
    _login(page, live_server.url, "intake1")
    assert page.locator("nav.mainnav a:has-text('流程设计')").count() == 0
    response = page.goto(live_server.url + "/designer/processes/complaint/modeler")
    assert response.status == 403
    assert "仅流程设计员和系统管理员可以使用流程设计功能" in page.inner_text("main")
