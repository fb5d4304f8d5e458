"""The http connector and the registry's retries, without the engine."""
from __future__ import annotations

import base64

import pytest

from app.connectors import ConnectorError, build_registry, make_caller
from app.connectors.http import request
from tests.connectors.server import LocalServer


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def _config(server, **extra):
    return {"CONNECTOR_HTTP_ALLOW": server.url + "/", "CONNECTOR_HTTP_TIMEOUT": 5, **extra}


def test_a_get_answers_status_mimetype_and_the_parsed_body(server):
    result = request({"url": server.url + "/hello", "params": {"q": "企业", "n": 2},
                      "headers": {"X-Test": "1"}}, _config(server))
    assert result == {"http_status": 200, "mimetype": "application/json",
                      "body": {"ok": True, "path": "/hello", "echo": None}}
    call = server.backend.calls[-1]
    assert call["method"] == "GET" and "q=%E4%BC%81%E4%B8%9A" in call["path"] and "n=2" in call["path"]
    assert call["headers"]["X-Test"] == "1"


def test_a_post_sends_json_and_basic_auth(server):
    result = request({"url": server.url + "/x", "method": "post", "json": {"uscc": "91440700", "n": [1]},
                      "basic_auth_username": "u", "basic_auth_password": "p"}, _config(server))
    call = server.backend.calls[-1]
    assert call["method"] == "POST" and call["body"] == {"uscc": "91440700", "n": [1]}
    assert call["headers"]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert result["body"]["echo"] == {"uscc": "91440700", "n": [1]}


def test_text_answers_stay_text(server):
    assert request({"url": server.url + "/text"}, _config(server))["body"] == "你好"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1/x",                   # another port
    "http://localhost/x",                     # another host
    "ftp://127.0.0.1/x",                      # another scheme
])
def test_an_address_outside_the_allow_list_is_refused_before_any_call(server, url):
    with pytest.raises(ConnectorError, match="不在允许调用的地址列表中") as err:
        request({"url": url}, _config(server))
    assert not err.value.retryable and server.backend.calls == []


def test_the_allow_list_matches_whole_path_segments_and_refuses_user_info(server):
    config = {"CONNECTOR_HTTP_ALLOW": server.url + "/api"}
    assert request({"url": server.url + "/api/x"}, config)["http_status"] == 200
    for url in (server.url + "/apix", server.url.replace("http://", "http://evil@") + "/api/x"):
        with pytest.raises(ConnectorError, match="不在允许"):
            request({"url": url}, config)
    with pytest.raises(ConnectorError, match="不在允许"):
        request({"url": server.url + "/api/x"}, {})     # nothing is allowed by default


def test_failures_say_what_happened_in_chinese_and_whether_to_retry(server):
    config = _config(server)
    with pytest.raises(ConnectorError, match=r"返回 HTTP 404") as err:
        request({"url": server.url + "/missing"}, config)
    assert not err.value.retryable
    server.backend.fail_next = 1
    with pytest.raises(ConnectorError, match=r"返回 HTTP 503") as err:
        request({"url": server.url + "/x"}, config)
    assert err.value.retryable
    with pytest.raises(ConnectorError, match="秒内没有响应") as err:
        request({"url": server.url + "/slow", "timeout": 0.3}, config)
    assert err.value.retryable
    with pytest.raises(ConnectorError, match="返回 HTTP 302"):          # a redirect could leave the list
        request({"url": server.url + "/redirect"}, config)
    with pytest.raises(ConnectorError, match="响应超过"):
        request({"url": server.url + "/big"}, config)
    with pytest.raises(ConnectorError, match="参数 url 未填写"):
        request({}, config)
    with pytest.raises(ConnectorError, match="参数 headers 应为字典"):
        request({"url": server.url + "/x", "headers": "a"}, config)
    with pytest.raises(ConnectorError, match="参数 method 无效"):
        request({"url": server.url + "/x", "method": "BREW"}, config)


def test_a_closed_port_is_a_retryable_connection_failure():
    with pytest.raises(ConnectorError, match="无法连接接口") as err:
        request({"url": "http://127.0.0.1:9/x"}, {"CONNECTOR_HTTP_ALLOW": "http://127.0.0.1:9"})
    assert err.value.retryable


def test_spiff_arena_operator_names_fix_the_method(server):
    registry = build_registry(_config(server))
    assert {"http", "http/GetRequest", "http/GetRequestV2", "http/PostRequestV2", "http/DeleteRequest"} <= set(registry)
    registry["http/PutRequestV2"]({"url": server.url + "/x", "data": {"a": 1}}, {})
    assert server.backend.calls[-1]["method"] == "PUT" and server.backend.calls[-1]["body"] == {"a": 1}


def test_the_caller_retries_retryable_failures_with_exponential_backoff(server):
    config = _config(server)
    waits = []
    call = make_caller(build_registry(config), {**config, "CONNECTOR_SLEEP": waits.append,
                                                "CONNECTOR_BACKOFF_SECONDS": 0.5})
    server.backend.fail_next = 2
    result = call("http", {"url": server.url + "/x"}, {}, {"retries": None, "backoff": None})
    assert result["http_status"] == 200 and len(server.backend.calls) == 3 and waits == [0.5, 1.0]
    server.backend.fail_next = 5
    with pytest.raises(ConnectorError, match=r"返回 HTTP 503（已尝试 2 次）"):
        call("http", {"url": server.url + "/x"}, {}, {"retries": 1, "backoff": 0})
    server.backend.calls.clear()
    server.backend.fail_next = 0
    with pytest.raises(ConnectorError, match="返回 HTTP 404"):       # not retried
        call("http", {"url": server.url + "/missing"}, {}, {"retries": 3, "backoff": 0})
    assert len(server.backend.calls) == 1


def test_the_backoff_is_capped(server):
    config = _config(server)
    waits = []
    call = make_caller(build_registry(config), {**config, "CONNECTOR_SLEEP": waits.append,
                                                "CONNECTOR_MAX_BACKOFF_SECONDS": 3})
    server.backend.fail_next = 10
    with pytest.raises(ConnectorError):
        call("http", {"url": server.url + "/x"}, {}, {"retries": 5, "backoff": 2})
    assert sum(waits) <= 3 and waits[0] == 2


def shout(params, data):
    """A deployment's own connector (CONNECTORS setting)."""
    return {"text": params["text"].upper(), "seen": sorted(data)}


def broken(params, data):
    return params["missing"]


def test_a_deployment_adds_its_own_connectors_and_an_unknown_name_is_refused():
    config = {"CONNECTORS": "shout=tests.connectors.test_http_connector:shout"}
    call = make_caller(build_registry(config), config)
    assert call("shout", {"text": "ok"}, {"a": 1}, {}) == {"text": "OK", "seen": ["a"]}
    with pytest.raises(ConnectorError, match="连接器“nope”未注册"):
        call("nope", {}, {}, {})
    with pytest.raises(ModuleNotFoundError):   # a bad setting fails at start-up, where the operator sees it
        build_registry({"CONNECTORS": "x=no.such.module:f"})
