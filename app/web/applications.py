"""我的申请 (/applications): an applicant's own applications, what each asks of them, and their home page."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user, login_required

from app.numbers import page_number
from app.processes import applications
from app.processes.applications import is_applicant
from app.web.filters import url_with

bp = Blueprint("applications", __name__, url_prefix="/applications")


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
    state, sort = request.args.get("state", "").strip(), request.args.get("sort", "").strip() or "-started_at"
    errors = []
    if state not in applications.STATES:
        errors.append(f"状态“{state[:20]}”无效，可选：" + "、".join(t for c, t in applications.STATES.items() if c))
    if sort not in applications.SORTS:
        errors.append("排序方式无效，可选：" + "、".join(applications.SORTS.values()))
    page = None
    if not errors:
        filters = applications.ApplicationFilters(state, sort, page_number(request.args.get("page")))
        page = applications.list_applications(user, filters, per_page=current_app.config["INBOX_PER_PAGE"])
    return render_template("applications/index.html", page=page, state=state, sort=sort, errors=errors,
                           states=applications.STATES, sorts=applications.SORTS,
                           asked_count=applications.count_asked(user),
                           page_url=lambda number: url_with(page=number)), (422 if errors else 200)
