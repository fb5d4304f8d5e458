"""Login and logout for people (Flask-Login sessions; the form carries a CSRF token)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.auth.models import User
from app.auth.lockout import LOGIN_FAILED_MESSAGE, authenticate
from app.auth.throttle import THROTTLED_MESSAGE, throttled
from app.web.applications import home_url

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=80, message="用户名过长")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200, message="密码过长")])
    remember = BooleanField("在此设备上保持登录")


def check_credentials(username: str, password: str) -> User | None:
    """The active, unlocked user with this password, else None (the same answer for an unknown user,
    a wrong password and a locked account; failures counted, app/auth/lockout.py)."""
    return authenticate(username, password)


def _throttled_page(request_limit):
    """Too many failed logins (app/auth/throttle.py): the form again, with the username kept."""
    form = LoginForm()
    form.password.errors = [THROTTLED_MESSAGE]
    return make_response(render_template("auth/login.html", form=form), 429)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute URL (open redirect) or a scheme-relative one."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@throttled(on_breach=_throttled_page)
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = check_credentials(form.username.data.strip(), form.password.data)
        if user is not None:
            session.clear()   # a fresh session at login: no fixation
            login_user(user, remember=form.remember.data)
            flash(f"欢迎，{user.display_name}", "success")
            return redirect(safe_next(request.args.get("next")) or home_url(user))
        form.password.errors.append(LOGIN_FAILED_MESSAGE)
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))
