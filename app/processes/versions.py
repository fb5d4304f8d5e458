"""Deployed process versions as the runtime needs them (parsed spec, task metadata, form snapshot),
cached in memory because a version never changes once deployed; the latest version of each key; who
may start one; a version's form validation."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlalchemy as sa

from app import engine
from app.auth.models import User
from app.auth.services import lane_group_names
from app.errors import FormInvalid, NotFound
from app.extensions import db
from app.processes.models import ProcessDefinition
from app.taskforms.validation import FormValidator


FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"


@dataclass
class Bundle:
    """A deployed version as the runtime needs it: parsed spec, task metadata, form snapshot."""

    id: int
    key: str
    version: int
    name: str
    meta: dict
    forms: dict
    process: engine.ParsedProcess
    _validators: dict = field(default_factory=dict)

    def task_meta(self, bpmn_id: str) -> dict:
        return self.meta["tasks"].get(bpmn_id, {})

    def validator(self, form_path: str | None) -> FormValidator | None:
        if not form_path:
            return None
        found = self._validators.get(form_path)
        if found is None:
            found = self._validators[form_path] = FormValidator(self.forms[form_path])
        return found


_bundles: dict[int, Bundle] = {}
_bundles_lock = threading.Lock()


def get_bundle(definition_id: int) -> Bundle:
    bundle = _bundles.get(definition_id)
    if bundle is not None:
        return bundle
    row = db.session.get(ProcessDefinition, definition_id)
    if row is None:
        raise NotFound("找不到该流程版本")
    process = engine.load_process(row.id, row.key, row.bpmn_xml, row.dmn_xml, row.called_xml)
    with _bundles_lock:
        bundle = _bundles.setdefault(row.id, Bundle(row.id, row.key, row.version, row.name,
                                                    row.meta, row.forms, process))
    return bundle

def list_latest_definitions() -> list[ProcessDefinition]:
    """The latest version of every process key, newest deploy first."""
    latest = (sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    return list(db.session.execute(
        sa.select(ProcessDefinition).join(latest, sa.and_(ProcessDefinition.key == latest.c.key,
                                                          ProcessDefinition.version == latest.c.v))
        .order_by(ProcessDefinition.deployed_at.desc(), ProcessDefinition.id.desc())).scalars())


def list_definitions_for(user: User) -> list[tuple[ProcessDefinition, bool]]:
    """The latest version of every process, each with whether this user may start it."""
    return [(row, can_start(user, get_bundle(row.id))) for row in list_latest_definitions()]


def get_latest_definition(key: str) -> ProcessDefinition:
    row = db.session.execute(
        sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有已部署的流程：{key}")
    return row


# --- permissions -------------------------------------------------------------------------------

def start_refusal(user: User, bundle: Bundle) -> str | None:
    """Why `user` may not start this version by hand, in Chinese; None when they may. Who may: the
    groups of its start lanes (its candidateStarterGroups when it names them) and administrators; a
    process without lanes and without candidateStarterGroups is open to everyone logged in. A
    process that only a timer starts is the scheduler's: nobody's."""
    process = bundle.process
    if not process.has_manual_start:
        return "该流程由系统定时发起，不能手动发起"
    if user.is_admin:
        return None
    groups = bundle.meta.get("starter_groups") or lane_group_names(process.start_lanes)
    if not groups or user.group_names & set(groups):
        return None
    return "您不在可发起该流程的用户组中"


def can_start(user: User, bundle: Bundle) -> bool:
    return start_refusal(user, bundle) is None


def validate_form(bundle: Bundle, form_path: str | None, data: dict) -> dict:
    """The data with the form's top-level defaults filled in for fields not sent (as a form shows
    them prefilled), validated. Raise FormInvalid (422) with per-field Chinese messages."""
    if not isinstance(data, dict):
        raise FormInvalid("表单数据必须是 JSON 对象")
    schema = bundle.forms.get(form_path) if form_path else None
    if schema is not None and isinstance(schema.get("properties"), dict):
        defaults = {key: prop["default"] for key, prop in schema["properties"].items()
                    if isinstance(prop, dict) and "default" in prop and key not in data}
        if defaults:
            data = {**defaults, **data}
    fields: dict[str, list[str]] = {}
    for key in engine.check_data_keys(data):
        fields[key] = ["字段名不可用（保留名或以下划线开头）"]
    if schema is None:
        for key in data:
            fields.setdefault(key, []).append("此步骤没有表单，不接受数据")
    elif isinstance(schema.get("properties"), dict) and schema.get("additionalProperties") is not True:
        for key in data:
            if key not in schema["properties"]:
                fields.setdefault(key, []).append("此表单没有该字段")
    validator = bundle.validator(form_path)
    if validator is not None:
        for path, messages in validator.errors(data).items():
            fields.setdefault(path, []).extend(messages)
    if fields:
        raise FormInvalid(f"表单有 {len(fields)} 处需要修改", fields=fields)
    return data
