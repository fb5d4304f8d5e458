"""Start pages (新建): which processes a user may start, the start form, and the redirect to the case."""
from __future__ import annotations

import io
import re
from urllib.parse import unquote

import sqlalchemy as sa

from app.cases.models import Case
from app.cases.records import Attachment
from tests.web.helpers import FIXTURE_BPMN, PNG, USCC_BAD, USCC_OK

FORM = {"title": "工程尾款逾期未付", "channel": "hotline_12345", "district": "蓬江区", "complainant_name": "梁志强",
        "phone": "13800000001", "company_name": "江门市示例五金制品有限公司", "uscc": USCC_OK, "unit": "unit_a"}


def test_the_list_shows_only_what_the_user_may_start(units, make_browser):
    intake = make_browser()
    intake.login("intake1")
    html = intake.text(intake.get("/start"))
    assert "网页测试流程" in html and "受理员专用流程" in html
    unit = make_browser()
    unit.login("ua1")
    html = unit.text(unit.get("/start"))
    assert "网页测试流程" in html and "/start/web_restricted" not in html       # candidateStarterGroups
    assert unit.get("/start/web_restricted").status_code == 403
    assert unit.post("/start/web_restricted", {"action": "start"}).status_code == 403
    assert unit.get("/start/no_such_process").status_code == 404


def test_a_process_without_a_start_form_starts_with_one_click(units, browser, db):
    browser.login("intake1")
    assert "此流程发起时无需填写表单" in browser.text(browser.get("/start/web_restricted"))
    resp = browser.post("/start/web_restricted", {"action": "start"})
    assert resp.status_code == 303
    html = browser.text(browser.get(resp.headers["Location"]))
    assert "已发起“受理员专用流程”" in html and "复核" in html
    task_link = re.search(r'<a href="/tasks/(\d+)"', html).group(1)   # a task, not the top bar's /tasks/done
    assert "此步骤无需填写表单" in browser.text(browser.get(f"/tasks/{task_link}"))
    done = browser.post(f"/tasks/{task_link}", {"action": "complete"})
    assert done.status_code == 303
    assert "已办结" in browser.text(browser.get(done.headers["Location"]))


def test_start_form_errors_are_shown_at_the_fields_with_the_input_kept(units, browser, db):
    browser.login("intake1")
    page = browser.text(browser.get("/start/web_case"))
    assert 'name="title"' in page and 'type="radio" name="unit" value="unit_a"' in page
    assert 'type="file" id="f_poa_file" name="__file__:poa_file"' in page
    resp = browser.post("/start/web_case", {**FORM, "uscc": USCC_BAD, "phone": "12345", "action": "start"})
    assert resp.status_code == 422
    html = browser.text(resp)
    assert "统一社会信用代码校验位不正确" in html and f'value="{USCC_BAD}"' in html
    assert "手机号码应为11位数字" in html.split('id="f_phone-wrap"', 1)[1].split("</div>", 1)[0]
    assert 'value="梁志强"' in html and 'value="unit_a" checked' in html
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == 0


def test_starting_redirects_to_the_new_case_and_links_uploaded_files(units, browser, db):
    browser.login("intake1")
    resp = browser.post("/start/web_case", {**FORM, "action": "start",
                                            "__file__:poa_file": (io.BytesIO(PNG), "委托书.png")},
                        content_type="multipart/form-data")
    assert resp.status_code == 303, browser.text(resp)[:3000]
    case = db.session.execute(sa.select(Case)).scalar_one()
    assert unquote(resp.headers["Location"]) == f"/cases/{case.id}"
    attachment = db.session.execute(sa.select(Attachment)).scalar_one()
    assert attachment.case_id == case.id and attachment.field == "poa_file"
    html = browser.text(browser.get(resp.headers["Location"]))
    assert f"已发起“网页测试流程”，案件编号 {case.number}" in html and "委托书.png" in html
    assert "登记核实" in html


def test_the_complaint_start_form_renders_from_the_shipped_forms(seeded, browser):
    browser.login("intake1")
    resp = browser.get("/start/complaint")
    assert resp.status_code == 200
    html = browser.text(resp)
    order = [name for name in ("channel", "appeal_type", "urgency", "complainant_name", "phone", "content")
             if f'name="{name}"' in html]
    assert order == ["channel", "appeal_type", "urgency", "complainant_name", "phone", "content"]
    positions = [html.index(f'name="{name}"') for name in order]
    assert positions == sorted(positions)                                        # ui:order
    assert "请选择来源渠道" in html and "12345政务服务便民热线" in html


def test_a_process_name_with_quotes_is_not_quoted_again(units, browser, tmp_path):
    from app.processes.deploy import deploy_file
    from tests.web.helpers import FIXTURE_FORMS
    source = next(p for p in FIXTURE_BPMN if p.name == "web_restricted.bpmn").read_text(encoding="utf-8")
    quoted = tmp_path / "web_quoted.bpmn"
    quoted.write_text(source.replace('id="web_restricted"', 'id="web_quoted"')
                      .replace('name="受理员专用流程"', 'name="受理员专用“一件事”"'), encoding="utf-8")
    assert not deploy_file(quoted, forms_dir=str(FIXTURE_FORMS))[0].problems
    browser.login("intake1")
    resp = browser.post("/start/web_quoted", {"action": "start"})
    assert resp.status_code == 303
    html = browser.text(browser.get(resp.headers["Location"]))
    assert "已发起「受理员专用“一件事”」" in html and "“受理员专用“" not in html


def test_quoted_names():
    from app.web.labels import quoted
    assert quoted("复核") == "“复核”"
    assert quoted("开办运输企业“一件事”") == "「开办运输企业“一件事”」"
    assert quoted('报告"草稿"') == '「报告"草稿"」'
