"""The process designer pages (issue #7): the bpmn-js modeler with our properties, validation with
highlighted elements, drafts, deploy, the form workbench, version lists, diffs and migration.

Thin views over app/designer/services.py, the same functions /api/v1/designer calls. The modeler's
JavaScript posts JSON to the endpoints here (session + X-CSRFToken header), not to /api/v1 (bearer
tokens, no CSRF check). Designers and administrators only: every view starts with ensure_designer.
"""
from __future__ import annotations

import json
import re
from pathlib import PurePath

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from marshmallow import Schema

from app.api.designer import DeploySchema, DraftInputSchema, XmlSchema, load_body
from app.designer import migrate as migration
from app.designer import services
from app.errors import FormInvalid
from app.numbers import whole_number
from app.processes.versions import list_latest_definitions
from app.web.formschema import FormView

bp = Blueprint("designer_web", __name__, url_prefix="/designer")


def _designer():
    user = current_user._get_current_object()
    services.ensure_designer(user)
    return user


def _json(schema: Schema) -> dict:
    """The request's JSON body loaded by the API's schema. Raises FormInvalid (422)."""
    return load_body(schema, request.get_json(silent=True))


MAX_INT = 2**31 - 1   # the largest version or id a column holds: a bigger number is a typing error


def _int_arg(name: str) -> int | None:
    """A positive integer of the query string or form (ASCII digits only: "²" or "٣" are not one);
    None when absent. Raises FormInvalid (422, a Chinese message) for anything else."""
    value = request.values.get(name, "").strip()
    if not value:
        return None
    number = whole_number(value)
    if number is None or not 1 <= number <= MAX_INT:
        raise FormInvalid(f"参数 {name} 应为正整数：{value[:20]}", fields={name: ["应为正整数"]})
    return number


def _attachment(text: str, filename: str, mimetype: str) -> Response:
    return Response(text, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _download_name(path: str, default: str) -> str:
    """The file name part of a posted form path when it is a plain one, else `default`."""
    name = (path or "").rsplit("/", 1)[-1]
    return name if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}\.json", name) else default


# --- the start page -----------------------------------------------------------------------------

def _index_page(user, **extra):
    return render_template("designer/index.html", processes=list_latest_definitions(),
                           files=services.list_bpmn_files(), drafts=services.list_drafts(user), **extra)


@bp.get("")
@login_required
def index():
    return _index_page(_designer())


# --- the modeler ----------------------------------------------------------------------------------

def _modeler(xml: str, *, source: str, key: str | None, base_version: int | None = None,
             filename: str | None = None, draft=None, from_draft: bool = False):
    key = key or services.process_key_of(xml)
    return render_template(
        "designer/modeler.html", source=source, key=key, draft=draft, from_draft=from_draft,
        config={"xml": xml, "key": key, "base_version": base_version, "forms": services.list_form_files(),
                "filename": filename or f"{key or 'diagram'}.bpmn",
                "urls": {"validate": url_for("designer_web.validate"), "deploy": url_for("designer_web.deploy"),
                         "drafts": url_for("designer_web.index") + "/drafts/"}})


@bp.get("/processes/<key>/modeler")
@login_required
def modeler(key: str):
    """A deployed version, the latest unless ?version=N."""
    user = _designer()
    definition = services.get_version(key, _int_arg("version"))
    return _modeler(definition.bpmn_xml, source=f"已部署的第 {definition.version} 版", key=key,
                    base_version=definition.version, draft=services.find_draft(user, key))


@bp.get("/drafts/<key>/modeler")
@login_required
def draft_modeler(key: str):
    """My draft of a process (also of one never deployed)."""
    draft = services.get_draft(_designer(), key)
    based = f"基于第 {draft.base_version} 版" if draft.base_version else "尚未部署"
    return _modeler(draft.bpmn_xml, source=f"我的草稿（{based}）", key=key, base_version=draft.base_version,
                    draft=draft, from_draft=True)


@bp.get("/files/<name>/modeler")
@login_required
def file_modeler(name: str):
    user = _designer()
    xml = services.read_bpmn_file(name)
    key = services.process_key_of(xml)
    return _modeler(xml, source=f"文件 bpmn/{name}", key=key, filename=name,
                    draft=services.find_draft(user, key) if key else None)


@bp.post("/upload")
@login_required
def upload():
    """Open a .bpmn file from the designer's computer (nothing is stored until a draft or deploy)."""
    user = _designer()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise FormInvalid("请选择要打开的 .bpmn 文件", fields={"file": ["未选择文件"]})
        xml = services.read_uploaded_diagram(upload.read(services.MAX_XML_BYTES + 1))
    except FormInvalid as exc:
        return _index_page(user, upload_error=exc.message), 422
    filename = PurePath(upload.filename.replace("\\", "/")).name
    return _modeler(xml, source=f"上传的文件 {filename}", key=None, filename=filename)


