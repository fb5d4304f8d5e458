"""Schemathesis over /api/v1/openapi.json against a real server process (#15): every operation,
as a caseworker and as an administrator, bounded (a few examples per operation, no shrinking
time wasted). No answer may be a 5xx, and every answer must be documented: its status, its
content type and its body's schema (an error body is the ErrorSchema)."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.server.conftest import Server, scratch_database_url

pytestmark = pytest.mark.slow

USERS = ("intake1", "admin")     # a caseworker, and an administrator (who reaches every operation)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    srv = Server(scratch_database_url(tmp, "wuyi_fuzz_test"), tmp)
    for cmd in (("db", "upgrade"), ("seed", "demo")):   # users, bpmn/ deployed, the demo cases in every state
        done = srv.flask(*cmd)
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    srv.start("--no-scheduler")
    srv.tokens = {}
    for user in USERS:
        resp = requests.post(srv.url + "/api/v1/auth/token", json={"username": user, "password": "demo12345"},
                             timeout=30)
        assert resp.status_code == 200, resp.text
        srv.tokens[user] = resp.json()["token"]
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(fuzz_server.url + "/api/v1/openapi.json")


def real_ids(server) -> dict:
    """Ids of records the demo data has, for the path parameters of a second pass: random ids
    mostly meet 404s, these reach the operations' own logic."""
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    tasks = requests.get(server.url + "/api/v1/tasks?scope=all&per_page=100", headers=headers, timeout=30).json()
    task = tasks["items"][0]
    return {"task_id": task["id"], "instance_id": task["instance_id"], "key": task["process_key"], "version": 1,
            "incident_id": 1}


def fuzz(operation, mode, server, path_parameters=None) -> list[str]:
    """Up to EXAMPLES generated requests of one operation and mode, each sent as every user; the
    failures, one line each (the operation, the user, the request, the check's words)."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        for user in USERS:
            response = case.call(headers={"Authorization": f"Bearer {server.tokens[user]}"}, timeout=30)
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{operation.label} as {user} [{mode.value}] {response.status_code} "
                                f"{response.request.url} body={str(case.body)[:200]}: {str(exc)[:600]}")

    try:
        run()
    except Unsatisfiable:   # negative mode of an operation with nothing to get wrong (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


def test_the_api_never_answers_5xx_and_keeps_its_schema(api_schema, fuzz_server):
    failures, operations, ids = [], 0, real_ids(fuzz_server)
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz(operation, mode, fuzz_server)
        names = [p.name for p in operation.path_parameters]
        if names and all(n in ids for n in names):   # again on records that exist
            failures += fuzz(operation, GenerationMode.POSITIVE, fuzz_server, {n: ids[n] for n in names})
    assert operations > 30
    assert failures == [], "\n\n".join(failures[:40])


def test_the_fuzzer_would_see_a_5xx(api_schema, fuzz_server):
    """The checks are live: a 500 answer fails not_a_server_error."""
    operation = api_schema["/api/v1/tasks"]["GET"]
    case = operation.Case(query={})
    response = case.call(headers={"Authorization": f"Bearer {fuzz_server.tokens['intake1']}"})
    case.validate_response(response, checks=CHECKS)   # a real, good answer passes
    response.status_code = 500
    with pytest.raises(FailureGroup, match="Server error"):
        case.validate_response(response, checks=[not_a_server_error])
