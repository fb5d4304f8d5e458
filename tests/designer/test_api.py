"""The designer API: designers and administrators only; validate, deploy, versions, diff, export,
migrate and drafts."""
from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from tests.designer.conftest import linear

V1 = linear("api_proc", [("register", "登记"), ("review", "审核")])
V2 = linear("api_proc", [("register", "登记"), ("check", "复核")])
FIVE = (FIXTURES / "bpmn" / "designer_five_problems.bpmn").read_text(encoding="utf-8")


def deploy(api, xml, message="测试", user="designer"):
    resp = api.post("/api/v1/designer/deploy", user=user, json={"xml": xml, "message": message})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/v1/designer/validate", {"xml": V1}),
    ("post", "/api/v1/designer/deploy", {"xml": V1, "message": "x"}),
    ("get", "/api/v1/designer/processes/api_proc/versions", None),
    ("get", "/api/v1/designer/processes/api_proc/diff?from=1&to=2", None),
    ("get", "/api/v1/designer/processes/api_proc/versions/1/xml", None),
    ("post", "/api/v1/designer/processes/api_proc/migrate", {"dry_run": True}),
    ("get", "/api/v1/designer/drafts/api_proc", None),
    ("post", "/api/v1/designer/drafts/api_proc", {"xml": V1}),
])
def test_caseworkers_and_supervisors_get_403_and_anonymous_401(users, api, method, path, body):
    for username in ("intake1", "supervisor"):
        resp = getattr(api, method)(path, user=username, **({"json": body} if body is not None else {}))
        assert resp.status_code == 403, (username, resp.get_json())
        assert resp.get_json()["error"]["code"] == "forbidden"
        assert "流程设计员" in resp.get_json()["error"]["message"]
    assert getattr(api, method)(path).status_code == 401


@pytest.mark.parametrize("username", ["designer", "admin"])
def test_designers_and_admins_are_allowed(users, fixture_forms, api, username):
    resp = api.post("/api/v1/designer/validate", user=username, json={"xml": V1})
    assert resp.status_code == 200 and resp.get_json() == {"valid": True, "problems": []}
    deploy(api, V1, user=username)
    resp = api.get("/api/v1/designer/processes/api_proc/versions", user=username)
    assert resp.status_code == 200 and resp.get_json()[0]["deployed_by"] == username


def test_validate_takes_raw_xml_or_json_and_lists_problems_with_element_and_line(users, fixture_forms, api):
    raw = api.client.post("/api/v1/designer/validate", data=FIVE.encode("utf-8"),
                          headers={"Authorization": f"Bearer {api.token('designer')}",
                                   "Content-Type": "application/xml"})
    assert raw.status_code == 200, raw.get_json()
    body = raw.get_json()
    assert body["valid"] is False
    assert {(p["element_id"], p["line"]) for p in body["problems"]} == {
        ("calc", 6), ("f_no", 14), ("review_no_group", 15), ("approve_no_form", 21), ("approve_deadline", 29)}
    as_json = api.post("/api/v1/designer/validate", user="designer", json={"xml": FIVE}).get_json()
    assert as_json == body
    broken = api.post("/api/v1/designer/validate", user="designer", json={"xml": "<bpmn:definitions"}).get_json()
    assert broken["valid"] is False and "XML" in broken["problems"][0]["message"]
    empty = api.post("/api/v1/designer/validate", user="designer", json={})
    assert empty.status_code == 422 and "xml" in empty.get_json()["error"]["fields"]


def test_deploy_refuses_with_every_problem_and_needs_a_message(users, fixture_forms, api):
    resp = api.post("/api/v1/designer/deploy", user="designer", json={"xml": FIVE, "message": "试试"})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "bpmn_invalid" and len(error["problems"]) == 5
    resp = api.post("/api/v1/designer/deploy", user="designer", json={"xml": V1})
    assert resp.status_code == 422 and "message" in resp.get_json()["error"]["fields"]
    assert api.get("/api/v1/designer/processes/api_proc/versions", user="designer").status_code == 404


