"""统一身份认证 (OIDC) end to end against a local provider the tests start (tests/admin/oidc_provider.py):
the browser's redirects are followed by hand between the app's test client and the provider's HTTP
server; the app itself fetches discovery, JWKS and the token over HTTP as it would in production."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa

from app.auth.models import User
from tests.admin.oidc_provider import Provider


@pytest.fixture(scope="module")
def provider():
    p = Provider().start()
    yield p
    p.stop()


@pytest.fixture
def sso(app, provider, monkeypatch, seeded):
    provider.audience, provider.expires_in, provider.claims, provider.tamper_nonce = None, 300, {}, False
    provider.login_as = {"sub": "gd-0001", "preferred_username": "handler1", "name": "黄经办",
                         "email": "handler1@jiangmen.gov.cn"}
    for key, value in {"OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": provider.client_id,
                       "OIDC_CLIENT_SECRET": provider.client_secret, "OIDC_MATCH_CLAIM": "preferred_username",
                       "OIDC_MATCH_FIELD": "username", "OIDC_CREATE_USERS": False}.items():
        monkeypatch.setitem(app.config, key, value)
    return provider


def _get(client, path, **kw):
    with client.application.app_context():
        return client.get(path, **kw)


def start_login(client, next_path=None):
    """/login/oidc → the provider's authorize → the callback URL the browser would follow."""
    resp = _get(client, "/login/oidc" + (f"?next={next_path}" if next_path else ""))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    authorize = resp.headers["Location"]
    assert authorize.startswith(client.application.config["OIDC_ISSUER"] + "/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["state"] and query["nonce"] and query["scope"] == ["openid profile email"]
    back = requests.get(authorize, allow_redirects=False, timeout=10)
    assert back.status_code == 302
    return back.headers["Location"]


def callback(client, url):
    parts = urlsplit(url)
    return _get(client, parts.path + "?" + parts.query)


def whoami(client):
    return _get(client, "/api/v1/tasks")


def test_login_page_offers_sso_only_when_configured(app, client, sso, monkeypatch):
    assert "使用统一身份认证登录" in _get(client, "/login").get_data(as_text=True)
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "")
    assert "统一身份认证" not in _get(client, "/login").get_data(as_text=True)
    assert _get(client, "/login/oidc").status_code == 404
    assert _get(client, "/login/oidc/callback?code=x&state=y").status_code == 404


def test_sso_login_end_to_end(app, client, sso):
    assert whoami(client).status_code == 401
    resp = callback(client, start_login(client, "/tasks/done"))
    assert resp.status_code == 302 and resp.headers["Location"] == "/tasks/done"
    assert whoami(client).status_code == 200          # the session is the matched user's
    page = _get(client, "/tasks").get_data(as_text=True)
    assert "经办人 黄经办（市场监管局）" in page      # handler1, the existing account


def test_matching_by_email(app, client, sso, monkeypatch):
    monkeypatch.setitem(app.config, "OIDC_MATCH_CLAIM", "email")
    monkeypatch.setitem(app.config, "OIDC_MATCH_FIELD", "email")
    with app.app_context():
        user = app.extensions["sqlalchemy"].session.execute(sa.select(User).where(User.username == "qa1")).scalar_one()
        user.email = "su.shenhe@jiangmen.gov.cn"
        app.extensions["sqlalchemy"].session.commit()
    sso.login_as = {"sub": "gd-7", "preferred_username": "other", "email": "su.shenhe@jiangmen.gov.cn"}
    assert callback(client, start_login(client)).status_code == 302
    assert "审核员 苏审核" in _get(client, "/tasks").get_data(as_text=True)


