"""Single sign-on with OpenID Connect (Authlib): the province's unified identity service (统一身份认证).

The authorization-code flow with state and nonce; the ID token's signature (the issuer's JWKS), issuer,
audience (our client id), expiry and nonce are checked by Authlib. A signed-in person is matched to a
user by one claim (OIDC_MATCH_CLAIM against user.username or user.email); an unknown person is created
without groups (an administrator assigns them) or refused, as OIDC_CREATE_USERS says. Every refusal is
an OidcRefused with a Chinese message; no library message reaches a person."""
from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import current_app
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from requests import RequestException

from app.auth.models import User
from app.extensions import db

log = logging.getLogger(__name__)
CLIENT_NAME = "gov_sso"
UNUSABLE_PASSWORD = "!oidc"   # never matches: werkzeug's check_password_hash needs "method$salt$hash"


class OidcRefused(Exception):
    def __init__(self, message: str, status: int = 401):
        self.message, self.status = message, status
        super().__init__(message)


def enabled() -> bool:
    config = current_app.config
    return bool(config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID"))


def client():
    """The Authlib client of the configured provider (one per configuration, kept on the app)."""
    config = current_app.config
    key = (config["OIDC_ISSUER"], config["OIDC_CLIENT_ID"], config["OIDC_CLIENT_SECRET"], config["OIDC_SCOPES"])
    clients = current_app.extensions.setdefault("wuyi_oidc", {})
    if key not in clients:
        oauth = OAuth(current_app._get_current_object())
        clients[key] = oauth.register(
            CLIENT_NAME, client_id=key[1], client_secret=key[2],
            server_metadata_url=key[0] + "/.well-known/openid-configuration",
            client_kwargs={"scope": key[3], "timeout": 10})
    return clients[key]


def begin(redirect_uri: str):
    """The redirect to the provider's login page (state and nonce kept in the session)."""
    try:
        return client().authorize_redirect(redirect_uri)
    except (RequestException, AuthlibBaseError, ValueError, KeyError) as exc:
        log.warning("OIDC discovery failed: %r", exc)
        raise OidcRefused("统一身份认证服务暂时无法访问，请稍后再试或使用用户名和密码登录", 503) from None


def finish() -> dict:
    """Exchange the code and check the ID token; the verified claims. Raises OidcRefused."""
    config = current_app.config
    try:
        sso = client()
        issuer = sso.load_server_metadata().get("issuer")
        if issuer != config["OIDC_ISSUER"]:
            log.warning("OIDC discovery names issuer %r, configured %r", issuer, config["OIDC_ISSUER"])
            raise OidcRefused("统一身份认证服务的配置与本系统不符（issuer 不一致），请联系系统管理员", 503)
        # Authlib checks aud only through azp: name both the issuer and our client id as required values
        token = sso.authorize_access_token(claims_options={
            "iss": {"essential": True, "values": [issuer]},
            "aud": {"essential": True, "values": [config["OIDC_CLIENT_ID"]]}})
    except MismatchingStateError:
        raise OidcRefused("登录请求已失效或不是由本系统发起（state 校验失败），请重新登录") from None
    except ExpiredTokenError:
        raise OidcRefused("统一身份认证的登录凭证已过期，请重新登录") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        log.warning("OIDC ID token refused: claim %s", exc.claim)
        words = {"aud": "登录凭证不是签发给本系统的（受众 aud 不符），已拒绝",
                 "azp": "登录凭证不是签发给本系统的（受众 aud 不符），已拒绝",
                 "iss": "登录凭证不是由配置的统一身份认证服务签发的（签发者 iss 不符），已拒绝",
                 "nonce": "登录凭证与本次登录请求不匹配（nonce 校验失败），请重新登录",
                 "exp": "统一身份认证的登录凭证已过期，请重新登录"}
        raise OidcRefused(words.get(exc.claim, "统一身份认证的登录凭证无效，已拒绝")) from None
    except OAuthError as exc:
        log.warning("OIDC error from the provider: %s", exc.error)
        if exc.error == "access_denied":
            raise OidcRefused("您在统一身份认证页面取消了登录") from None
        raise OidcRefused("统一身份认证登录未成功，请重新登录或使用用户名和密码登录") from None
    except (JoseError, AuthlibBaseError, ValueError) as exc:
        log.warning("OIDC token refused: %r", exc)
        raise OidcRefused("统一身份认证的登录凭证无效（签名或格式校验失败），已拒绝") from None
    except RequestException as exc:
        log.warning("OIDC token endpoint failed: %r", exc)
        raise OidcRefused("统一身份认证服务暂时无法访问，请稍后再试或使用用户名和密码登录", 503) from None
    claims = token.get("userinfo")
    if not claims:
        raise OidcRefused("统一身份认证服务没有返回身份信息（ID token），无法登录")
    return dict(claims)


USERNAME_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def user_for_claims(claims: dict) -> User:
    """The user these verified claims name; created without groups, or refused, as configured.
    Commits when it creates one."""
    config = current_app.config
    claim, field = config["OIDC_MATCH_CLAIM"], config["OIDC_MATCH_FIELD"]
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise OidcRefused(f"统一身份认证没有提供用于匹配账号的信息（{claim}），请联系系统管理员", 403)
    value = value.strip()
    column = User.email if field == "email" else User.username
    user = db.session.execute(sa.select(User).where(column == value)).scalars().first()
    if user is None:
        if not config["OIDC_CREATE_USERS"]:
            raise OidcRefused("您的统一身份认证账号尚未在本系统开通，请联系系统管理员开通后再登录", 403)
        user = _create(claims, value, field)
    if not user.is_active_user:
        raise OidcRefused("该账号已停用，请联系系统管理员", 403)
    return user


def _create(claims: dict, value: str, field: str) -> User:
    from app.admin.audit_log import AdminAction, record
    base = claims.get("preferred_username") if field == "email" else value
    username = USERNAME_SAFE.sub("_", str(base or claims.get("sub") or "sso"))[:70] or "sso"
    candidate, n = username, 1
    while db.session.execute(sa.select(User.id).where(User.username == candidate)).first():
        n += 1
        candidate = f"{username}_{n}"
    name = str(claims.get("name") or value)[:100]
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    user = User(username=candidate, display_name=name, password_hash=UNUSABLE_PASSWORD, email=email,
                is_active_user=True, failed_login_count=0, must_change_password=False, groups=[])
    db.session.add(user)
    db.session.flush()
    record(None, AdminAction.OIDC_USER_CREATE, "统一身份认证首次登录，尚未分配用户组", label=f"{name}（{candidate}）",
           user_id=user.id, subject=str(claims.get("sub") or ""))
    db.session.commit()
    return user