def test_deploy_versions_diff_export_and_migrate(users, fixture_forms, api):
    first = deploy(api, V1, "第一版")
    assert first["deployed"] == [{"file": "api_proc.bpmn", "key": "api_proc", "version": 1, "created": True,
                                  "warnings": []}]
    unchanged = api.post("/api/v1/designer/deploy", user="designer", json={"xml": V1, "message": "再来"})
    assert unchanged.status_code == 200 and unchanged.get_json()["deployed"][0]["created"] is False
    started = api.post("/api/v1/process-definitions/api_proc/start", user="intake1", json={"data": {}})
    assert started.status_code == 201, started.get_json()
    instance_id = started.get_json()["instance"]["id"]
    deploy(api, V2, "删除审核，增加复核")

    versions = api.get("/api/v1/designer/processes/api_proc/versions", user="designer").get_json()
    assert [(v["version"], v["message"], v["running_instances"]) for v in versions] == [
        (2, "删除审核，增加复核", 0), (1, "第一版", 1)]

    diff = api.get("/api/v1/designer/processes/api_proc/diff?from=1&to=2", user="designer").get_json()
    assert {e["id"] for e in diff["removed"]} == {"review", "f_register_review", "f_review_end"}
    assert {e["id"] for e in diff["added"]} == {"check", "f_register_check", "f_check_end"}
    assert diff["changed"][0]["id"] == "register"
    assert diff["changed"][0]["changes"][0] == {"field": "outgoing", "title": "流出",
                                                "from": ["f_register_review"], "to": ["f_register_check"]}
    assert api.get("/api/v1/designer/processes/api_proc/diff", user="designer").get_json()["from_version"] == 1
    assert api.get("/api/v1/designer/processes/api_proc/diff?from=1&to=5", user="designer").status_code == 404

    xml = api.get("/api/v1/designer/processes/api_proc/versions/1/xml", user="designer")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert xml.get_data(as_text=True) == V1
    assert api.get("/api/v1/designer/processes/api_proc/versions/3/xml", user="designer").status_code == 404

    dry = api.post("/api/v1/designer/processes/api_proc/migrate", user="designer",
                   json={"from_version": 1, "dry_run": True}).get_json()
    assert dry["outcomes"] == [{"instance_id": instance_id, "status": "would_migrate", "from_version": 1,
                                "to_version": 2, "reasons": []}]
    done = api.post("/api/v1/designer/processes/api_proc/migrate", user="designer",
                    json={"instance_ids": [instance_id]}).get_json()
    assert done["summary"]["migrated"] == 1 and done["dry_run"] is False
    versions = api.get("/api/v1/designer/processes/api_proc/versions", user="designer").get_json()
    assert [v["running_instances"] for v in versions] == [1, 0]
    other = api.post("/api/v1/designer/processes/complaint/migrate", user="designer",
                     json={"instance_ids": [instance_id]})
    assert other.status_code == 404   # no such process deployed


def test_drafts_are_per_user_and_process(users, api):
    assert api.get("/api/v1/designer/drafts/api_proc", user="designer").status_code == 404
    saved = api.post("/api/v1/designer/drafts/api_proc", user="designer",
                     json={"xml": V1, "base_version": 1, "message": "草稿说明"})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["xml"] == V1 and saved.get_json()["base_version"] == 1
    raw = api.client.post("/api/v1/designer/drafts/api_proc?message=改", data=V2.encode("utf-8"),
                          headers={"Authorization": f"Bearer {api.token('designer')}",
                                   "Content-Type": "application/xml"})
    assert raw.status_code == 200 and raw.get_json()["message"] == "改"
    mine = api.get("/api/v1/designer/drafts/api_proc", user="designer").get_json()
    assert mine["xml"] == V2 and mine["base_version"] is None
    assert api.get("/api/v1/designer/drafts/api_proc", user="admin").status_code == 404   # not shared
    assert api._call("delete", "/api/v1/designer/drafts/api_proc", "designer").status_code == 204
    assert api.get("/api/v1/designer/drafts/api_proc", user="designer").status_code == 404


def test_the_designer_api_is_in_the_openapi_document(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/designer/processes/{key}/migrate" in paths
    assert "/api/v1/designer/validate" in paths
