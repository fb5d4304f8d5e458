"""The case page: summary, timeline, comments, attachments, open tasks and the diagram."""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.cases import search as case_search
from app.cases import services
from app.cases.uploads import ALLOWED_TEXT, UploadRefused
from app.errors import AppError
from app.web import labels, pages, queries

bp = Blueprint("cases", __name__)


def _user():
    return current_user._get_current_object()


def _render(case_id: int, *, upload_error: str | None = None, comment_error: str | None = None,
            comment_body: str | None = None, status=200):
    page = pages.case_page(case_id, _user())
    return render_template("cases/show.html", page=page, upload_error=upload_error, comment_error=comment_error,
                           comment_body=comment_body, comment_max=services.COMMENT_MAX,
                           allowed_types=ALLOWED_TEXT), status


@bp.get("/cases")
@login_required
def search():
    """案件查询: the cases I may open; a bad filter re-shows the form with its message (422)."""
    try:
        filters, errors = case_search.CaseFilters.load(request.args), {}
    except ValidationError as exc:
        filters, errors = case_search.CaseFilters(), exc.messages
    page = None if errors else case_search.search_cases(_user(), filters,
                                                         per_page=current_app.config["INBOX_PER_PAGE"])
    html = render_template("cases/search.html", page=page, filters=filters, errors=errors, typed=request.args,
                           choices=queries.filter_choices(), statuses=case_search.STATUSES,
                           page_url=lambda number: url_for("cases.search", **filters.args(page=number)))
    return html, 422 if errors else 200


@bp.get("/cases/<int:case_id>")
@login_required
def show(case_id: int):
    return _render(case_id)


@bp.get("/cases/<int:case_id>/diagram.json")
@login_required
def diagram(case_id: int):
    return jsonify(pages.diagram(case_id, _user()))


@bp.post("/cases/<int:case_id>/comments")
@login_required
def add_comment(case_id: int):
    body = request.form.get("body", "")
    try:
        services.add_comment(case_id, _user(), body)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return _render(case_id, comment_error=exc.message, comment_body=body, status=400)
    flash("意见已添加", "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="comments"), code=303)


@bp.post("/cases/<int:case_id>/attachments")
@login_required
def upload(case_id: int):
    services.get_visible_case(case_id, _user(), writing=True)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(case_id, upload_error="请选择要上传的文件", status=400)
    try:
        row = services.add_attachment(_user(), upload, case_id=case_id)
    except UploadRefused as exc:
        return _render(case_id, upload_error=exc.message, status=exc.status)
    flash(f"已上传附件{labels.quoted(row.filename)}", "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="attachments"), code=303)


@bp.get("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    row = services.get_attachment_for(_user(), attachment_id)
    response = send_file(io.BytesIO(row.content), mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