def _refusal(client, url, status=401):
    resp = callback(client, url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    assert whoami(client).status_code == 401          # nobody logged in
    return resp.get_data(as_text=True)


def test_bad_state_is_refused(client, sso):
    url = start_login(client)
    forged = url.replace("state=", "state=forged")
    text = _refusal(client, forged)
    assert "state 校验失败" in text and "请重新登录" in text


def test_a_callback_without_a_started_login_is_refused(client, sso, app):
    url = start_login(client)
    other = app.test_client()                    # another browser: the state is not in its session
    text = _refusal(other, url)
    assert "state 校验失败" in text


def test_wrong_audience_is_refused(client, sso):
    sso.audience = "another-system"
    text = _refusal(client, start_login(client))
    assert "不是签发给本系统的" in text and "aud" in text


def test_wrong_audience_is_refused_even_with_our_client_as_azp(client, sso):
    # Authlib alone would accept this one: it checks aud only when azp is missing
    sso.audience, sso.claims = "another-system", {"azp": "wuyi-bpm"}
    assert "不是签发给本系统的" in _refusal(client, start_login(client))


def test_expired_token_is_refused(client, sso):
    sso.expires_in = -3600     # beyond Authlib's two minutes of clock leeway
    text = _refusal(client, start_login(client))
    assert "登录凭证已过期" in text


def test_wrong_issuer_and_forged_nonce_are_refused(client, sso):
    sso.claims = {"iss": "https://evil.example"}
    assert "签发者 iss 不符" in _refusal(client, start_login(client))
    sso.claims = {}
    sso.tamper_nonce = True
    assert "nonce 校验失败" in _refusal(client, start_login(client))


def test_a_token_signed_by_another_key_is_refused(client, sso):
    from joserfc.jwk import RSAKey
    real = sso.key
    sso.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"}, private=True)
    try:
        text = _refusal(client, start_login(client))
    finally:
        sso.key = real
    assert "签名或格式校验失败" in text


def test_unknown_user_is_refused_when_creation_is_off(app, client, sso):
    sso.login_as = {"sub": "gd-9", "preferred_username": "newcomer", "name": "新同事"}
    text = _refusal(client, start_login(client), status=403)
    assert "尚未在本系统开通" in text
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.execute(
            sa.select(User).where(User.username == "newcomer")).first() is None


def test_unknown_user_is_created_without_groups_when_configured(app, client, sso, monkeypatch):
    from app.audit.models import AuditEvent
    monkeypatch.setitem(app.config, "OIDC_CREATE_USERS", True)
    sso.login_as = {"sub": "gd-9", "preferred_username": "newcomer", "name": "新同事", "email": "new@jiangmen.gov.cn"}
    assert callback(client, start_login(client)).status_code == 302
    assert whoami(client).status_code == 200
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        user = session.execute(sa.select(User).where(User.username == "newcomer")).scalar_one()
        assert user.groups == [] and user.display_name == "新同事" and user.email == "new@jiangmen.gov.cn"
        event = session.execute(sa.select(AuditEvent).where(AuditEvent.action == "oidc_user_create")).scalar_one()
        assert event.data["user_id"] == user.id
    # the created account has no usable password
    with app.app_context():
        assert app.test_client().post("/login", data={"username": "newcomer", "password": "!oidc"}).status_code == 401
    # a second login finds the same account
    other = app.test_client()
    assert callback(other, start_login(other)).status_code == 302
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.execute(
            sa.select(sa.func.count()).select_from(User).where(User.username.like("newcomer%"))).scalar_one() == 1


def test_disabled_user_is_refused(app, client, sso):
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        session.execute(sa.update(User).where(User.username == "handler1").values(is_active_user=False))
        session.commit()
    assert "已停用" in _refusal(client, start_login(client), status=403)


def test_missing_match_claim_is_refused(client, sso):
    sso.login_as = {"sub": "gd-3", "name": "无用户名"}
    assert "preferred_username" in _refusal(client, start_login(client), status=403)


def test_provider_down_is_a_clear_message(app, client, sso, monkeypatch):
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "http://127.0.0.1:9")   # nothing listens there
    resp = _get(client, "/login/oidc")
    assert resp.status_code == 503 and "暂时无法访问" in resp.get_data(as_text=True)


def test_a_provider_that_names_another_issuer_is_refused(app, client, sso, monkeypatch):
    # the same server reached by another name: its discovery document names 127.0.0.1, not localhost
    monkeypatch.setitem(app.config, "OIDC_ISSUER", sso.issuer.replace("127.0.0.1", "localhost"))
    resp = _get(client, "/login/oidc")
    assert resp.status_code == 302
    back = requests.get(resp.headers["Location"].replace("localhost", "127.0.0.1"), allow_redirects=False, timeout=10)
    text = _refusal(client, back.headers["Location"], status=503)
    assert "issuer 不一致" in text


def test_the_person_cancelling_at_the_provider_is_told_so(client, sso):
    url = start_login(client)
    state = parse_qs(urlsplit(url).query)["state"][0]
    text = _refusal(client, f"/login/oidc/callback?error=access_denied&state={state}")
    assert "取消了登录" in text
