"""Every message the API returns about a bad query parameter is Chinese: each query parameter of
each documented GET endpoint (read from /api/v1/openapi.json) gets bad values of its type."""
from __future__ import annotations

import re

import pytest

from app.api.schemas import TokenRequestSchema

CJK = re.compile(r"[\u4e00-\u9fff]")
BAD = {"integer": ["abc", "0", "100000", "1.5", ""], "boolean": ["maybe"], "enum": ["zzz"],
       "string": ["zzz", "2025-13-45"]}


def _messages(error: dict) -> list[str]:
    found = [error["message"]]
    for msgs in (error.get("fields") or {}).values():
        found.extend(msgs if isinstance(msgs, list) else [msgs])
    return [str(m) for m in found]


def _get_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        params = [p for p in (op or {}).get("parameters", []) if p.get("in") == "query"]
        if params:
            yield path.replace("{key}", "complaint"), params


def test_every_bad_query_parameter_is_answered_in_chinese(seeded, api, client):
    endpoints = list(_get_endpoints(client))
    assert {"/api/v1/tasks", "/api/v1/notifications", "/api/v1/supervision/overdue"} <= {p for p, _ in endpoints}
    refused, english = 0, []
    for path, params in endpoints:
        for param in params:
            schema = param.get("schema", {})
            kind = "enum" if schema.get("enum") else schema.get("type", "string")
            for value in BAD.get(kind, BAD["string"]):
                resp = api.get(path, user="admin", query_string={param["name"]: value})
                if resp.status_code < 400:
                    continue
                refused += 1
                body = resp.get_json()
                assert body and "error" in body, (path, param["name"], value, resp.data[:200])
                english += [(path, param["name"], value, m) for m in _messages(body["error"]) if not CJK.search(m)]
    assert refused >= 30
    assert english == [], "\n".join(map(str, english))


@pytest.mark.parametrize("query", ["per_page=1000", "per_page=abc", "page=0", "scope=everything", "overdue=maybe"])
def test_the_inbox_query_errors_are_chinese(seeded, api, query):
    resp = api.get(f"/api/v1/tasks?{query}", user="intake1")
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert all(CJK.search(m) for m in _messages(error)), error


def test_per_page_says_its_range(seeded, api):
    fields = api.get("/api/v1/tasks?per_page=1000", user="intake1").get_json()["error"]["fields"]
    assert fields == {"per_page": ["应在 1 至 100 之间"]}


def test_body_schemas_answer_in_chinese_too():
    errors = TokenRequestSchema().validate({"username": "", "password": 5, "extra": 1})
    assert all(CJK.search(m) for msgs in errors.values() for m in msgs), errors


def test_a_body_that_is_not_json_is_answered_in_chinese(client):
    resp = client.post("/api/v1/auth/token", data="{bad", content_type="application/json")
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert all(CJK.search(m) for m in _messages(error)), error
