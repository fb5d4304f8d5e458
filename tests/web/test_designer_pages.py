"""The designer pages (issue #7): only designers and administrators; the modeler page and its JSON
endpoints (validate, deploy, drafts: session + CSRF header), uploads, versions with migration, the
diff page and the form workbench. Every bad input gets a Chinese message on the page."""
from __future__ import annotations

import json
import re
from urllib.parse import unquote

import pytest

from tests.conftest import FIXTURES
from tests.designer.conftest import linear, user

V1 = linear("web_designer", [("register", "登记"), ("review", "审核")], name="设计器页面测试")
V2 = V1.replace('name="审核"', 'name="复核"')
FIVE = (FIXTURES / "bpmn" / "designer_five_problems.bpmn").read_text(encoding="utf-8")

PAGES = ["/designer", "/designer/processes/web_designer/modeler", "/designer/files/complaint.bpmn/modeler",
         "/designer/processes/web_designer/versions", "/designer/processes/web_designer/diff",
         "/designer/forms", "/designer/forms/workbench?file=note.schema.json",
         "/designer/processes/web_designer/versions/1/download", "/designer/forms/file/note.schema.json"]


@pytest.fixture
def designer_setup(app, db, monkeypatch):
    """Demo users, forms from tests/fixtures/forms, web_designer deployed once (version 1)."""
    from app.designer import services
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FIXTURES / "forms"))
    services.deploy_xml(V1, "第一版", user("designer"))


def _config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="modeler-config">(.*?)</script>', html, re.S)
    assert found, html[:2000]
    return json.loads(found.group(1))


def _post_json(browser, path, payload, *, csrf=True):
    headers = {"Accept": "application/json"}
    if csrf:
        headers["X-CSRFToken"] = browser.csrf()
    return browser._call("post", path, json=payload, headers=headers)


# --- who may enter ------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["intake1", "supervisor"])
def test_caseworkers_and_supervisors_get_the_chinese_403_page_everywhere(designer_setup, browser, username):
    browser.login(username)
    for path in PAGES:
        resp = browser.get(path)
        assert resp.status_code == 403, path
        assert "仅流程设计员和系统管理员可以使用流程设计功能" in browser.text(), path
    for path, payload in [("/designer/validate", {"xml": V1}), ("/designer/deploy", {"xml": V2, "message": "x"}),
                          ("/designer/drafts/web_designer", {"xml": V1}), ("/designer/forms/preview", {"schema": "{}"})]:
        resp = _post_json(browser, path, payload)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden", path
    assert browser.get("/designer/drafts/web_designer/modeler").status_code == 403
    for path in ("/designer/drafts/web_designer/delete", "/designer/processes/web_designer/migrate"):
        assert browser.post(path, {"dry_run": "1"}).status_code == 403, path
    assert "流程设计" not in browser.text(browser.get("/tasks")).split("<main")[0]   # no menu entry either


def test_anonymous_visitors_are_sent_to_the_login_page(designer_setup, browser):
    for path in PAGES:
        resp = browser.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path


@pytest.mark.parametrize("username", ["designer", "admin"])
def test_designers_and_administrators_reach_every_page(designer_setup, browser, username):
    browser.login(username)
    for path in PAGES:
        assert browser.get(path).status_code == 200, path
    assert 'href="/designer"' in browser.text(browser.get("/tasks"))


# --- the start page and the modeler page ---------------------------------------------------------

def test_the_start_page_lists_deployed_processes_files_and_drafts(designer_setup, browser):
    from app.designer import services
    browser.login("designer")
    html = browser.text(browser.get("/designer"))
    assert "设计器页面测试" in html and 'href="/designer/processes/web_designer/modeler"' in html
    assert 'href="/designer/files/complaint.bpmn/modeler"' in html   # bpmn/ of the project
    assert "我的草稿" not in html
    services.save_draft(user("designer"), "web_designer", V2, base_version=1)
    html = browser.text(browser.get("/designer"))
    assert "我的草稿" in html and "/designer/drafts/web_designer/modeler" in html


def test_the_modeler_page_carries_the_diagram_its_key_version_and_the_form_files(designer_setup, browser):
    browser.login("designer")
    resp = browser.get("/designer/processes/web_designer/modeler")
    config = _config(browser.text(resp))
    assert config["xml"] == V1 and config["key"] == "web_designer" and config["base_version"] == 1
    assert config["forms"] == ["note.schema.json"]
    assert config["urls"]["validate"] == "/designer/validate"
    assert "已部署的第 1 版" in browser.text(resp)