@bp.post("/validate")
@login_required
def validate():
    """Every problem of the modeler's diagram (JSON {xml}), deploying nothing."""
    _designer()
    problems = services.validate_xml(_json(XmlSchema())["xml"])
    return jsonify({"valid": not any(p.is_error for p in problems),   # warnings do not stop a deploy
                    "problems": [p.as_dict() for p in problems]})


@bp.post("/deploy")
@login_required
def deploy():
    """Deploy the modeler's diagram with a message (JSON {xml, message}); 422 lists every problem."""
    user = _designer()
    body = _json(DeploySchema())
    outcomes = services.deploy_xml(body["xml"], body["message"], user)
    deployed = [{"key": o.key, "version": o.version, "created": o.created, "warnings": o.warnings,
                 "versions_url": url_for("designer_web.versions", key=o.key),
                 "diff_url": url_for("designer_web.diff", key=o.key, to=o.version) if o.version > 1 else None}
                for o in outcomes if o.key]
    return jsonify({"deployed": deployed}), (201 if any(o.created for o in outcomes) else 200)


@bp.post("/drafts/<key>")
@login_required
def save_draft(key: str):
    """Save my draft of a process (JSON {xml, base_version?, message?}); a draft may have problems."""
    user = _designer()
    body = _json(DraftInputSchema())
    draft = services.save_draft(user, key, body["xml"], base_version=body["base_version"], message=body["message"])
    return jsonify({"process_key": draft.process_key, "base_version": draft.base_version,
                    "updated_at": draft.updated_at.isoformat()})


@bp.post("/drafts/<key>/delete")
@login_required
def delete_draft(key: str):
    services.delete_draft(_designer(), key)
    flash(f"已丢弃流程 {key} 的草稿", "success")
    return redirect(url_for("designer_web.index"), code=303)


# --- versions, diff, migration -------------------------------------------------------------------

MIGRATION_SESSION_KEY = "designer_migration"
MOVED = (migration.Outcome.MIGRATED, migration.Outcome.WOULD_MIGRATE)
MAX_LISTED_REFUSALS = 20        # refusals kept for the page after the redirect; the rest are counted
MAX_REASONS, MAX_REASON_CHARS = 3, 200
MAX_SUMMARY_CHARS = 2000        # the summary rides in the session cookie (about 4 KB in all)


def _row(outcome: migration.MigrationOutcome, *, short: bool) -> dict:
    reasons = list(outcome.reasons)
    if short:
        reasons = [r if len(r) <= MAX_REASON_CHARS else r[:MAX_REASON_CHARS - 1] + "…" for r in reasons]
        if len(reasons) > MAX_REASONS:
            reasons = reasons[:MAX_REASONS - 1] + [f"另有 {len(reasons) - MAX_REASONS + 1} 条原因"]
    return {"instance_id": outcome.instance_id, "status": outcome.status, "from_version": outcome.from_version,
            "to_version": outcome.to_version, "reasons": reasons}


def _migration_summary(key: str, outcomes: list[migration.MigrationOutcome], *, from_version: int | None,
                       dry_run: bool = False) -> dict:
    """What the versions page shows of a migration. A dry run lists every instance; a real one
    (kept in the session cookie across the redirect) counts them and lists only the instances
    not migrated, at most MAX_LISTED_REFUSALS with shortened reasons, the rest counted in `more`."""
    moved = [o for o in outcomes if o.status in MOVED]
    summary = {"key": key, "dry_run": dry_run, "from_version": from_version, "total": len(outcomes),
               "moved": len(moved), "to_version": max((o.to_version or 0 for o in moved), default=None) or None,
               "rows": [], "more": 0}
    if dry_run:
        summary["rows"] = [_row(o, short=False) for o in outcomes]
        return summary
    stayed = [o for o in outcomes if o.status not in MOVED]
    summary["rows"] = [_row(o, short=True) for o in stayed[:MAX_LISTED_REFUSALS]]
    summary["more"] = len(stayed) - len(summary["rows"])
    while summary["rows"] and len(json.dumps(summary)) > MAX_SUMMARY_CHARS:
        summary["rows"].pop()
        summary["more"] += 1
    return summary


def _versions_page(key: str, *, result: dict | None = None):
    return render_template("designer/versions.html", key=key, versions=services.list_versions(key), result=result)


@bp.get("/processes/<key>/versions")
@login_required
def versions(key: str):
    """The versions of a process. ?check=1 (&from_version=N) checks which running instances could
    move to the latest version (a dry run, changing nothing); after a migration (POST, then a 303
    here) its summary is shown once."""
    user = _designer()
    result = session.pop(MIGRATION_SESSION_KEY, None)
    if not isinstance(result, dict) or result.get("key") != key:
        result = None
    if request.args.get("check") == "1":
        from_version = _int_arg("from_version")
        outcomes = migration.migrate_instances(key, from_version=from_version, actor=user, dry_run=True)
        result = _migration_summary(key, outcomes, from_version=from_version, dry_run=True)
    return _versions_page(key, result=result)


