"""The inbox and the task page: list, claim/unclaim, fill in, save a draft, complete."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.errors import Conflict, FormInvalid, ProcessDefinitionError
from app.tasks import follow_up as task_follow_up, queries as task_queries, services as task_services
from app.web import forms, labels, pages, queries
from app.web.auth import safe_next

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _user():
    return current_user._get_current_object()


@bp.get("")
@login_required
def inbox():
    filters = queries.InboxFilters.from_args(request.args)
    page = queries.list_inbox(_user(), filters, per_page=current_app.config["INBOX_PER_PAGE"])
    return render_template("tasks/inbox.html", page=page, filters=filters, choices=queries.filter_choices(),
                           page_url=lambda number: url_for("tasks.inbox", **filters.args(page=number)),
                           today=task_queries.local_today())


@bp.get("/done")
@login_required
def done():
    """已办: the steps I completed, newest first, with their case's current state."""
    filters = task_queries.DoneFilters.from_args(request.args)
    page = task_queries.list_completed_tasks(_user(), filters, per_page=current_app.config["INBOX_PER_PAGE"])
    return render_template("tasks/done.html", page=page, filters=filters, choices=queries.filter_choices(),
                           page_url=lambda number: url_for("tasks.done", **filters.args(page=number)))


def _back(default: str) -> str:
    return safe_next(request.form.get("next")) or default


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    try:
        task = task_services.claim_task(task_id, _user())
        flash(f"已认领任务{labels.quoted(task.name)}", "success")
    except Conflict as exc:
        flash(exc.message, "error")
    return redirect(_back(url_for("tasks.inbox")), code=303)


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    try:
        task = task_services.unclaim_task(task_id, _user())
        flash(f"已将任务{labels.quoted(task.name)}退回组内", "success")
    except Conflict as exc:
        flash(exc.message, "error")
    return redirect(_back(url_for("tasks.inbox")), code=303)


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    page = pages.task_page(task_id, _user())
    view = forms.form_view(page.schema, page.ui, _user(), page.values, case_id=page.task.case_id,
                           defaults=not page.from_draft)
    return render_template("tasks/task.html", page=page, form=view)


@bp.post("/<int:task_id>/follow-up")
@login_required
def follow_up(task_id: int):
    """Set or clear (action=clear) the task's 跟进日期; a bad date re-shows the page with its message."""
    typed = request.form.get(task_follow_up.FIELD, "")
    try:
        day = None if request.form.get("action") == "clear" else task_follow_up.parse_follow_up(typed)
        task_follow_up.set_follow_up(task_id, _user(), day)
    except FormInvalid as exc:
        page = pages.task_page(task_id, _user())
        view = forms.form_view(page.schema, page.ui, _user(), page.values, case_id=page.task.case_id,
                               defaults=not page.from_draft)
        return render_template("tasks/task.html", page=page, form=view, follow_up_typed=typed,
                               follow_up_errors=(exc.fields or {}).get(task_follow_up.FIELD)), 422
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("tasks.show", task_id=task_id), code=303)
    flash(f"已设置跟进日期 {day.isoformat()}" if day else "已清除跟进日期", "success")
    return redirect(_back(url_for("tasks.show", task_id=task_id)), code=303)


def _render(page, values, *, errors=None, raw=None, message=None, status=200):
    view = forms.form_view(page.schema, page.ui, _user(), values, case_id=page.task.case_id, errors=errors, raw=raw)
    return render_template("tasks/task.html", page=page, form=view, message=message), status


@bp.post("/<int:task_id>")
@login_required
def submit(task_id: int):
    user = _user()
    page = pages.task_page(task_id, user)
    if not page.can_act:
        flash("此任务已办理完毕或已由他人认领，不能再提交", "error")
        return redirect(url_for("tasks.show", task_id=task_id), code=303)
    posted = forms.read_post(page.schema, page.ui, user, case_id=page.task.case_id, task_id=page.task.id)
    sub = posted.submission
    if posted.is_row_action:
        return _render(page, forms.row_action_values(posted), message=forms.upload_problems(sub))
    if posted.action == "save":
        return _save_draft(page, sub)
    if sub.errors:
        errors = forms.errors_with_validation(page.definition, page.task.form, sub)
        return _render(page, sub.data, errors=errors, raw=sub.raw, status=422)
    return _complete(page, sub)


def _save_draft(page, sub):
    task_services.save_draft(page.task.id, _user(), sub.draft())
    unsaved = {path: messages for path, messages in sub.errors.items() if path not in sub.raw}
    if unsaved:   # e.g. a refused upload; everything typed (even what does not convert yet) is in the draft
        return _render(page, sub.draft(), errors=unsaved, message="草稿已保存，但有内容未能保存，请查看标注的字段")
    flash("草稿已保存", "success")
    return redirect(url_for("tasks.show", task_id=page.task.id), code=303)


def _complete(page, sub):
    task = page.task
    try:
        task_services.complete_task(task.id, sub.data, _user())
    except FormInvalid as exc:
        return _render(page, sub.data, errors=forms.merge_errors(exc.fields, sub), raw=sub.raw, status=422)
    except Conflict as exc:
        return _render(page, sub.data, raw=sub.raw, message=exc.message, status=409)
    except ProcessDefinitionError as exc:
        flash(exc.message, "error")
        return redirect(url_for("tasks.show", task_id=task.id), code=303)
    flash(f"{labels.quoted(task.name)}已办理完成", "success")
    if task.case_id is not None:
        return redirect(url_for("cases.show", case_id=task.case_id), code=303)
    return redirect(url_for("tasks.inbox"), code=303)
