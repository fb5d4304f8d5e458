"""The task page: the form rendered from its schema, validation with the input kept, drafts, completion."""
from __future__ import annotations

import re

from app.tasks.models import HumanTask
from tests.web.helpers import REGISTER_FORM, START, USCC_BAD, USCC_OK, fresh, open_task, start_case


def _register_task(browser):
    instance, case = start_case()
    task = open_task(instance.id, "register")
    browser.login("intake1")
    return instance, case, task


def _field_order(html: str) -> list[str]:
    names = re.findall(r'\bname="([a-z_]+)"', html.split('class="taskform"', 1)[1])
    return list(dict.fromkeys(n for n in names if n not in ("csrf_token", "action")))


def test_the_form_is_rendered_on_the_server_in_ui_order_with_widgets_help_and_prefill(units, browser):
    _, case, task = _register_task(browser)
    resp = browser.get(f"/tasks/{task.id}")
    assert resp.status_code == 200
    html = browser.text(resp)
    assert _field_order(html)[:9] == ["company_name", "uscc", "visits", "amount", "on_site", "visit_date",
                                      "appointment", "reply_method", "tags"]
    assert 'value="江门市示例五金制品有限公司"' in html                          # prefilled from the case data
    assert f'value="{USCC_OK}"' in html
    assert 'placeholder="如 91440703MAKLKB3T82"' in html                        # ui:placeholder
    assert "本市登记企业第 3–8 位一般以 4407 开头。" in html                    # ui:help
    assert "18 位，按 GB 32100-2015 校验。" in html                            # description
    assert 'type="date"' in html and 'name="visit_date"' in html
    assert 'type="datetime-local"' in html
    assert 'type="radio" name="reply_method"' in html                          # ui:widget radio
    assert 'type="checkbox" name="tags" value="拖欠账款"' in html              # enum array: checkboxes
    assert 'type="checkbox" id="f_on_site" name="on_site" value="true"' in html   # boolean: checkbox
    assert '<textarea id="f_note" name="note"' in html
    assert 'name="__rows__:items" value="1"' in html                           # a required array starts with a row
    assert 'name="items[0].name"' in html and "＋ 添加款项" in html
    assert 'type="file" id="f_evidence_file" name="__file__:evidence_file"' in html
    assert 'value="false" checked' in html                                     # default of need_followup
    # the conditional field is shown and marked with its condition
    assert "当“需要跟进”为“需要”时必填" in html
    assert case.number in html and "登记核实" in html


def test_markdown_instructions_are_rendered_and_raw_html_is_shown_as_text(units, browser):
    instance, _ = start_case({**START, "title": "<script>alert('title')</script>"})
    task = open_task(instance.id, "register")
    browser.login("intake1")
    html = browser.text(browser.get(f"/tasks/{task.id}"))
    assert "<h3>登记核实</h3>" in html and "<strong>第一步</strong>" in html
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert('instr')&lt;/script&gt;" in html       # from the designer's text
    assert "&lt;script&gt;alert('title')&lt;/script&gt;" in html       # from the case data


def test_script_in_form_values_is_escaped(units, browser):
    _, _, task = _register_task(browser)
    form = {**REGISTER_FORM, "note": "<script>alert('note')</script>", "uscc": USCC_BAD,
            "company_name": '"><script>alert(1)</script>', "action": "complete"}
    resp = browser.post(f"/tasks/{task.id}", form)
    assert resp.status_code == 422
    html = browser.text(resp)
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;</textarea>" in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_a_wrong_uscc_gets_a_chinese_message_at_the_field_and_every_input_is_kept(units, browser):
    _, _, task = _register_task(browser)
    form = {**REGISTER_FORM, "uscc": USCC_BAD, "visits": "三次", "tags": ["拖欠账款", "其他"], "action": "complete"}
    resp = browser.post(f"/tasks/{task.id}", form)
    assert resp.status_code == 422
    html = browser.text(resp)
    assert "表单有 2 处需要修改" in html
    uscc_block = html.split('id="f_uscc-wrap"', 1)[1].split('id="f_visits-wrap"', 1)[0]
    assert "统一社会信用代码校验位不正确" in uscc_block and f'value="{USCC_BAD}"' in uscc_block
    assert 'aria-invalid="true"' in uscc_block
    visits_block = html.split('id="f_visits-wrap"', 1)[1].split('id="f_amount-wrap"', 1)[0]
    assert "请填写整数" in visits_block and 'value="三次"' in visits_block    # raw input kept
    assert 'value="48.6"' in html and 'value="2026-03-02"' in html and 'value="2026-03-03T09:30"' in html
    assert 'value="拖欠账款" checked' in html and 'value="其他" checked' in html
    assert 'value="电话" checked' in html and 'value="工程款"' in html
    assert "已电话联系企业。</textarea>" in html
    assert open_task(task.instance_id, "register").status == "ready"


