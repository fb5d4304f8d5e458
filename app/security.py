"""Hardening of every request and answer (#15).

* ids in URLs: the `int` converter refuses numbers above the database's integer range, so
  /tasks/99999999999999999999 is a 404 like any missing record (it was a 500 on SQLite and
  PostgreSQL alike); query and body integers get the same bound in app/api/schemas.py.
* JSON bodies nested deeper than MAX_JSON_DEPTH: a 400 with a clear error, before a view parses them.
* security headers on every answer (flask-talisman): a CSP with a per-request nonce and no
  'unsafe-inline' for scripts (templates carry no inline script and no on* attribute; a test scans
  them), frame-ancestors 'none' and X-Frame-Options DENY, X-Content-Type-Options nosniff,
  Referrer-Policy; HSTS and the redirect to HTTPS only in production (FORCE_HTTPS; /healthz is
  spared); PROXY_FIX_HOPS trusts that many proxies' X-Forwarded-For/-Proto/-Host, so the per-IP
  login throttle sees the client's address, not the proxy's.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from app.errors import respond
from app.jsondepth import JsonTooDeep, loads

ID_MAX = 2**31 - 1   # PostgreSQL's integer; SQLite would take 2**63 - 1 but the columns are the same


class IdConverter(IntegerConverter):
    """`<int:...>` with an upper bound: a larger number is a 404, whatever the method (werkzeug's
    own bound, a skipped rule, answers 405 when another rule has the same path)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=ID_MAX, signed=False):   # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str):
        if self.max is not None and int(value) > self.max:
            raise NotFound()
        return super().to_python(value)


# bpmn-js injects its styles (and the diagram's colours) at run time, Chart.js sizes its canvas by
# style attributes: styles keep 'unsafe-inline'; scripts never do.
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(app: Flask) -> dict:
    """CSP of this app: a single sign-on issuer (OIDC_ISSUER) may receive the login form's redirect
    (form-action applies to the redirects after a form is sent)."""
    csp = dict(CSP)
    issuer = app.config.get("OIDC_ISSUER")
    if issuer:
        parts = urlsplit(issuer)
        if parts.scheme and parts.netloc:
            csp["form-action"] = ["'self'", f"{parts.scheme}://{parts.netloc}"]
    return csp


def register_security(app: Flask, api) -> None:
    from flask_smorest.spec.plugins import integerconverter2paramschema
    from flask_talisman import Talisman

    app.url_map.converters["int"] = IdConverter
    api.register_converter(IdConverter, integerconverter2paramschema)
    production = app.config["ENV_NAME"] == "production"
    if app.config.get("PROXY_FIX_HOPS"):   # behind a reverse proxy: the client's address and scheme
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = int(app.config["PROXY_FIX_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if production and app.config.get("FORCE_HTTPS"):
        app.before_request(redirect_to_https)
    Talisman(app, force_https=False,   # redirect_to_https does it, sparing /healthz
             strict_transport_security=production,
             strict_transport_security_max_age=app.config["HSTS_SECONDS"],
             content_security_policy=policy(app), content_security_policy_nonce_in=["script-src"],
             frame_options="DENY", referrer_policy="strict-origin-when-cross-origin",
             # the session cookie's flags stay those of the config (Secure in production only)
             session_cookie_secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
             session_cookie_http_only=True, session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"])
    app.before_request(refuse_deep_json)


def redirect_to_https():
    """Production over plain HTTP: the same address over HTTPS (301; 308 keeps a POST a POST).
    /healthz answers as it is: load balancers and probes ask over plain HTTP."""
    if request.is_secure or request.headers.get("X-Forwarded-Proto", "http") == "https" \
            or request.path == "/healthz":
        return None
    return redirect(request.url.replace("http://", "https://", 1),
                    code=301 if request.method in ("GET", "HEAD") else 308)


def refuse_deep_json():
    """A JSON body nested too deeply: 400 before any view (or webargs) parses it."""
    if not request.is_json or not request.content_length and not request.get_data(cache=True):
        return None
    max_depth = current_app.config["MAX_JSON_DEPTH"]
    try:
        loads(request.get_data(cache=True), max_depth)
    except JsonTooDeep as exc:
        return respond(400, {"error": {"code": "json_too_deep", "message": str(exc),
                                       "fields": {"json": [f"嵌套不能超过 {max_depth} 层"]}}})
    except ValueError:
        return None   # broken JSON: the view's parser says so in its own words
    return None
