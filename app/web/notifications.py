"""The notifications page: the user's 催办/督办/分派 notices, newest first; mark read."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.notifications import services as notifications
from app.numbers import page_number, whole_number

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    page = notifications.list_notifications(current_user.id, unread_only=unread_only, page=page_number(request.args.get("page")))
    pages = (page.total + page.per_page - 1) // page.per_page if page.total else 1

    def page_url(number):
        return url_for("notifications.index", page=number, **({"unread": "1"} if unread_only else {}))
    return render_template("notifications/index.html", page=page, pages=pages, unread_only=unread_only,
                           page_url=page_url)


@bp.post("/read")
@login_required
def mark_read():
    """Mark one notification (id=…) or all of them read."""
    ids = [n for n in map(whole_number, request.form.getlist("id")) if n is not None]
    changed = notifications.mark_read(current_user.id, ids or None)
    if not ids:
        flash(f"已将 {changed} 条通知标为已读", "success")
    back = {"unread": "1"} if request.form.get("unread") else {}
    if ids and page_number(request.form.get("page")) > 1:   # one notice read: stay on its page
        back["page"] = page_number(request.form.get("page"))
    return redirect(url_for("notifications.index", **back), code=303)
