"""我的申请 (/applications): an applicant's own applications, what each asks of them, and their home
page. The query is loaded with the API's schema (GET /api/v1/applications): the same words refuse it."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.api.applications import ApplicationQuerySchema
from app.processes import applications
from app.processes.applications import is_applicant
from app.web.filters import url_with
from app.web.listargs import query_args

bp = Blueprint("applications", __name__, url_prefix="/applications")
FIELD_TITLES = {"state": "状态", "sort": "排序", "page": "页码"}


def home_url(user=None) -> str:
    """Where a person lands (after login, on the brand link): 我的申请 for an applicant, else the inbox."""
    user = user if user is not None else current_user
    if getattr(user, "is_authenticated", False) and is_applicant(user):
        return url_for("applications.index")
    return url_for("tasks.inbox")


@bp.get("")
@login_required
def index():
    user = current_user._get_current_object()
    args = query_args(request.args)
    errors, page = [], None
    try:
        query = ApplicationQuerySchema().load(args)
    except ValidationError as exc:
        query = None
        errors = [f"{FIELD_TITLES.get(name, name)}：{'；'.join(messages)}" for name, messages in exc.messages.items()]
    if query is not None:
        filters = applications.ApplicationFilters(query["state"], query["sort"], query["page"])
        page = applications.list_applications(user, filters, per_page=current_app.config["INBOX_PER_PAGE"])
    return render_template("applications/index.html", page=page, state=args.get("state", ""),
                           sort=args.get("sort", "-started_at"), errors=errors, states=applications.STATES,
                           sorts=applications.SORTS, asked_count=applications.count_asked(user),
                           page_url=lambda number: url_with(page=number)), (422 if errors else 200)
