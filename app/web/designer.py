"""The process designer pages (issue #7): the bpmn-js modeler with our properties, validation with
highlighted elements, drafts, deploy, the form workbench, version lists and diffs.

Thin views over app/designer/services.py, the same functions /api/v1/designer calls.
"""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from app.designer import services

bp = Blueprint("designer_web", __name__, url_prefix="/designer")


@bp.get("")
@login_required
def index():
    services.ensure_designer(current_user)
    return render_template("designer/index.html")
