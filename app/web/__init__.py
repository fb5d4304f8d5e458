"""The caseworker web: login, inbox, task forms, start pages, case pages, notifications (issue #5).

Server-rendered (Jinja), Chinese interface, every form works without JavaScript and carries a CSRF
token (CSRFProtect, bound in create_app). Views are thin: parse -> authorize -> one service call ->
render or redirect. The services of app/tasks, app/processes and app/cases own the transactions;
app/web/pages.py shapes their data for the task and case pages.
"""
from __future__ import annotations

import logging

from flask import Flask
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.errors import respond
from app.extensions import login_manager
from app.notifications.services import unread_count

log = logging.getLogger(__name__)
CSRF_MESSAGE = "页面已过期或缺少安全校验信息，请刷新页面后重新提交"


def register_web(app: Flask) -> None:
    from app.web import auth, cases, designer, filters, notifications, start, supervision, tasks

    for module in (auth, tasks, cases, start, notifications, supervision, designer):
        app.register_blueprint(module.bp)
    filters.register(app)
    from app.web import applications, instances   # issue #12: 我的申请, the instance list
    app.register_blueprint(applications.bp)
    app.register_blueprint(instances.bp)
    app.add_template_global(applications.home_url)
    app.add_template_global(applications.is_applicant)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "info"
    app.context_processor(_unread_notifications)
    app.register_error_handler(CSRFError, _csrf_refused)


def _unread_notifications() -> dict:
    if not current_user.is_authenticated:
        return {"unread_notifications": 0}
    try:
        return {"unread_notifications": unread_count(current_user.id)}
    except Exception:  # noqa: BLE001 - an error page must render even when the database does not answer
        log.exception("unread notification count failed")
        return {"unread_notifications": 0}


def _csrf_refused(exc: CSRFError):
    """The Chinese page, or JSON for the pages' own fetch() calls (the modeler, the form workbench)."""
    return respond(400, {"error": {"code": "csrf_failed", "message": CSRF_MESSAGE}})
