"""流程实例 (/instances): the instance list of administrators and supervisors, and cancelling one with
a reason. The query is loaded with the API's schema, so both refuse the same input in the same words."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.api.instance_list import InstanceQuerySchema
from app.errors import Conflict, FormInvalid
from app.processes.cancel import CANCELLABLE, REASON_MAX, cancel_instance
from app.supervision import instances
from app.supervision.access import supervision_scope
from app.web.auth import safe_next
from app.web.filters import url_with
from app.web.listargs import query_args

bp = Blueprint("instances", __name__, url_prefix="/instances")
FILTER_NAMES = ("process", "version", "status", "started_from", "started_to", "q")


def _user():
    return current_user._get_current_object()


@bp.get("")
@login_required
def index():
    user = _user()
    supervision_scope(user)   # 403 before anything else for caseworkers
    args = query_args(request.args)
    errors, page, query = {}, None, None
    try:
        query = InstanceQuerySchema().load(args)
    except ValidationError as exc:
        errors = {name: messages if isinstance(messages, list) else [str(messages)]
                  for name, messages in exc.messages.items()}
    if query is not None:
        page = instances.list_instances(user, instances.InstanceFilters.from_mapping(query), page=query["page"],
                                        per_page=current_app.config["INBOX_PER_PAGE"])
    return render_template(
        "instances/index.html", page=page, args=args, errors=errors, processes=instances.process_versions(),
        statuses=instances.STATUS_TITLES, sorts=instances.SORT_TITLES,
        is_filtered=any(args.get(name) for name in FILTER_NAMES),
        page_url=lambda number: url_with(page=number)), (422 if errors else 200)


@bp.get("/<int:instance_id>/cancel")
@login_required
def cancel_form(instance_id: int):
    row = instances.get_instance_row(_user(), instance_id)
    return render_template("instances/cancel.html", row=row, reason="", errors={}, reason_max=REASON_MAX,
                           next=safe_next(request.args.get("next")))


@bp.post("/<int:instance_id>/cancel")
@login_required
def cancel(instance_id: int):
    user = _user()
    back = safe_next(request.form.get("next"))
    reason = request.form.get("reason", "")
    try:
        done = cancel_instance(instance_id, user, reason)
    except FormInvalid as exc:
        row = instances.get_instance_row(user, instance_id)
        return render_template("instances/cancel.html", row=row, reason=reason, errors=exc.fields or {},
                               reason_max=REASON_MAX, next=back), 422
    except Conflict as exc:
        row = instances.get_instance_row(user, instance_id)
        if row["status"] in CANCELLABLE:   # moved on meanwhile, still cancellable: try again, reason kept
            return render_template("instances/cancel.html", row=row, reason=reason, errors={}, message=exc.message,
                                   reason_max=REASON_MAX, next=back), 409
        flash(exc.message, "error")        # it has ended: nothing left to cancel
        return redirect(back or url_for("instances.index"), code=303)
    row = instances.get_instance_row(user, done.instance.id)
    steps = "、".join(done.cancelled_tasks) or "无"
    flash(f"已撤销 {row['case_number'] or '流程实例'}（{row['process_name']}），已取消的待办环节：{steps}", "success")
    return redirect(back or url_for("instances.index"), code=303)
