"""The request side of the server-rendered forms shared by task and start pages: read a POST into
data (uploads stored as attachments), collect every error at once, and build the view to render."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request

from app.auth.models import User
from app.cases import services
from app.cases.uploads import UploadRefused
from app.errors import FormInvalid
from app.processes.versions import validate_form
from app.web.formdata import Submission, apply_row_action, parse_submission
from app.web.formschema import FormView

ROW_ACTIONS = ("add:", "remove:")


@dataclass
class Posted:
    action: str
    submission: Submission

    @property
    def is_row_action(self) -> bool:
        return self.action.startswith(ROW_ACTIONS)


def read_post(schema: dict | None, ui: dict | None, user: User, *, case_id: int | None,
              task_id: int | None = None, default_action: str = "complete") -> Posted:
    """The posted form as data; each uploaded file is stored (checked) and its number put in its field."""

    def store(path, upload):
        try:
            row = services.add_attachment(user, upload, case_id=case_id, task_id=task_id, field_path=path)
        except UploadRefused as exc:
            return None, exc.message
        return str(row.id), None

    submission = parse_submission(schema or {}, ui, request.form, request.files, store)
    return Posted(request.form.get("action") or default_action, submission)


def row_action_values(posted: Posted) -> dict:
    """The posted values with one row added or removed (nothing is validated or saved)."""
    values = posted.submission.draft()
    apply_row_action(values, posted.action)
    return values


def upload_problems(submission: Submission) -> str | None:
    """After adding or removing a row nothing is validated (and row paths move), so a refused upload
    is reported above the form instead of at its field."""
    refused = [m for path, messages in submission.errors.items() if path not in submission.raw for m in messages]
    return "有文件未能上传：" + "；".join(refused) if refused else None


def errors_with_validation(bundle, form_path: str | None, submission: Submission) -> dict:
    """Conversion errors plus what the validator says about the rest, every problem at once; at a
    field whose input did not convert, only the conversion message is shown."""
    fields: dict = {}
    try:
        validate_form(bundle, form_path, submission.data)
    except FormInvalid as exc:
        fields = dict(exc.fields or {})
    fields.update(submission.errors)
    return fields


def merge_errors(fields: dict | None, submission: Submission) -> dict:
    merged = dict(fields or {})
    merged.update(submission.errors)
    return merged


def form_view(schema: dict | None, ui: dict | None, user: User, values: dict, *, case_id: int | None,
              errors: dict | None = None, raw: dict | None = None, defaults: bool = False) -> FormView | None:
    if not schema:
        return None
    view = FormView(schema, ui, values, errors=errors, raw=raw, defaults=defaults)
    view.attachments = services.attachment_refs(user, view.file_values(), case_id)
    return view
