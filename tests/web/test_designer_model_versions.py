"""The designer's version list shows what a version calls (#14): a process of its own model, or a
deployed version, pinned or the latest at deploy time; and the files deployed with it."""
from __future__ import annotations

import re

from tests.conftest import FIXTURES
from tests.designer.test_models import called, caller, write


def _rows(html):
    return re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', html, re.S)


def test_the_version_list_shows_the_called_processes_and_their_versions(app, db, monkeypatch, browser, tmp_path):
    from app.processes.deploy import deploy_file, deploy_model
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FIXTURES / "forms"))
    deploy_model([write(tmp_path, "main.bpmn", caller()), write(tmp_path, "review_sub.bpmn", called())])
    other = tmp_path / "deployed"
    other.mkdir()
    deploy_file(write(other, "audit_sub.bpmn", called(key="audit_sub", name="审计子流程")))
    deploy_file(write(other, "audit_sub.bpmn", called(key="audit_sub", name="审计子流程", task_name="再审")))
    deploy_model([write(tmp_path, "main.bpmn", caller(called="audit_sub", pin="1"))])
    deploy_model([write(tmp_path, "main.bpmn", caller(called="audit_sub"))])
    browser.login("designer")
    rows = _rows(browser.text(browser.get("/designer/processes/main/versions")))
    assert [v for v, _ in rows] == ["3", "2", "1"]
    latest, pinned, model = (body for _, body in rows)
    assert re.search(r"复核 调用 <strong>审计子流程</strong>\s*第 2 版<span class=\"muted\">（部署时的最新版）", latest)
    assert re.search(r"复核 调用 <strong>审计子流程</strong>\s*第 1 版<span class=\"tag\">固定版本</span>", pinned)
    assert re.search(r"复核 调用 <strong>复核子流程</strong>\s*<span class=\"muted\">（同一模型中的流程，随本版本部署）", model)
    assert "main.bpmn（与 review_sub.bpmn 一同部署）" in model and "一同部署" not in latest


def test_the_versions_api_lists_the_calls(app, db, monkeypatch, api, tmp_path):
    from app.processes.deploy import deploy_model
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FIXTURES / "forms"))
    deploy_model([write(tmp_path, "main.bpmn", caller()), write(tmp_path, "review_sub.bpmn", called())])
    [version] = api.get("/api/v1/designer/processes/main/versions", user="designer").get_json()
    assert version["calls"] == [{"element": "call_review", "name": "复核", "file": "main.bpmn",
                                 "process": "review_sub", "process_name": "复核子流程", "version": None,
                                 "pinned": False, "source": "model"}]
    assert version["model_files"] == ["main.bpmn", "review_sub.bpmn"]
