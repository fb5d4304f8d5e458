"""The forced password change (#15): after an administrator reset a password, the user must choose a
new one before anything else — pages redirect here, the API answers 403 `password_change_required`."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.admin.users import change_own_password
from app.auth.passwords import RULES_TEXT
from app.errors import FormInvalid
from app.web.applications import home_url
from app.web.auth import safe_next

bp = Blueprint("password", __name__)
CHANGE_REQUIRED = "您的密码由系统管理员设置（新建账号或重置密码），请先修改为只有您知道的密码"
# what a user who must change the password can still reach
ALLOWED_ENDPOINTS = frozenset({"password.change", "auth.logout", "auth.login", "static", "favicon",
                               "api_auth.create_token"})


@bp.before_app_request
def _password_change_first():
    if request.endpoint in ALLOWED_ENDPOINTS or request.endpoint is None or request.endpoint.startswith("health"):
        return None
    if not current_user.is_authenticated or not getattr(current_user, "must_change_password", False):
        return None
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": "password_change_required",
                                  "message": CHANGE_REQUIRED + "（请在网页上登录并修改密码）"}}), 403
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("password.change", next=target))


@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change():
    errors, status = {}, 200
    back = safe_next(request.values.get("next"))
    if request.method == "POST":
        try:
            change_own_password(current_user._get_current_object(), request.form.get("current_password"),
                                request.form.get("new_password"), request.form.get("confirm_password"))
            flash("密码已修改", "success")
            return redirect(back or home_url(current_user))
        except FormInvalid as exc:
            errors, status = exc.fields or {}, 422
    return render_template("auth/change_password.html", errors=errors, rules=RULES_TEXT, next=back,
                           forced=current_user.must_change_password, message=CHANGE_REQUIRED), status
