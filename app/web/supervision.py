"""The supervisor dashboard pages (issue #6): overdue and due-soon lists, KPI tiles, charts, the
diagram heat map, and the 催办/督办/reassign/extension/retry actions.

Thin views over app/supervision (access, queries, kpis, actions, export): the same functions the
JSON API under /api/v1/supervision calls, so the page and the API show the same numbers.
"""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from app.supervision.access import supervision_scope

bp = Blueprint("supervision_web", __name__, url_prefix="/supervision")


@bp.get("")
@login_required
def dashboard():
    scope = supervision_scope(current_user)
    return render_template("supervision/dashboard.html", scope=scope)
