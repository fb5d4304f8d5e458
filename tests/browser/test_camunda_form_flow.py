"""A Camunda 7 diagram's formData, in a real browser: the generated task form shows the labels as the
designer wrote them (Chinese here), the right inputs, and a broken constraint at its field."""
from __future__ import annotations

import re

from tests.browser.conftest import ARTIFACTS

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="camunda_leave" name="请假审批（Camunda）" isExecutable="true">
    <bpmn:startEvent id="start" name="提出申请" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
    <bpmn:userTask id="approve" name="部门审批" camunda:candidateUsers="intake1" camunda:dueDate="P2D">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="days" label="请假天数" type="long" defaultValue="1">
            <camunda:validation><camunda:constraint name="min" config="1" /><camunda:constraint name="max" config="15" />
            </camunda:validation></camunda:formField>
          <camunda:formField id="kind" label="假别" type="enum">
            <camunda:value id="annual" name="年休假" /><camunda:value id="sick" name="病假" /></camunda:formField>
          <camunda:formField id="from" label="开始日期" type="date" />
          <camunda:formField id="approved" label="是否同意" type="boolean" />
          <camunda:formField id="opinion" label="审批意见" type="string">
            <camunda:validation><camunda:constraint name="required" /><camunda:constraint name="maxlength" config="50" />
            </camunda:validation></camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end" />
    <bpmn:endEvent id="end" name="结束" />
  </bpmn:process>
</bpmn:definitions>
"""

SETUP = """
import tempfile, pathlib
from app import create_app
from app.processes.deploy import deploy_file
from app.processes.running import start_process
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "camunda_leave.bpmn").write_text(sys.argv[1], encoding="utf-8")
app = create_app()
with app.app_context():
    (outcome,) = deploy_file(folder / "camunda_leave.bpmn", forms_dir=str(folder))
    assert not outcome.problems, [str(p) for p in outcome.problems]
    start_process("camunda_leave", {}, None)
"""


def test_a_camunda_form_in_the_browser(live_server, page):
    live_server.python(SETUP.replace("sys.argv[1]", repr(DIAGRAM)))
    page.goto(live_server.url + "/tasks")
    page.fill("#username", "intake1")
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/tasks"))
    page.click("text=部门审批")
    page.wait_for_selector("form.taskform")
    text = page.inner_text("form.taskform")
    for label in ("请假天数", "假别", "开始日期", "是否同意", "审批意见", "年休假", "病假"):
        assert label in text
    assert page.get_attribute('[name="from"]', "type") == "date"
    page.fill('[name="days"]', "30")
    page.fill('[name="opinion"]', "同意")
    page.screenshot(path=str(ARTIFACTS / "camunda-form.png"), full_page=True)
    page.click("button[value=complete]")
    page.wait_for_selector("#f_days-error")
    assert "15" in page.inner_text("#f_days-error")
    assert page.input_value('[name="opinion"]') == "同意"
    page.screenshot(path=str(ARTIFACTS / "camunda-form-error.png"), full_page=True)
    assert page.errors == []
