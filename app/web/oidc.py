"""统一身份认证 login pages (#15): /login/oidc sends the browser to the provider, the callback logs in."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import login_user

from app.auth import oidc
from app.web.applications import home_url
from app.web.auth import LoginForm, safe_next

bp = Blueprint("oidc", __name__)
NEXT_KEY = "oidc_next"


@bp.get("/login/oidc")
def start():
    if not oidc.enabled():
        abort(404)
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    try:
        return oidc.begin(url_for("oidc.callback", _external=True))
    except oidc.OidcRefused as exc:
        return _refused(exc)


@bp.get("/login/oidc/callback")
def callback():
    if not oidc.enabled():
        abort(404)
    try:
        user = oidc.user_for_claims(oidc.finish())
    except oidc.OidcRefused as exc:
        return _refused(exc)
    target = session.get(NEXT_KEY)
    session.clear()   # a fresh session at login: no fixation
    login_user(user)
    flash(f"欢迎，{user.display_name}", "success")
    return redirect(target or home_url(user))


def _refused(exc: oidc.OidcRefused):
    session.pop(NEXT_KEY, None)
    flash(exc.message, "error")
    return render_template("auth/login.html", form=LoginForm()), exc.status