def test_the_modeler_page_escapes_the_diagram_inside_its_script_tag(designer_setup, browser):
    from app.designer import services
    browser.login("designer")
    hostile = V1.replace('name="登记"', 'name="&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"')
    services.save_draft(user("designer"), "web_designer", hostile, base_version=1)
    html = browser.text(browser.get("/designer/drafts/web_designer/modeler"))
    assert "</script><script>alert(1)" not in html
    assert _config(html)["xml"] == hostile


def test_unknown_processes_versions_and_files_get_the_chinese_404_page(designer_setup, browser):
    browser.login("designer")
    for path, message in [("/designer/processes/nope/modeler", "没有已部署的流程：nope"),
                          ("/designer/processes/web_designer/modeler?version=9", "流程 web_designer 没有版本 9"),
                          ("/designer/processes/nope/versions", "没有已部署的流程：nope"),
                          ("/designer/processes/nope/diff", "没有已部署的流程：nope"),
                          ("/designer/processes/web_designer/diff?from=1&to=7", "流程 web_designer 没有版本 7"),
                          ("/designer/processes/web_designer/versions/5/download", "没有版本 5"),
                          ("/designer/files/nope.bpmn/modeler", "bpmn/ 目录中没有文件：nope.bpmn"),
                          ("/designer/files/..%2Fwsgi.py/modeler", "页面或记录不存在"),
                          ("/designer/forms/workbench?file=../wsgi.py", "forms/ 目录中没有文件：../wsgi.py"),
                          ("/designer/forms/file/nope.schema.json", "forms/ 目录中没有文件")]:
        resp = browser.get(path)
        assert resp.status_code == 404, path
        assert message in browser.text(), (path, browser.text()[-1500:])
        assert "Traceback" not in browser.text()
    resp = browser.get("/designer/processes/web_designer/modeler?version=abc")
    assert resp.status_code == 422 and "参数 version 应为正整数" in browser.text()


@pytest.mark.parametrize("query", ["?version=²", "?version=%D9%A3", "?version=0", "?version=-1",
                                   "?version=99999999999999999999999"])
def test_a_bad_version_number_gets_a_chinese_message_never_a_500(designer_setup, browser, query):
    browser.login("designer")
    resp = browser.get("/designer/processes/web_designer/modeler" + query)
    assert resp.status_code == 422 and "参数 version 应为正整数" in browser.text(), query
    resp = browser.get("/designer/processes/web_designer/diff" + query.replace("version", "to"))
    assert resp.status_code == 422 and "参数 to 应为正整数" in browser.text(), query
    resp = browser.get("/designer/processes/web_designer/versions?check=1&from_" + query[1:])
    assert resp.status_code == 422 and "参数 from_version 应为正整数" in browser.text(), query
    resp = browser.post("/designer/processes/web_designer/migrate", {"from_version": unquote(query.split("=")[1])})
    assert resp.status_code == 422 and "参数 from_version 应为正整数" in browser.text(), query


def test_a_huge_version_in_the_download_path_is_404(designer_setup, browser):
    browser.login("designer")
    assert browser.get("/designer/processes/web_designer/versions/99999999999999999999999/download").status_code == 404
    assert "流程 web_designer 没有版本 2" in browser.text(browser.get("/designer/processes/web_designer/versions/2/download"))


def test_a_file_of_bpmn_opens_with_its_process_key(designer_setup, browser):
    browser.login("designer")
    config = _config(browser.text(browser.get("/designer/files/complaint.bpmn/modeler")))
    assert config["key"] == "complaint" and config["base_version"] is None and config["filename"] == "complaint.bpmn"
    assert 'id="complaint"' in config["xml"]


# --- uploads ---------------------------------------------------------------------------------------

def _upload(browser, content: bytes, filename="mine.bpmn"):
    from io import BytesIO
    return browser.post("/designer/upload", {"file": (BytesIO(content), filename)},
                        content_type="multipart/form-data")