def test_conditional_required_field_reports_when_its_condition_holds(units, browser):
    _, _, task = _register_task(browser)
    resp = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "need_followup": "true", "action": "complete"})
    assert resp.status_code == 422
    block = browser.text(resp).split('id="f_followup_reason-wrap"', 1)[1].split("</div>", 1)[0]
    assert "必填" in block


def test_rows_are_added_and_removed_without_javascript(units, browser):
    _, _, task = _register_task(browser)
    added = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "action": "add:items"})
    assert added.status_code == 200
    html = browser.text(added)
    assert 'name="__rows__:items" value="2"' in html and 'name="items[1].name"' in html
    assert 'value="工程款"' in html and "表单有" not in html                    # kept, not validated
    two_rows = {**REGISTER_FORM, "__rows__:items": "2", "items[1].name": "材料款", "items[1].qty": "3"}
    removed = browser.post(f"/tasks/{task.id}", {**two_rows, "action": "remove:items:0"})
    html = browser.text(removed)
    assert 'name="__rows__:items" value="1"' in html
    assert 'value="材料款"' in html and 'value="工程款"' not in html


def test_save_draft_keeps_unfinished_input_even_when_it_does_not_convert(units, browser):
    _, _, task = _register_task(browser)
    resp = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "visits": "三次", "uscc": USCC_BAD,
                                              "action": "save"})
    assert resp.status_code == 303
    saved = open_task(task.instance_id, "register")
    assert saved.draft["visits"] == "三次" and saved.draft["uscc"] == USCC_BAD
    assert saved.draft["items"] == [{"name": "工程款", "qty": 1}] and saved.draft["amount"] == 48.6
    html = browser.text(browser.get(f"/tasks/{task.id}"))
    assert "草稿已保存" in html and "已载入您保存的草稿" in html
    assert 'value="三次"' in html and f'value="{USCC_BAD}"' in html


def test_complete_converts_types_and_goes_to_the_case_page(units, browser):
    instance, case, task = _register_task(browser)
    resp = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "tags": ["拖欠账款"], "action": "complete"})
    assert resp.status_code == 303, browser.text(resp)[:3000]
    assert resp.headers["Location"].endswith(f"/cases/{case.id}")
    assert fresh(HumanTask, task.id).status == "completed"
    from app.processes.instances import get_instance, instance_details
    data = instance_details(get_instance(instance.id))["data"]
    assert data["visits"] == 2 and data["amount"] == 48.6 and data["on_site"] is True
    assert data["tags"] == ["拖欠账款"] and data["items"] == [{"name": "工程款", "qty": 1}]
    assert data["appointment"] == "2026-03-03T09:30:00+08:00" and data["need_followup"] is False
    page = browser.get(resp.headers["Location"])
    assert "“登记核实”已办理完成" in browser.text(page)


def test_a_task_held_by_someone_else_is_shown_but_cannot_be_submitted(units, browser, make_browser):
    from app.auth.services import get_user_by_username
    from app.tasks.services import claim_task
    instance, _ = start_case()
    task = open_task(instance.id, "register")
    claim_task(task.id, get_user_by_username("admin"))
    browser.login("intake1")
    html = browser.text(browser.get(f"/tasks/{task.id}"))
    assert "此任务已由 系统管理员 认领" in html and 'class="taskform"' not in html
    resp = browser.post(f"/tasks/{task.id}", {**REGISTER_FORM, "action": "complete"})
    assert resp.status_code == 303
    assert open_task(instance.id, "register").status == "ready"


def test_a_completed_task_shows_what_was_submitted_read_only(units, browser, api):
    from tests.web.helpers import complete_register
    instance, case = start_case()
    task = complete_register((instance, case))
    browser.login("intake1")
    html = browser.text(browser.get(f"/tasks/{task.id}"))
    assert 'class="taskform"' not in html and "提交办理" not in html        # nothing to fill in any more
    assert "提交的内容" in html
    submitted = html.split("提交的内容", 1)[1]
    for shown in (START["company_name"], USCC_OK, "电话", "工程款"):
        assert shown in submitted, shown
    assert "未填写" not in html                                             # instructions are not refilled from nothing
    assert "办理人" in html and "受理员" in html                            # who completed it
    # the API gives the same data
    body = api.get(f"/api/v1/tasks/{task.id}", user="intake1").get_json()
    assert body["data"]["uscc"] == USCC_OK and body["data"]["company_name"] == START["company_name"]
