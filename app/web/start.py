"""Start pages (新建): the processes this user may start, and each one's start form."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.cases import services
from app.errors import Forbidden, FormInvalid, ProcessDefinitionError
from app.numbers import whole_number
from app.processes.applications import profile_prefill
from app.processes.running import start_process
from app.processes.versions import get_bundle, get_latest_definition, list_definitions_for, start_refusal
from app.web import forms, labels
from app.web.formschema import FormView

bp = Blueprint("start", __name__, url_prefix="/start")


def _user():
    return current_user._get_current_object()


@bp.get("")
@login_required
def index():
    startable = [row for row, allowed in list_definitions_for(_user()) if allowed]
    return render_template("start/index.html", definitions=startable)


def _startable(key: str):
    """The latest version of a process the user may start. Raises NotFound, Forbidden."""
    bundle = get_bundle(get_latest_definition(key).id)
    refusal = start_refusal(_user(), bundle)
    if refusal:
        raise Forbidden(refusal)
    schema = bundle.forms.get(bundle.meta.get("start_form")) if bundle.meta.get("start_form") else None
    ui = bundle.forms.get(bundle.meta.get("start_ui_form")) if bundle.meta.get("start_ui_form") else None
    return bundle, schema, ui


def _render(bundle, schema, ui, values, *, errors=None, raw=None, defaults=False, message=None, status=200):
    view = forms.form_view(schema, ui, _user(), values, case_id=None, errors=errors, raw=raw, defaults=defaults)
    return render_template("start/form.html", bundle=bundle, form=view, message=message), status


@bp.get("/<key>")
@login_required
def form(key: str):
    bundle, schema, ui = _startable(key)   # a fresh form: prefilled from the profile (never a resubmission)
    return _render(bundle, schema, ui, profile_prefill(schema, _user()), defaults=True)


@bp.post("/<key>")
@login_required
def submit(key: str):
    user = _user()
    bundle, schema, ui = _startable(key)
    posted = forms.read_post(schema, ui, user, case_id=None, default_action="start")
    sub = posted.submission
    if posted.is_row_action or posted.action == "refresh":
        return _render(bundle, schema, ui, forms.row_action_values(posted), message=forms.upload_problems(sub))
    if sub.errors:
        errors = forms.errors_with_validation(bundle, bundle.meta.get("start_form"), sub)
        return _render(bundle, schema, ui, sub.data, errors=errors, raw=sub.raw, status=422)
    try:
        _, case = start_process(key, sub.data, user)
    except FormInvalid as exc:
        return _render(bundle, schema, ui, sub.data, errors=forms.merge_errors(exc.fields, sub), raw=sub.raw,
                       status=422)
    except ProcessDefinitionError as exc:   # a designer's script failed: nothing was started
        return _render(bundle, schema, ui, sub.data, raw=sub.raw, message=exc.message, status=exc.status)
    uploaded = FormView(schema or {}, ui, sub.data).file_values()
    services.link_pending_attachments(user, [n for n in map(whole_number, uploaded) if n is not None], case.id)
    flash(f"已发起{labels.quoted(bundle.name)}，案件编号 {case.number}", "success")
    return redirect(url_for("cases.show", case_id=case.id), code=303)