@pytest.mark.parametrize("content, message", [
    (b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'><bpmn:process",
     "无法打开该文件：XML 格式错误"),
    (b"<html><body>not a diagram</body></html>", "该文件不是 BPMN 2.0 流程图"),
    (b"\xff\xfe\x00b\x00a\x00d", "文件不是 UTF-8 编码的文本"),
    (b"   ", "流程图内容为空"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "不允许 DOCTYPE/实体声明"),
])
def test_a_bad_upload_is_refused_with_a_chinese_reason_on_the_start_page(designer_setup, browser, content, message):
    browser.login("designer")
    resp = _upload(browser, content)
    assert resp.status_code == 422
    html = browser.text()
    assert 'id="upload-error"' in html and message in html, html[-3000:]


@pytest.mark.parametrize("declaration", [
    b'<!DOCTYPE bpmn:definitions SYSTEM "file:///etc/passwd">',
    b'<!DOCTYPE bpmn:definitions [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE bpmn:definitions PUBLIC "-//x//y" "http://example.com/x.dtd">',
])
def test_a_doctype_after_the_first_4_kb_is_still_refused(designer_setup, browser, declaration):
    """Not a check of the file's head only: a DOCTYPE behind a long comment is refused as well."""
    browser.login("designer")
    head, body = V1.encode("utf-8").split(b"\n", 1)   # the XML declaration, then the diagram
    content = head + b"\n<!--" + b"x" * 8192 + b"-->\n" + declaration + b"\n" + body
    assert content.upper().index(b"<!DOCTYPE") > 4096
    resp = _upload(browser, content)
    assert resp.status_code == 422
    html = browser.text()
    assert 'id="upload-error"' in html and "不允许 DOCTYPE/实体声明" in html, html[-3000:]


