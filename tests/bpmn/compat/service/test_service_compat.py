"""spiff-arena's service-task diagrams, deployed and run to their end against a local HTTP server."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.connectors.server import LocalServer

HERE = Path(__file__).parent


@pytest.fixture
def service(app):
    with LocalServer() as server:
        saved = app.config["CONNECTOR_HTTP_ALLOW"]
        app.config["CONNECTOR_HTTP_ALLOW"] = server.url
        yield server
        app.config["CONNECTOR_HTTP_ALLOW"] = saved


@pytest.mark.parametrize("name, origin, key, query, user", [
    ("basic_service_task.bpmn", "https://api.bamboohr.com", "BasicServiceTaskProcess",
     "fields=firstName%2ClastName", b"secret:BAMBOOHR_API_KEY:x"),
    ("service_task.bpmn", "https://example.com", "ServiceTaskProcess", None, b"x:x"),
])
def test_a_spiff_arena_service_task_runs_to_its_end(app, db, api, service, tmp_path, name, origin, key, query, user):
    from app.processes.deploy import deploy_file
    from app.seed import seed_demo_users
    seed_demo_users("demo12345")
    copy = tmp_path / name
    copy.write_text((HERE / name).read_text(encoding="utf-8").replace(origin, service.url), encoding="utf-8")
    outcomes = deploy_file(copy)
    assert [p for o in outcomes for p in o.problems] == [] and [o.key for o in outcomes] == [key]
    started = api.post(f"/api/v1/process-definitions/{key}/start", user="intake1", json={"data": {}})
    assert started.status_code == 201, started.get_json()
    instance = started.get_json()["instance"]
    assert instance["status"] == "completed"
    data = api.get(f"/api/v1/process-instances/{instance['id']}", user="intake1").get_json()["data"]
    assert data["bamboo_get_employee"]["http_status"] == 200
    call = service.backend.calls[-1]
    assert call["method"] == "GET" and call["headers"]["Authorization"] == "Basic " + base64.b64encode(user).decode()
    if query:
        assert call["path"].endswith("?" + query)