@bp.get("/processes/<key>/versions/<int(max=2147483647):version>/download")
@login_required
def download_version(key: str, version: int):
    _designer()
    return _attachment(services.export_xml(key, version), f"{key}.v{version}.bpmn", "application/xml")


@bp.post("/processes/<key>/migrate")
@login_required
def migrate(key: str):
    """Move the running instances of one older version (or all) to the latest, then 303 to the
    versions page showing the summary (Post/Redirect/Get: a reload does not migrate again).
    `dry_run=1` changes nothing: it redirects to the check (GET ?check=1)."""
    user = _designer()
    from_version = _int_arg("from_version")
    if request.form.get("dry_run") == "1":
        args = {"check": 1, **({"from_version": from_version} if from_version else {})}
        return redirect(url_for("designer_web.versions", key=key, **args), code=303)
    outcomes = migration.migrate_instances(key, from_version=from_version, actor=user)
    session[MIGRATION_SESSION_KEY] = _migration_summary(key, outcomes, from_version=from_version)
    return redirect(url_for("designer_web.versions", key=key), code=303)


@bp.get("/processes/<key>/diff")
@login_required
def diff(key: str):
    """What changed from version `from` (default: the one before `to`) to `to` (default: the latest)."""
    _designer()
    rows = services.list_versions(key)
    to_version = _int_arg("to") or rows[0]["version"]
    from_version = _int_arg("from") or to_version - 1
    if from_version < 1:
        return render_template("designer/diff.html", key=key, versions=rows, result=None,
                               from_version=None, to_version=to_version,
                               message="该流程只有一个版本，没有可比较的上一版本。")
    result = services.diff_versions(key, from_version, to_version)
    return render_template("designer/diff.html", key=key, versions=rows, result=result,
                           from_version=from_version, to_version=to_version, message=None)


# --- the form workbench -----------------------------------------------------------------------------

@bp.get("/forms")
@login_required
def forms():
    _designer()
    groups: dict[str, list[str]] = {}
    for path in services.list_form_files():
        if path.endswith(".schema.json"):
            groups.setdefault(path.rpartition("/")[0], []).append(path)
    return render_template("designer/forms.html", groups=groups)


@bp.get("/forms/file/<path:path>")
@login_required
def form_file(path: str):
    """A form file of forms/ as it is on disk (download)."""
    _designer()
    return _attachment(services.read_form_text(path), path.rsplit("/", 1)[-1], "application/json")


@bp.route("/forms/workbench", methods=["GET", "POST"])
@login_required
def workbench():
    """Edit a form's JSON Schema and UI schema with a preview by the task page's renderer and the
    sample data checked like a task submission. GET ?file= opens a file of forms/; the POST (no
    JavaScript needed) previews, validates or downloads what was typed; nothing is written to forms/."""
    _designer()
    if request.method == "GET":
        path = request.args.get("file", "").strip()
        schema_text, ui_path, ui_text = services.open_form(path)
        check = services.check_form(schema_text, ui_text, "{}")
        return render_template("designer/workbench.html", path=path, ui_path=ui_path, schema_text=schema_text,
                               ui_text=ui_text, data_text="{}\n", check=check, preview=_preview(check))
    form = request.form
    path, ui_path = form.get("path", ""), form.get("ui_path", "")
    action = form.get("action", "preview")
    if action == "download_schema":
        return _attachment(form.get("schema", ""), _download_name(path, "form.schema.json"), "application/json")
    if action == "download_ui":
        return _attachment(form.get("uischema", ""), _download_name(ui_path, "form.uischema.json"), "application/json")
    check = services.check_form(form.get("schema"), form.get("uischema"), form.get("data"),
                                validate=action == "validate")
    return render_template("designer/workbench.html", path=path, ui_path=ui_path, schema_text=form.get("schema", ""),
                           ui_text=form.get("uischema", ""), data_text=form.get("data", ""), check=check,
                           preview=_preview(check), validated=action == "validate"), (200 if check.is_valid else 422)


def _preview(check: services.FormCheck) -> FormView | None:
    """The form as the task page renders it (sample data filled in, its errors at the fields), or
    None while the schema has problems."""
    if check.schema is None or check.problems.get("schema"):
        return None
    return FormView(check.schema, check.ui, check.data, errors=check.errors, defaults=not check.data)


@bp.post("/forms/preview")
@login_required
def form_preview():
    """The live preview for the workbench's JavaScript: JSON {schema, uischema, data, validate}
    -> {html, valid, problems, errors}; the html is the fragment the task page would render."""
    _designer()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise FormInvalid("请求体须为 JSON 对象")
    validated = bool(body.get("validate"))
    check = services.check_form(*(body.get(k) if isinstance(body.get(k), str) else None
                                  for k in ("schema", "uischema", "data")), validate=validated)
    html = render_template("designer/_preview.html", check=check, preview=_preview(check), validated=validated)
    return jsonify({"html": html, "valid": check.is_valid, "problems": check.problems, "errors": check.errors})
