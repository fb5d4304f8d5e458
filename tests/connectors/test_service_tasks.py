"""Service tasks run through the services: the connector's answer in the data, a failure an incident
with a located Chinese message (422 process_error, never a raw NameError or a 500), a retry after the
service is back; deploy refuses what cannot run."""
from __future__ import annotations

import pytest

from pathlib import Path

from tests.conftest import FIXTURES
from tests.conftest import deploy_fixture as _deploy
from tests.connectors.server import LocalServer

FORMS = Path(__file__).parent / "forms"


def deploy_fixture(name):
    return _deploy(name, forms_dir=FORMS)


@pytest.fixture
def users(app, db):
    from app.seed import seed_demo_users
    seed_demo_users("demo12345")


@pytest.fixture
def service(app):
    with LocalServer() as server:
        saved = app.config["CONNECTOR_HTTP_ALLOW"]
        app.config["CONNECTOR_HTTP_ALLOW"] = server.url
        yield server
        app.config["CONNECTOR_HTTP_ALLOW"] = saved


def _start(api, key, data, user="intake1"):
    return api.post(f"/api/v1/process-definitions/{key}/start", user=user, json={"data": data})


def test_a_service_task_calls_the_connector_and_maps_its_answer_into_the_data(users, api, service):
    deploy_fixture("service_call.bpmn")
    started = _start(api, "service_call", {"service_base": service.url})
    assert started.status_code == 201, started.get_json()
    task_id, instance_id = started.get_json()["tasks"][0]["id"], started.get_json()["instance"]["id"]
    done = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": {"note": "请查询"}})
    assert done.status_code == 200, done.get_json()
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="intake1").get_json()
    assert inst["status"] == "completed" and inst["data"]["level"] == "A"
    assert inst["data"]["credit"]["http_status"] == 200
    call = service.backend.calls[-1]
    assert call["method"] == "POST" and call["body"]["note"] == "请查询" and call["body"]["case"]


def test_a_failing_service_is_a_located_process_error_and_is_retried_once_it_is_back(users, api, service):
    deploy_fixture("service_call.bpmn")
    started = _start(api, "service_call", {"service_base": service.url}).get_json()
    task_id, instance_id = started["tasks"][0]["id"], started["instance"]["id"]
    service.backend.fail_next = 3                     # the first try and both retries get 503
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": {"note": "请查询"}})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "process_error" and err["element_id"] == "lookup"
    assert "查询信用信息" in err["message"] and "返回 HTTP 503（已尝试 3 次）" in err["message"]
    assert "Error" not in err["message"] and "Traceback" not in err["message"]
    assert len(service.backend.calls) == 3
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="intake1").get_json()
    assert inst["status"] == "error" and inst["error"]["element_id"] == "lookup"
    incidents = api.get("/api/v1/supervision/incidents", user="admin").get_json()["items"]
    assert [(i["source"], i["id"], i["element"]) for i in incidents] == [("script", instance_id, "lookup")]
    # the service is back: the supervisor retries with the saved input
    retried = api.post(f"/api/v1/supervision/instances/{instance_id}/retry", user="admin",
                       json={"note": "接口已恢复"})
    assert retried.status_code == 200, retried.get_json()
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="intake1").get_json()
    assert inst["status"] == "completed" and inst["data"]["level"] == "A"


def test_an_address_outside_the_allow_list_stops_at_the_service_task_with_its_reason(users, api, service):
    deploy_fixture("service_call.bpmn")
    started = _start(api, "service_call", {"service_base": "http://127.0.0.1:9"}).get_json()
    resp = api.post(f"/api/v1/tasks/{started['tasks'][0]['id']}/complete", user="intake1",
                    json={"data": {"note": "x"}})
    assert resp.status_code == 422
    assert "不在允许调用的地址列表中" in resp.get_json()["error"]["message"]


def test_a_script_error_on_start_saves_nothing_and_does_not_say_it_saved_a_draft(users, api, service, db):
    from app.cases.models import Case
    from app.processes.models import ProcessInstance
    deploy_fixture("service_at_start.bpmn")
    service.backend.status = 500
    resp = _start(api, "service_at_start", {"service_base": service.url})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "process_error" and err["element_id"] == "lookup"
    assert "草稿" not in err["message"] and "未启动" in err["message"]
    assert db.session.query(ProcessInstance).count() == 0 and db.session.query(Case).count() == 0
    service.backend.status = 200
    assert _start(api, "service_at_start", {"service_base": service.url}).status_code == 201


def test_a_deployments_own_connector_runs_and_its_own_errors_are_named_not_shown(users, api, app):
    from app import engine
    from app.connectors import make_caller

    def shout(params, data):
        return {"body": {"level": params["json"]["case"][:2]}}

    def broken(params, data):
        raise KeyError("secret internals")

    engine.configure(time_limit=1.0, services=make_caller({"http": shout}, app.config), service_names={"http"})
    try:
        deploy_fixture("service_at_start.bpmn")
        resp = _start(api, "service_at_start", {"service_base": "x"})
        assert resp.status_code == 201, resp.get_json()["error"]["message"]
        engine.configure(time_limit=1.0, services=make_caller({"http": broken}, app.config), service_names={"http"})
        resp = _start(api, "service_at_start", {"service_base": "x"})
        assert resp.status_code == 422
        message = resp.get_json()["error"]["message"]
        assert "连接器“http”执行出错（KeyError）" in message and "secret internals" not in message
    finally:
        from app.deadlines.due import add_business_duration
        from app.engine.helpers import script_helpers
        from app.connectors import build_registry
        registry = build_registry(app.config)
        engine.configure(helpers=script_helpers(add_business_duration), time_limit=app.config["SCRIPT_TIME_LIMIT"],
                         services=make_caller(registry, app.config), service_names=registry)


def _problems(name: str, content: str, tmp_path):
    from app.processes.deploy import deploy_file
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    outcomes = deploy_file(path, forms_dir=str(FORMS))
    return [p for o in outcomes for p in o.problems]


def test_deploy_refuses_an_unknown_connector_and_a_service_task_without_one_in_chinese(app, db, tmp_path):
    source = (FIXTURES / "bpmn" / "service_at_start.bpmn").read_text(encoding="utf-8")
    problems = _problems("a.bpmn", source.replace('id="http"', 'id="sap/CreateOrder"'), tmp_path)
    assert [(p.element_id, p.line) for p in problems] == [("lookup", 10)]
    assert "连接器“sap/CreateOrder”未注册（可用：http" in problems[0].message
    bare = source.replace('<spiffworkflow:serviceTaskOperator id="http" resultVariable="credit">', "<x>") \
        .replace("</spiffworkflow:serviceTaskOperator>", "</x>")
    bare = bare.replace("<x>", "").replace("</x>", "").replace('<spiffworkflow:retry retries="2" backoff_base="0" />', "")
    bare = bare.replace("<spiffworkflow:parameters>", "").replace("</spiffworkflow:parameters>", "")
    bare = "\n".join(line for line in bare.splitlines() if "spiffworkflow:parameter " not in line)
    problems = _problems("b.bpmn", bare, tmp_path)
    assert [p.element_id for p in problems] == ["lookup"]
    assert problems[0].message.startswith("流程无法解析：服务任务没有配置连接器")
    bad_param = source.replace("service_base + '/credit'", "service_base +")
    problems = _problems("c.bpmn", bad_param, tmp_path)
    assert [p.element_id for p in problems] == ["lookup"] and "参数 url 的表达式有误" in problems[0].message