def test_an_upload_without_a_file_is_refused(designer_setup, browser):
    browser.login("designer")
    resp = browser.post("/designer/upload", {}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "请选择要打开的 .bpmn 文件" in browser.text()


def test_a_good_upload_opens_in_the_modeler_and_stores_nothing(designer_setup, browser):
    from app.designer import services
    browser.login("designer")
    resp = _upload(browser, V2.encode("utf-8"), "changed.bpmn")
    assert resp.status_code == 200
    config = _config(browser.text(resp))
    assert config["xml"] == V2 and config["key"] == "web_designer" and config["filename"] == "changed.bpmn"
    assert "上传的文件 changed.bpmn" in browser.text(resp)
    assert [v["version"] for v in services.list_versions("web_designer")] == [1]


# --- the modeler's JSON endpoints ----------------------------------------------------------------

def test_the_json_endpoints_need_the_csrf_header(designer_setup, browser):
    browser.login("designer")
    for path, payload in [("/designer/validate", {"xml": V1}), ("/designer/deploy", {"xml": V2, "message": "x"}),
                          ("/designer/drafts/web_designer", {"xml": V1})]:
        resp = _post_json(browser, path, payload, csrf=False)
        assert resp.status_code == 400 and "页面已过期" in browser.text(), path


def test_validate_lists_every_problem_with_element_and_line(designer_setup, browser):
    browser.login("designer")
    resp = _post_json(browser, "/designer/validate", {"xml": FIVE})
    body = resp.get_json()
    assert resp.status_code == 200 and body["valid"] is False and len(body["problems"]) == 5
    assert {p["element_id"] for p in body["problems"]} == {"approve_deadline", "approve_no_form", "calc", "f_no",
                                                          "review_no_group"}
    assert all(p["line"] for p in body["problems"]) and all(re.search(r"[\u4e00-\u9fff]", p["message"])
                                                            for p in body["problems"])
    ok = _post_json(browser, "/designer/validate", {"xml": V2}).get_json()
    assert ok == {"valid": True, "problems": []}


def test_validate_gives_the_structural_problems_the_api_and_the_cli_give(designer_setup, browser):
    """Issue #12: the page's 验证 and the API/CLI use one checker: the same list, structure included."""
    from app.designer.services import validate_xml
    xml = (FIXTURES / "bpmn" / "designer_structure_problems.bpmn").read_text(encoding="utf-8")
    browser.login("designer")
    resp = _post_json(browser, "/designer/validate", {"xml": xml})
    body = resp.get_json()
    assert resp.status_code == 200 and body["valid"] is False
    assert [p["element_id"] for p in body["problems"]] == ["end_out", "approve", "gw_stuck", "gw_orphan",
                                                          "archive", "f_fix", "approve"]
    assert body["problems"] == [p.as_dict() for p in validate_xml(xml)]


@pytest.mark.parametrize("payload, field", [({"xml": ""}, "xml"), ({}, "xml"), ({"xml": V2, "message": ""}, "message"),
                                            ({"xml": V2}, "message")])
def test_deploy_refuses_missing_input_in_chinese(designer_setup, browser, payload, field):
    browser.login("designer")
    resp = _post_json(browser, "/designer/deploy", payload)
    error = resp.get_json()["error"]
    assert resp.status_code == 422 and error["message"] == "请求参数有误" and field in error["fields"]


def test_deploy_with_problems_lists_them_all_and_deploys_nothing(designer_setup, browser):
    from app.designer import services
    browser.login("designer")
    resp = _post_json(browser, "/designer/deploy", {"xml": FIVE, "message": "试试"})
    error = resp.get_json()["error"]
    assert resp.status_code == 422 and error["code"] == "bpmn_invalid" and len(error["problems"]) == 5
    assert "流程图有 5 处问题，未部署" == error["message"]
    assert [v["version"] for v in services.list_versions("web_designer")] == [1]


def test_deploy_makes_a_new_version_with_links_and_an_unchanged_one_makes_none(designer_setup, browser):
    from app.designer import services
    browser.login("designer")
    resp = _post_json(browser, "/designer/deploy", {"xml": V2, "message": "审核改为复核"})
    assert resp.status_code == 201, resp.get_json()
    deployed = resp.get_json()["deployed"]
    assert [(d["key"], d["version"], d["created"]) for d in deployed] == [("web_designer", 2, True)]
    assert deployed[0]["versions_url"] == "/designer/processes/web_designer/versions"
    assert deployed[0]["diff_url"] == "/designer/processes/web_designer/diff?to=2"
    rows = services.list_versions("web_designer")
    assert (rows[0]["version"], rows[0]["deployed_by"], rows[0]["message"]) == (2, "designer", "审核改为复核")
    again = _post_json(browser, "/designer/deploy", {"xml": V2, "message": "再来一次"})
    assert again.status_code == 200 and again.get_json()["deployed"][0]["created"] is False


def test_a_draft_is_saved_offered_opened_and_discarded(designer_setup, browser):
    browser.login("designer")
    resp = _post_json(browser, "/designer/drafts/web_designer", {"xml": V2, "base_version": 1})
    assert resp.status_code == 200 and resp.get_json()["base_version"] == 1
    html = browser.text(browser.get("/designer/processes/web_designer/modeler"))
    assert 'id="draft-banner"' in html and "基于第 1 版" in html
    assert _config(html)["xml"] == V1   # the deployed version unless asked for the draft
    html = browser.text(browser.get("/designer/drafts/web_designer/modeler"))
    assert _config(html)["xml"] == V2 and "我的草稿（基于第 1 版）" in html and 'id="draft-banner"' not in html
    other = browser.__class__(browser.app)
    other.login("admin")
    assert 'id="draft-banner"' not in other.text(other.get("/designer/processes/web_designer/modeler"))
    resp = browser.post("/designer/drafts/web_designer/delete")
    assert resp.status_code == 303
    assert "已丢弃流程 web_designer 的草稿" in browser.text(browser.get("/designer"))
    assert 'id="draft-banner"' not in browser.text(browser.get("/designer/processes/web_designer/modeler"))


def test_a_draft_of_a_process_never_deployed_opens_and_an_unknown_one_is_404(designer_setup, browser):
    browser.login("designer")
    fresh = linear("brand_new", [("a", "甲")])
    assert _post_json(browser, "/designer/drafts/brand_new", {"xml": fresh}).status_code == 200
    assert "/designer/drafts/brand_new/modeler" in browser.text(browser.get("/designer"))
    html = browser.text(browser.get("/designer/drafts/brand_new/modeler"))
    config = _config(html)
    assert config["xml"] == fresh and config["key"] == "brand_new" and config["base_version"] is None
    assert "我的草稿（尚未部署）" in html
    resp = browser.get("/designer/drafts/nothing/modeler")
    assert resp.status_code == 404 and "您没有流程 nothing 的草稿" in browser.text()


def test_without_the_modeler_bundle_the_page_says_so_and_still_shows_the_xml(designer_setup, browser, app,
                                                                              monkeypatch):
    monkeypatch.setitem(app.jinja_env.globals, "has_vendor", lambda path: False)
    browser.login("designer")
    html = browser.text(browser.get("/designer/processes/web_designer/modeler"))
    assert "设计器组件未安装" in html and "modeler.js" not in html
    assert "&lt;bpmn:userTask id=&#34;review&#34;" in html or "&lt;bpmn:userTask id=&quot;review&quot;" in html


def test_a_draft_without_xml_is_refused(designer_setup, browser):
    browser.login("designer")
    resp = _post_json(browser, "/designer/drafts/web_designer", {"xml": ""})
    assert resp.status_code == 422 and "xml" in resp.get_json()["error"]["fields"]
    resp = browser._call("post", "/designer/drafts/web_designer", data="not json",
                         headers={"X-CSRFToken": browser.csrf(), "Accept": "application/json"})
    assert resp.status_code == 422 and resp.get_json()["error"]["message"] == "请求体须为 JSON 对象"


# --- versions, migration, diff -------------------------------------------------------------------

def _start():
    from app.processes.running import start_process
    return start_process("web_designer", {}, user("intake1"))[0]


def test_the_versions_page_shows_author_time_message_and_running_instances(designer_setup, browser):
    from app.designer import services
    _start(), _start()
    services.deploy_xml(V2, "审核改为复核", user("admin"))
    _start()
    browser.login("designer")
    html = browser.text(browser.get("/designer/processes/web_designer/versions"))
    rows = re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', html, re.S)
    assert [v for v, _ in rows] == ["2", "1"]
    assert "系统管理员" in rows[0][1] and "审核改为复核" in rows[0][1] and "最新" in rows[0][1]
    assert re.search(r'class="running">1<', rows[0][1]) and re.search(r'class="running">2<', rows[1][1])
    assert "设计员" in rows[1][1] and "第一版" in rows[1][1]
    assert "迁移到第 2 版" in rows[1][1] and "迁移到" not in rows[0][1]   # only older versions with live cases
    assert "/designer/processes/web_designer/diff?to=2" in rows[0][1]


def test_migration_from_the_versions_page_dry_run_then_for_real(designer_setup, browser):
    from app.designer import services
    first, second = _start(), _start()
    services.deploy_xml(V2, "审核改为复核", user("designer"))   # register is unchanged: they may move
    browser.login("designer")
    versions_url = "/designer/processes/web_designer/versions"
    assert 'name="check"' in browser.text(browser.get(versions_url))   # the check is a GET form
    resp = browser.get(versions_url + "?check=1&from_version=1")
    html = browser.text(resp)
    assert resp.status_code == 200 and "迁移检查结果（未做任何修改）" in html
    assert html.count("可以迁移") >= 2 and f"#{first.id}" in html and f"#{second.id}" in html
    assert [v["running_instances"] for v in services.list_versions("web_designer")] == [0, 2]
    resp = browser.post("/designer/processes/web_designer/migrate", {"from_version": "1", "dry_run": "1"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(versions_url + "?check=1&from_version=1")
    assert [v["running_instances"] for v in services.list_versions("web_designer")] == [0, 2]
    # the real migration is Post/Redirect/Get: reloading the result page posts nothing again
    resp = browser.post("/designer/processes/web_designer/migrate", {"from_version": "1", "dry_run": "0"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(versions_url)
    assert [v["running_instances"] for v in services.list_versions("web_designer")] == [2, 0]
    html = browser.text(browser.get(versions_url))
    assert "迁移结果" in html and "2 个已迁移到第 2 版" in html and "0 个未迁移" in html
    html = browser.text(browser.get(versions_url))   # the summary is shown once
    assert "迁移结果" not in html
    resp = browser.post("/designer/processes/web_designer/migrate", {"from_version": "x"})
    assert resp.status_code == 422 and "参数 from_version 应为正整数" in browser.text()


def test_refused_migrations_are_listed_with_their_reasons_after_the_redirect(designer_setup, browser):
    from app.designer import services
    instance = _start()
    services.deploy_xml(V1.replace('name="登记"', 'name="登记（改名）"'), "登记改名", user("designer"))
    browser.login("designer")
    resp = browser.post("/designer/processes/web_designer/migrate", {"from_version": "1", "dry_run": "0"})
    assert resp.status_code == 303
    html = browser.text(browser.get(resp.headers["Location"]))
    assert "迁移结果" in html and "0 个已迁移到第 2 版，1 个未迁移" in html
    assert f"#{instance.id}" in html and "register（登记）" in html and "在新版本中有改动" in html


def test_the_migration_summary_kept_for_the_redirect_stays_small(app):
    from app.designer.migrate import MigrationOutcome
    from app.web.designer import MAX_LISTED_REFUSALS, MAX_SUMMARY_CHARS, _migration_summary
    outcomes = [MigrationOutcome(i, "refused", 1, 2, reasons=["很长的原因" * 200, "第二条", "第三条", "第四条"])
                for i in range(1, 51)]
    outcomes += [MigrationOutcome(100 + i, "migrated", 1, 2) for i in range(30)]
    summary = _migration_summary("k", outcomes, from_version=1)
    assert summary["total"] == 80 and summary["moved"] == 30 and summary["to_version"] == 2
    assert 0 < len(summary["rows"]) <= MAX_LISTED_REFUSALS
    assert len(summary["rows"]) + summary["more"] == 50
    assert all(row["status"] == "refused" and len(row["reasons"]) <= 3 for row in summary["rows"])
    assert len(json.dumps(summary)) <= MAX_SUMMARY_CHARS


def test_the_diff_page_lists_the_renamed_task_as_changed(designer_setup, browser):
    from app.designer import services
    services.deploy_xml(V2, "审核改为复核", user("designer"))
    browser.login("designer")
    html = browser.text(browser.get("/designer/processes/web_designer/diff"))
    assert "第 1 版 → 第 2 版" in html
    changed = html.split('id="h-changed"')[1]
    assert "修改（1）" in changed and 'data-element-id="review"' in changed
    assert re.search(r'data-field="name">.*?审核.*?复核', changed, re.S)
    assert "新增（0）" in html and "删除（0）" in html
    same = browser.text(browser.get("/designer/processes/web_designer/diff?from=2&to=2"))
    assert "修改（0）" in same


def test_the_diff_page_of_a_single_version_says_there_is_nothing_to_compare(designer_setup, browser):
    browser.login("designer")
    resp = browser.get("/designer/processes/web_designer/diff")
    assert resp.status_code == 200 and "该流程只有一个版本" in browser.text()
    resp = browser.get("/designer/processes/web_designer/diff?from=0")
    assert resp.status_code == 422 and "参数 from 应为正整数" in browser.text()


# --- the form workbench ------------------------------------------------------------------------------

SCHEMA = json.dumps({"title": "测试表单", "type": "object", "required": ["name", "phone"], "properties": {
    "name": {"type": "string", "title": "姓名", "minLength": 2},
    "phone": {"type": "string", "title": "手机号码", "format": "cn-mobile"},
    "age": {"type": "integer", "title": "年龄", "minimum": 0}}}, ensure_ascii=False)
UI = json.dumps({"ui:order": ["phone", "*"], "name": {"ui:help": "请填写真实姓名"}}, ensure_ascii=False)


def test_the_workbench_starts_from_a_blank_form(designer_setup, browser):
    browser.login("designer")
    html = browser.text(browser.get("/designer/forms/workbench"))
    assert "新表单" in html and "表单还没有字段" in html


def test_the_forms_page_lists_the_schema_files(designer_setup, browser):
    browser.login("designer")
    html = browser.text(browser.get("/designer/forms"))
    assert "/designer/forms/workbench?file=note.schema.json" in html
    assert "/designer/forms/file/note.schema.json" in html


def test_the_workbench_opens_a_form_file_and_renders_it_like_the_task_page(designer_setup, browser):
    browser.login("designer")
    html = browser.text(browser.get("/designer/forms/workbench?file=note.schema.json"))
    assert "&#34;办理意见&#34;" in html or "&quot;办理意见&quot;" in html   # the schema, in the textarea
    preview = html.split('id="preview"')[1]
    assert 'id="f_note"' in preview and 'name="note"' in preview and 'id="f_divisor"' in preview
    assert 'title="必填"' in preview   # the same markup as templates/web/_form.html gives a task page


def test_the_workbench_reports_json_syntax_with_line_and_column(designer_setup, browser):
    browser.login("designer")
    resp = browser.post("/designer/forms/workbench", {"schema": '{\n  "type": "object",\n  "properties": {,}\n}',
                                                     "uischema": "[]", "data": "{}", "action": "preview"})
    html = browser.text(resp)
    assert resp.status_code == 422
    assert "JSON Schema不是有效的 JSON：第 3 行第 18 列，此处应为用双引号括起的属性名" in html
    assert "UI schema顶层必须是 JSON 对象" in html


def test_the_workbench_reports_what_deploy_refuses_in_a_schema(designer_setup, browser):
    browser.login("designer")
    resp = browser.post("/designer/forms/workbench", {"schema": '{"type": "object", "properties": {"a": {"type": "strin"}}}',
                                                     "uischema": "", "data": "", "action": "preview"})
    assert resp.status_code == 422 and 'data-part="schema"' in browser.text()


def test_the_workbench_validates_sample_data_like_a_task_submission(designer_setup, browser):
    from app.designer import services
    browser.login("designer")
    data = json.dumps({"name": "李", "phone": "123", "age": -1, "extra": 1})
    resp = browser.post("/designer/forms/workbench", {"schema": SCHEMA, "uischema": UI, "data": data,
                                                     "action": "validate"})
    html = browser.text(resp)
    assert resp.status_code == 422
    expected = services.form_data_errors(json.loads(SCHEMA), json.loads(data))
    assert set(expected) == {"name", "phone", "age", "extra"}
    for path, messages in expected.items():
        for message in messages:
            assert message.split("：")[-1] in html, (path, message)
    assert 'id="f_phone"' in html and 'aria-invalid="true"' in html and "此表单没有该字段" in html
    assert html.index('id="f_phone"') < html.index('id="f_name"')   # ui:order applies
    ok = browser.post("/designer/forms/workbench", {"schema": SCHEMA, "uischema": UI, "action": "validate",
                                                   "data": json.dumps({"name": "李明", "phone": "13800000001"})})
    assert ok.status_code == 200 and 'id="workbench-valid"' in browser.text(ok)


def test_the_workbench_downloads_what_was_typed_and_writes_nothing(designer_setup, browser):
    resp_path = FIXTURES / "forms" / "note.schema.json"
    before = resp_path.read_text(encoding="utf-8")
    browser.login("designer")
    resp = browser.post("/designer/forms/workbench", {"schema": SCHEMA, "uischema": UI, "data": "{}",
                                                     "path": "note.schema.json", "ui_path": "note.uischema.json",
                                                     "action": "download_schema"})
    assert resp.status_code == 200 and resp.headers["Content-Disposition"] == 'attachment; filename="note.schema.json"'
    assert resp.get_data(as_text=True) == SCHEMA
    resp = browser.post("/designer/forms/workbench", {"schema": SCHEMA, "uischema": UI, "path": "note.schema.json",
                                                     "ui_path": "note.uischema.json", "action": "download_ui"})
    assert resp.headers["Content-Disposition"] == 'attachment; filename="note.uischema.json"'
    assert resp.get_data(as_text=True) == UI
    assert resp_path.read_text(encoding="utf-8") == before
    resp = browser.post("/designer/forms/workbench", {"schema": SCHEMA, "path": 'x"\r\nSet-Cookie: a=b; x.json',
                                                     "action": "download_schema"})
    assert resp.headers["Content-Disposition"] == 'attachment; filename="form.schema.json"'
    resp = browser.get("/designer/forms/file/note.schema.json")
    assert resp.get_data(as_text=True) == before and "attachment" in resp.headers["Content-Disposition"]


def test_the_live_preview_endpoint_returns_the_fragment_and_the_errors(designer_setup, browser):
    browser.login("designer")
    resp = _post_json(browser, "/designer/forms/preview", {"schema": SCHEMA, "uischema": UI, "data": '{"age": "x"}',
                                                           "validate": True})
    body = resp.get_json()
    assert resp.status_code == 200 and body["valid"] is False and body["problems"] == {}
    assert set(body["errors"]) == {"name", "phone", "age"}
    assert 'id="f_age"' in body["html"] and "<html" not in body["html"] and "表单有 3 处需要修改" in body["html"]
    body = _post_json(browser, "/designer/forms/preview", {"schema": "{", "uischema": None}).get_json()
    assert body["valid"] is False and "JSON Schema不是有效的 JSON" in body["problems"]["schema"][0]
    assert _post_json(browser, "/designer/forms/preview", ["x"]).status_code == 422
