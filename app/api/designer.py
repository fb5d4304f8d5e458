"""The designer's API: validate, deploy, versions, diff, export, migrate, drafts (designers and admins only)."""
from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from app.api.common import require_user
from app.api.schemas import ErrorSchema, StrictSchema
from app.designer import migrate as migration
from app.designer import services
from app.errors import FormInvalid

PREFIX = "/designer"
blp = Blueprint("api_designer", __name__, description="流程设计 Process designer (role designer or admin)")

XML_BODY_DOC = {"requestBody": {"content": {
    "application/xml": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object", "properties": {"xml": {"type": "string"}}}},
}}}


# --- schemas ----------------------------------------------------------------------------------

class XmlSchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    xml = fields.String(required=True, validate=validate.Length(min=1))


class DeploySchema(XmlSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ProblemSchema(StrictSchema):
    message = fields.String()
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element_id = fields.String(allow_none=True)
    severity = fields.String(metadata={"description": "error: cannot run, deploy refuses; "
                                                      "warning: a house convention, deploy allowed"})


class ValidationResultSchema(StrictSchema):
    valid = fields.Boolean(metadata={"description": "no errors (warnings may remain)"})
    problems = fields.List(fields.Nested(ProblemSchema))


class DeployedSchema(StrictSchema):
    file = fields.String()
    key = fields.String()
    version = fields.Integer()
    created = fields.Boolean()
    warnings = fields.List(fields.String())


class DeployResultSchema(StrictSchema):
    deployed = fields.List(fields.Nested(DeployedSchema))


class CalledSchema(StrictSchema):
    """A call activity of the version and the process it calls."""
    element = fields.String()
    name = fields.String()
    file = fields.String()
    process = fields.String()
    process_name = fields.String()
    version = fields.Integer(allow_none=True, metadata={"description": "the deployed version it calls; "
                                                                      "null: a process of the same model"})
    pinned = fields.Boolean(metadata={"description": "the call activity pins that version (calledVersion)"})
    source = fields.String(metadata={"description": "model or deployed"})


class VersionSchema(StrictSchema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    deployed_by_name = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    source_file = fields.String()
    content_hash = fields.String()
    running_instances = fields.Integer()
    error_instances = fields.Integer()
    is_latest = fields.Boolean()
    calls = fields.List(fields.Nested(CalledSchema()))
    model_files = fields.List(fields.String(), metadata={"description": "the files deployed as one model"})


class DiffQuerySchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    from_version = fields.Integer(data_key="from", load_default=None, validate=validate.Range(min=1))
    to_version = fields.Integer(data_key="to", load_default=None, validate=validate.Range(min=1))


class ChangeSchema(StrictSchema):
    field = fields.String()
    title = fields.String()
    before = fields.Raw(data_key="from", attribute="from")
    after = fields.Raw(data_key="to", attribute="to")


class DiffElementSchema(StrictSchema):
    id = fields.String()
    kind = fields.String(metadata={"description": "process, node (flow node) or flow (sequence flow)"})
    type = fields.String()
    name = fields.String(allow_none=True)
    changes = fields.List(fields.Nested(ChangeSchema))


class DiffSummarySchema(StrictSchema):
    added = fields.Integer()
    removed = fields.Integer()
    changed = fields.Integer()


class DiffSchema(StrictSchema):
    key = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    added = fields.List(fields.Nested(DiffElementSchema))
    removed = fields.List(fields.Nested(DiffElementSchema))
    changed = fields.List(fields.Nested(DiffElementSchema))
    summary = fields.Nested(DiffSummarySchema)


class MigrateSchema(StrictSchema):
    instance_ids = fields.List(fields.Integer(validate=validate.Range(min=1)), load_default=None,
                               validate=validate.Length(min=1, max=1000))
    from_version = fields.Integer(load_default=None, validate=validate.Range(min=1))
    dry_run = fields.Boolean(load_default=False)


class MigrationOutcomeSchema(StrictSchema):
    instance_id = fields.Integer()
    status = fields.String(metadata={"description": "migrated | would_migrate | refused | current"})
    from_version = fields.Integer(allow_none=True)
    to_version = fields.Integer(allow_none=True)
    reasons = fields.List(fields.String())


class MigrateResultSchema(StrictSchema):
    dry_run = fields.Boolean()
    outcomes = fields.List(fields.Nested(MigrationOutcomeSchema))
    summary = fields.Dict(keys=fields.String(), values=fields.Integer())


class DraftInputSchema(XmlSchema):
    base_version = fields.Integer(load_default=None, validate=validate.Range(min=1))
    message = fields.String(load_default=None, validate=validate.Length(max=2000))


class DraftSchema(StrictSchema):
    process_key = fields.String()
    xml = fields.String(attribute="bpmn_xml")
    base_version = fields.Integer(allow_none=True)
    message = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


# --- helpers ----------------------------------------------------------------------------------

def _designer():
    user = require_user()
    services.ensure_designer(user)
    return user


def load_body(schema: Schema, data) -> dict:
    """A request body (a dict) loaded by `schema`; the API and the designer pages' fetch() calls
    share it. Raises FormInvalid (422) with the fields."""
    if not isinstance(data, dict):
        raise FormInvalid("请求体须为 JSON 对象")
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise FormInvalid("请求参数有误", fields=exc.messages) from None


def _json_body(schema: Schema) -> dict:
    return load_body(schema, request.get_json(silent=True))


def _xml_body(schema: Schema) -> dict:
    """JSON {xml, ...}, or the XML itself as the body (other fields from the query string)."""
    if request.is_json:
        return _json_body(schema)
    try:
        xml = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise FormInvalid("流程图不是 UTF-8 编码", fields={"xml": ["请以 UTF-8 发送"]}) from None
    return load_body(schema, {**request.args.to_dict(), "xml": xml})


# --- validate and deploy ----------------------------------------------------------------------

@blp.post("/validate")
@blp.doc(**XML_BODY_DOC)
@blp.response(200, ValidationResultSchema)
def validate_diagram():
    """Every problem of a diagram (element id and line), deploying nothing: the XML as the body,
    or JSON {xml}."""
    _designer()
    body = _xml_body(XmlSchema())
    problems = services.validate_xml(body["xml"])
    return {"valid": not any(p.is_error for p in problems), "problems": [p.as_dict() for p in problems]}


@blp.post("/deploy")
@blp.doc(**XML_BODY_DOC)
@blp.response(201, DeployResultSchema)
@blp.alt_response(200, schema=DeployResultSchema, description="unchanged: no new version")
@blp.alt_response(422, schema=ErrorSchema, description="the diagram has problems: error.problems lists every one")
def deploy():
    """Deploy a diagram as a new version with a message: JSON {xml, message}, or the XML as the body
    and ?message=. 422 with every problem when one is an error (warnings alone do not stop it: they
    come back in `warnings`); 200 when nothing changed."""
    user = _designer()
    body = _xml_body(DeploySchema())
    outcomes = services.deploy_xml(body["xml"], body["message"], user)
    payload = {"deployed": [{"file": o.file, "key": o.key, "version": o.version, "created": o.created,
                             "warnings": o.warnings} for o in outcomes if o.key]}
    return payload, (201 if any(o.created for o in outcomes) else 200)


# --- versions, diff, export -------------------------------------------------------------------

@blp.get("/processes/<string:key>/versions")
@blp.response(200, VersionSchema(many=True))
def list_versions(key):
    """Every version, newest first, with author, time, message and running instances."""
    _designer()
    return services.list_versions(key)


@blp.get("/processes/<string:key>/diff")
@blp.arguments(DiffQuerySchema, location="query")
@blp.response(200, DiffSchema)
def diff(query, key):
    """Elements added, removed and changed from version `from` (default: the one before `to`) to
    version `to` (default: the latest)."""
    _designer()
    to_version = query["to_version"] or services.get_version(key).version
    from_version = query["from_version"] or to_version - 1
    if from_version < 1:
        raise FormInvalid("没有可比较的上一版本", fields={"from": ["请指定要比较的版本"]})
    return services.diff_versions(key, from_version, to_version)


@blp.get("/processes/<string:key>/versions/<int:version>/xml")
@blp.response(200, description="the stored BPMN XML", content_type="application/xml")
def export(key, version):
    """The stored BPMN XML of a version."""
    _designer()
    xml = services.export_xml(key, version)
    return Response(xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'inline; filename="{key}.v{version}.bpmn"'})


# --- migration --------------------------------------------------------------------------------

@blp.post("/processes/<string:key>/migrate")
@blp.arguments(MigrateSchema)
@blp.response(200, MigrateResultSchema)
def migrate(body, key):
    """Move running instances to the latest version when safe: the listed instance_ids, or every
    running instance on from_version (default: on any older version). dry_run checks only."""
    user = _designer()
    outcomes = migration.migrate_instances(key, instance_ids=body["instance_ids"],
                                           from_version=body["from_version"], actor=user,
                                           dry_run=body["dry_run"])
    statuses = (migration.Outcome.MIGRATED, migration.Outcome.WOULD_MIGRATE, migration.Outcome.REFUSED,
                migration.Outcome.CURRENT)
    return {"dry_run": body["dry_run"], "outcomes": [o.as_dict() for o in outcomes],
            "summary": {s: sum(1 for o in outcomes if o.status == s) for s in statuses}}


# --- drafts -----------------------------------------------------------------------------------

@blp.get("/drafts/<string:key>")
@blp.response(200, DraftSchema)
def get_draft(key):
    """My draft of a process; 404 when I have none."""
    return services.get_draft(_designer(), key)


@blp.post("/drafts/<string:key>")
@blp.doc(**XML_BODY_DOC)
@blp.response(200, DraftSchema)
def save_draft(key):
    """Save my draft of a process (JSON {xml, base_version?, message?} or the XML as the body);
    a draft may have problems."""
    user = _designer()
    body = _xml_body(DraftInputSchema())
    return services.save_draft(user, key, body["xml"], base_version=body["base_version"], message=body["message"])


@blp.delete("/drafts/<string:key>")
@blp.response(204)
def delete_draft(key):
    """Discard my draft of a process."""
    services.delete_draft(_designer(), key)
