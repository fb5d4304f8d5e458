"""Hardening (#15): deep JSON, oversized ids, the remember-me cookie, security headers, no inline
scripts in the templates."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from app.config import ProductionConfig, TestConfig
from tests.web.helpers import Browser

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
HUGE = "99999999999999999999"


@pytest.fixture
def browser(app):
    return Browser(app)


def deep(levels=5000) -> str:
    return "[" * levels + "]" * levels


def concrete(rule) -> str:
    path = rule.rule
    for name, conv in rule._converters.items():
        value = "1" if type(conv).__name__ in ("IdConverter", "IntegerConverter") else "x"
        path = re.sub(r"<(?:[^:<>]+:)?" + name + r">", value, path)
    return path


def test_the_reported_deep_json_is_a_400(seeded, api):
    resp = api._call("post", "/api/v1/process-definitions/complaint/start", "intake1", data=deep(),
                     content_type="application/json")
    assert resp.status_code == 400
    err = resp.get_json()["error"]
    assert err["code"] == "json_too_deep" and "嵌套层数过多" in err["message"] and err["fields"] == {
        "json": ["嵌套不能超过 64 层"]}


def test_every_json_endpoint_refuses_deep_json(app, seeded, api):
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            resp = api._call(method.lower(), concrete(rule), "admin", data=deep(200),
                             content_type="application/json")
            assert resp.status_code == 400, (method, rule.rule, resp.status_code)
            if resp.is_json:
                assert resp.get_json()["error"]["code"] == "json_too_deep", (rule.rule, resp.get_json())
            else:   # a page's route: the Chinese error page
                assert "JSON 嵌套层数过多" in resp.get_data(as_text=True), rule.rule
            checked += 1
    assert checked > 20


def test_json_within_the_limit_still_reaches_the_view(seeded, api):
    nested = {"a": 1}
    for _ in range(60):
        nested = {"n": nested}
    resp = api.post("/api/v1/process-definitions/complaint/start", "intake1", json={"data": {"x": nested}})
    assert resp.status_code != 400 or resp.get_json()["error"]["code"] != "json_too_deep"


def test_the_reported_oversized_id_is_a_404(seeded, api):
    resp = api.get("/api/v1/tasks/" + HUGE, "intake1")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/tasks/2147483647", "intake1").status_code == 404   # the largest id: a plain miss


def test_every_id_in_every_path_is_a_404_when_too_large(app, seeded, api):
    checked = 0
    for rule in app.url_map.iter_rules():
        ids = [n for n, c in rule._converters.items() if type(c).__name__ == "IdConverter"]
        for name in ids:
            path = concrete(rule)
            path = re.sub(r"/1(?=/|$)", "/" + HUGE, path, count=1) if len(ids) == 1 else path.replace(
                "/1", "/" + HUGE, 1)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                resp = api._call(method.lower(), path, "admin", json={})
                assert resp.status_code == 404, (method, path, resp.status_code)
                checked += 1
    assert checked > 20


@pytest.mark.parametrize("path", [
    "/api/v1/tasks?page=" + HUGE, "/api/v1/tasks?per_page=" + HUGE, "/api/v1/instances?page=" + HUGE,
    "/api/v1/instances?version=" + HUGE, "/api/v1/supervision/tasks?page=" + HUGE,
    "/api/v1/supervision/cases?page=" + HUGE, "/api/v1/applications?page=" + HUGE,
    "/api/v1/cases?page=" + HUGE, "/api/v1/completed-tasks?page=" + HUGE,
])
def test_oversized_query_integers_are_a_validation_error(seeded, api, path):
    resp = api.get(path, "admin")
    assert resp.status_code in (422, 404), (path, resp.status_code)
    if resp.status_code == 422:
        assert resp.get_json()["error"]["code"] == "validation_failed"


def test_an_oversized_id_in_a_body_is_a_validation_error(seeded, api):
    resp = api.post("/api/v1/messages", "admin", json={"name": "x", "correlation": {"instance_id": int(HUGE)}})
    assert resp.status_code == 422, resp.get_json()
    assert "correlation" in resp.get_json()["error"]["fields"] or "instance_id" in str(resp.get_json())


def test_the_remember_me_cookie_is_httponly_and_samesite(seeded, browser):
    resp = browser.post("/login", {"username": "intake1", "password": "demo12345", "remember": "y"})
    assert resp.status_code == 302
    cookie = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=Lax" in cookie[0], cookie
    assert "Secure" not in cookie[0]   # plain http in development


def production_app(tmp_path, **extra):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}", "SECRET_KEY": "x" * 32,
                       **extra}, config_class=ProductionConfig)


def test_production_cookies_are_secure(tmp_path):
    app = production_app(tmp_path)
    assert app.config["REMEMBER_COOKIE_SECURE"] is True and app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True and app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_pages_carry_the_security_headers(seeded, browser):
    resp = browser.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert re.search(r"'nonce-[\w-]{16,}'", directives["script-src"])
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in resp.headers   # not in development or tests
    again = browser.get("/login").headers["Content-Security-Policy"]
    assert again != csp   # a fresh nonce on each answer


def test_a_single_sign_on_issuer_may_receive_the_login_form(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'o.sqlite'}",
                      "OIDC_ISSUER": "https://id.gd.gov.example/realms/jm"}, config_class=TestConfig)
    csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert "form-action 'self' https://id.gd.gov.example;" in csp


def test_behind_a_proxy_the_client_address_counts(tmp_path):
    from app.auth.throttle import ip_key
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}", "PROXY_FIX_HOPS": 1},
                     config_class=TestConfig)
    seen = {}

    @app.get("/_probe")
    def probe():
        seen["key"] = ip_key()
        return "ok"
    app.test_client().get("/_probe", headers={"X-Forwarded-For": "203.0.113.7"})
    assert seen["key"] == "login-ip:203.0.113.7"


def test_hsts_and_https_only_in_production(tmp_path):
    app = production_app(tmp_path)
    client = app.test_client()
    plain = client.get("/login")
    assert plain.status_code == 301 and plain.headers["Location"] == "https://localhost/login"
    posted = client.post("/api/v1/auth/token", json={})
    assert posted.status_code == 308 and posted.headers["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200   # probes ask over plain HTTP
    secure = client.get("/login", base_url="https://wuyi.example")
    assert secure.status_code == 200 and "max-age=" in secure.headers["Strict-Transport-Security"]
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200
    dev = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.sqlite'}"}, config_class=TestConfig)
    assert dev.test_client().get("/healthz").status_code == 200


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def offenders(text: str) -> list[str]:
    return [m.group(0)[:80] for rx in (INLINE_SCRIPT, HANDLER, JS_URL) for m in rx.finditer(text)]


def test_no_template_has_inline_script_code_or_handlers():
    found = {str(p.relative_to(TEMPLATES)): offenders(p.read_text(encoding="utf-8"))
             for p in TEMPLATES.rglob("*.html")}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_template_scan_catches_what_the_csp_would_block():
    assert offenders('<script>alert(1)</script>')
    assert offenders('<script defer>x()</script>')
    assert offenders('<button type="button" onclick="go()">')
    assert offenders('<body\n  onload="x()">')
    assert offenders('<a href="javascript:void(0)">')
    assert not offenders('<script src="/static/js/forms.js" defer></script>')
    assert not offenders('<script type="application/json" id="d">{"a": 1}</script>')
    assert not offenders('<p data-once="1" class="online">')


def test_json_depth_is_measured_without_recursion():
    from app import jsondepth
    assert jsondepth.depth_of(1) == 0 and jsondepth.depth_of([]) == 1 and jsondepth.depth_of({"a": [1, {}]}) == 3
    assert jsondepth.loads('{"a": [1, 2]}') == {"a": [1, 2]}
    assert jsondepth.depth_of(jsondepth.loads("[" * 64 + "]" * 64)) == 64
    for text in ("[" * 65 + "]" * 65, deep(5000), '{"a":' * 3000 + "1" + "}" * 3000):
        with pytest.raises(jsondepth.JsonTooDeep, match="JSON 嵌套层数过多（最多 64 层）"):
            jsondepth.loads(text)
    with pytest.raises(ValueError):
        jsondepth.loads("{ broken")


def test_a_deep_json_text_in_the_form_workbench_is_a_problem_of_its_part():
    from app.designer.services import FormCheck, _parse_json_part
    check = FormCheck()
    assert _parse_json_part(check, "schema", deep(5000), required=True) is None
    assert check.problems["schema"] and "嵌套层数过多" in check.problems["schema"][0]


def test_a_refused_diagram_answers_the_documented_error_body(app, seeded, api):
    """The 422 of a deploy lists its problems under error.problems: documented in ErrorSchema."""
    from jsonschema import Draft4Validator
    spec = api.get("/api/v1/openapi.json").get_json()
    resp = api.post("/api/v1/designer/deploy", "admin", json={"xml": "<x/>", "message": "试部署"})
    assert resp.status_code == 422 and resp.get_json()["error"]["problems"]
    body = spec["components"]["schemas"]["ErrorBody"]
    assert "problems" in body["properties"]
    Draft4Validator(body).validate(resp.get_json()["error"])
    documented = spec["paths"]["/api/v1/designer/deploy"]["post"]["responses"]["422"]
    assert documented["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
