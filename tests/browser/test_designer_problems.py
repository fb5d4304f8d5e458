"""The modeler page lists errors apart from warnings (#14): a diagram that only breaks house
conventions deploys from the designer with its warnings said; one that calls a missing process is
refused, its error listed first and its element outlined as an error, the warnings apart."""
from __future__ import annotations

import re

from tests.browser.conftest import ARTIFACTS


def _diagram(called: str | None) -> str:
    task = ('<bpmn:callActivity id="call" name="调用复核" calledElement="%s" />' % called if called else
            '<bpmn:task id="call" name="复核" />')
    return f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="warned" name="只有警告的流程" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="review" name="审核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidateGroups" value="intake" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    {task}
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="call" />
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="p" bpmnElement="warned">
    <bpmndi:BPMNShape id="s_start" bpmnElement="start"><dc:Bounds x="150" y="102" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_review" bpmnElement="review"><dc:Bounds x="240" y="80" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_call" bpmnElement="call"><dc:Bounds x="400" y="80" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_end" bpmnElement="end"><dc:Bounds x="560" y="102" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="e1" bpmnElement="f1"><di:waypoint x="186" y="120" /><di:waypoint x="240" y="120" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e2" bpmnElement="f2"><di:waypoint x="340" y="120" /><di:waypoint x="400" y="120" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e3" bpmnElement="f3"><di:waypoint x="500" y="120" /><di:waypoint x="560" y="120" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
'''


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/tasks"))


def test_errors_and_warnings_are_listed_apart_and_only_errors_refuse(live_server, page):
    resp = live_server.api("POST", "/api/v1/designer/deploy", "designer",
                           json={"xml": _diagram(None), "message": "只有警告"})
    assert resp.status_code == 201, resp.text   # warnings do not stop a deploy
    assert len(resp.json()["deployed"][0]["warnings"]) == 3
    resp = live_server.api("POST", "/api/v1/designer/drafts/warned", "designer",
                           json={"xml": _diagram("nowhere"), "base_version": 1})
    assert resp.status_code == 200, resp.text
    _login(page, live_server.url, "designer")
    page.goto(live_server.url + "/designer/drafts/warned/modeler")
    page.wait_for_selector('.modeler-body[data-state="ready"]')
    page.click("#btn-validate")
    page.wait_for_selector("#problems:not([hidden])")
    assert page.locator("#problems-title").inner_text() == "流程图有 4 处问题（1 个错误，3 个警告）"
    errors = page.locator("#problem-list li")
    assert errors.count() == 1 and "nowhere 不存在" in errors.first.inner_text()
    assert page.locator("#problem-errors h3").inner_text().startswith("错误")
    warnings = page.locator("#warning-list li")
    assert warnings.count() == 3 and "没有表单" in page.locator("#warning-list").inner_text()
    assert page.locator("#problem-warnings h3").inner_text().startswith("警告")
    assert page.locator('.djs-element.wuyi-problem[data-element-id="call"]').count() == 1
    assert page.locator('.djs-element.wuyi-warning[data-element-id="review"]').count() == 1
    assert "1 个错误" in page.locator("#modeler-status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "designer-errors-and-warnings.png"), full_page=True)
    page.fill("#deploy-message", "试部署")
    page.click("#btn-deploy")
    page.wait_for_selector("#modeler-status.error:has-text('未部署')")

    page.goto(live_server.url + "/designer/processes/warned/modeler")   # the deployed one: warnings only
    page.wait_for_selector('.modeler-body[data-state="ready"]')
    page.click("#btn-validate")
    page.wait_for_selector("#problems:not([hidden])")
    page.wait_for_timeout(500)
    assert "没有错误，可以部署" in page.locator("#modeler-status").inner_text(), page.locator("#modeler-status").inner_text() + page.locator("#problems").inner_text()
    assert page.locator("#problem-errors").is_hidden() and page.locator("#warning-list li").count() == 3
    assert page.locator(".djs-element.wuyi-problem").count() == 0
    page.screenshot(path=str(ARTIFACTS / "designer-warnings-only.png"), full_page=True)


def test_the_version_list_shows_what_a_version_calls(live_server, page, tmp_path):
    from tests.designer.test_models import called, caller, write
    model = tmp_path / "model"
    model.mkdir()
    write(model, "main.bpmn", caller().replace('value="note.schema.json"', 'value="complaint/register.schema.json"'))
    write(model, "review_sub.bpmn", called().replace('value="note.schema.json"',
                                                     'value="complaint/register.schema.json"'))
    live_server.flask("bpmn", "deploy", str(model), "-m", "两个文件的模型")
    _login(page, live_server.url, "designer")
    page.goto(live_server.url + "/designer/processes/main/versions")
    calls = page.locator("table.versions ul.calls li")
    assert calls.count() == 1
    assert "复核 调用 复核子流程" in calls.first.inner_text() and "同一模型中的流程" in calls.first.inner_text()
    assert "与 review_sub.bpmn 一同部署" in page.locator("table.versions").inner_text()
    page.screenshot(path=str(ARTIFACTS / "designer-versions-calls.png"), full_page=True)
