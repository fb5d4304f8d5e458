"""What people read instead of the codes the data keeps: a group's title for its name (jm_scjgj →
江门市市场监督管理局), a form option's title for its value (hotline_12345 → 12345政务服务便民热线), a
case's number for its row id. Pages, exports, task instructions, notifications and e-mails all ask
here; none turns a code into words of its own. (A step's name for its BPMN id is the task's `name`,
kept on every row.) Small statements over small tables; no Flask request."""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app.auth.models import Group
from app.cases.models import Case
from app.extensions import db
from app.processes.models import ProcessDefinition
from app.taskforms.schema import options_of


# --- groups and units -------------------------------------------------------------------------------

def group_titles(names: Iterable[str] | None = None) -> dict[str, str]:
    """{group name: its title} of these groups (of every group when None): one statement."""
    stmt = sa.select(Group.name, Group.title)
    if names is not None:
        wanted = sorted({n for n in names if n})
        if not wanted:
            return {}
        stmt = stmt.where(Group.name.in_(wanted))
    return {name: title or name for name, title in db.session.execute(stmt).all()}


def group_title(name: str | None) -> str:
    """A group's (unit's) title; the name itself for a group that does not exist; "" for None."""
    if not name:
        return ""
    return group_titles([name]).get(name, name)


def groups_text(names: Iterable[str] | None, titles: dict[str, str] | None = None) -> str:
    """Groups as people name them, joined with 、 (`titles` from group_titles saves the statement)."""
    names = [n for n in (names or []) if n]
    titles = titles if titles is not None else group_titles(names)
    return "、".join(titles.get(n, n) for n in names)


# --- coded values of the forms ----------------------------------------------------------------------

def _options(node: dict) -> dict:
    """{value: title} of a schema node's titled text choices, read by the forms' one schema reader."""
    return {o.const: o.label for o in options_of(node, {}) if isinstance(o.const, str) and o.label != o.const}


def field_options(forms: dict | None) -> dict[str, dict[str, str]]:
    """{field: {value: title}} of every field with titled choices in a version's form schemas, at any
    depth (an array's items, an object's properties); the first form that names a field wins."""
    found: dict[str, dict[str, str]] = {}

    def walk(properties):
        if not isinstance(properties, dict):
            return
        for name, prop in properties.items():
            if not isinstance(prop, dict):
                continue
            node = prop.get("items") if isinstance(prop.get("items"), dict) else prop
            options = _options(node)
            if options and name not in found:
                found[name] = options
            walk(node.get("properties"))
    for schema in (forms or {}).values():
        if isinstance(schema, dict):
            walk(schema.get("properties"))
    return found


def value_titles(forms: dict | None) -> dict[str, str]:
    """{code: title} for text filled from a version's data (task instructions), where the field a value
    came from is not known: every group's title, then the titles of the version's form choices."""
    titles: dict[str, str] = {}
    for options in field_options(forms).values():
        for value, title in options.items():
            titles.setdefault(value, title)
    titles.update(group_titles())
    return {code: title for code, title in titles.items() if code != title}


def latest_field_options(field: str) -> dict[str, str]:
    """{value: title} of one field's choices in the latest version of every process (e.g. "channel",
    for lists and exports that mix processes)."""
    latest = (sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    titles: dict[str, str] = {}
    for (forms,) in db.session.execute(
            sa.select(ProcessDefinition.forms)
            .join(latest, sa.and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.v))
            .order_by(ProcessDefinition.key)).all():
        for value, title in field_options(forms).get(field, {}).items():
            titles.setdefault(value, title)
    return titles


# --- cases --------------------------------------------------------------------------------------------

def case_number(case_id: int | None) -> str:
    """The number people know a case by (JM-2026-1126-000003); "—" without a case."""
    if case_id is None:
        return "—"
    number = db.session.execute(sa.select(Case.number).where(Case.id == case_id)).scalar_one_or_none()
    return number or "—"
