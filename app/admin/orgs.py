"""Groups and units: the organisation tree (city → district → town → village, each 承办单位 with its
`<unit>_head` group), the titles lanes map to, and the deployed lanes that have no group."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.admin.audit_log import AdminAction, record
from app.admin.users import _reason
from app.auth.models import ROLE_TITLES, Group, GroupKind, User, user_group
from app.errors import FormInvalid, NotFound
from app.extensions import db
from app.processes.versions import list_latest_definitions

LEVELS = {"city": "市级", "district": "县（市、区）级", "town": "镇（街）级", "village": "村（社区）级"}
KIND_TITLES = {GroupKind.ROLE: "系统角色", GroupKind.LANE: "岗位（泳道）", GroupKind.UNIT: "承办单位"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,99}$")
HEAD_SUFFIX = "_head"


@dataclass
class UnitNode:
    group: Group
    head: Group | None
    members: int
    head_members: int
    children: list["UnitNode"] = field(default_factory=list)


def member_counts() -> dict[int, int]:
    rows = db.session.execute(sa.select(user_group.c.group_id, sa.func.count()).group_by(user_group.c.group_id))
    return dict(rows.all())


def all_groups() -> list[Group]:
    return list(db.session.execute(sa.select(Group).order_by(Group.kind, Group.title)).scalars())


def get_group(group_id: int) -> Group:
    group = db.session.get(Group, group_id)
    if group is None:
        raise NotFound("找不到该用户组")
    return group


def unit_tree(groups: list[Group] | None = None) -> list[UnitNode]:
    """The units as a tree by parent, each with its head group; roots sorted by level then title."""
    groups = groups if groups is not None else all_groups()
    counts = member_counts()
    by_name = {g.name: g for g in groups}
    units = [g for g in groups if g.kind == GroupKind.UNIT]
    nodes = {}
    for unit in units:
        head = by_name.get(unit.name + HEAD_SUFFIX)
        nodes[unit.id] = UnitNode(unit, head, counts.get(unit.id, 0), counts.get(head.id, 0) if head else 0)
    roots = []
    order = list(LEVELS)
    for node in sorted(nodes.values(), key=lambda n: (order.index(n.group.level) if n.group.level in order
                                                       else len(order), n.group.title)):
        parent = nodes.get(node.group.parent_id)
        (parent.children if parent else roots).append(node)
    return roots


def head_groups(groups: list[Group]) -> set[int]:
    unit_names = {g.name for g in groups if g.kind == GroupKind.UNIT}
    return {g.id for g in groups if g.name.endswith(HEAD_SUFFIX) and g.name[:-len(HEAD_SUFFIX)] in unit_names}


@dataclass
class LaneWarning:
    process: str
    version: int
    task: str
    lane: str | None
    missing: list[str]


def lane_warnings() -> list[LaneWarning]:
    """Every task of a latest deployed version whose lane (or candidateGroups) names no existing group:
    nobody can ever see its tasks. (Deploy maps a lane to the group whose title equals the lane's name.)"""
    known = set(db.session.execute(sa.select(Group.name)).scalars())
    out = []
    for definition in list_latest_definitions():
        for meta in (definition.meta or {}).get("tasks", {}).values():
            if meta.get("candidate_template"):
                continue   # ${handler_org}: a unit chosen at run time
            groups = meta.get("candidate_groups") or []
            missing = [g for g in groups if g not in known]
            if missing or (meta.get("lane") and not groups):
                out.append(LaneWarning(definition.name, definition.version, meta.get("name") or "",
                                       meta.get("lane"), missing or [meta.get("lane")]))
    return out


def _fields(form: dict, errors: dict, group: Group | None) -> dict:
    title = (form.get("title") or "").strip()
    if not title:
        errors["title"] = ["请填写名称"]
    elif len(title) > 100:
        errors["title"] = ["名称不超过 100 个字符"]
    else:
        clash = db.session.execute(sa.select(Group).where(Group.title == title)).scalars().first()
        if clash is not None and (group is None or clash.id != group.id):
            errors["title"] = ["已有同名的用户组：泳道按名称匹配用户组，名称必须唯一"]
    level = (form.get("level") or "").strip() or None
    if level and level not in LEVELS:
        errors["level"] = ["请选择层级"]
    parent = None
    parent_text = (form.get("parent_id") or "").strip()
    if parent_text:
        try:
            parent = db.session.get(Group, int(parent_text))
        except ValueError:
            parent = None
        if parent is None or parent.kind != GroupKind.UNIT:
            errors["parent_id"] = ["上级单位不存在"]
            parent = None
        elif group is not None:
            walker = parent
            while walker is not None:
                if walker.id == group.id:
                    errors["parent_id"] = ["上级单位不能是本单位或其下级单位"]
                    break
                walker = db.session.get(Group, walker.parent_id) if walker.parent_id else None
    return {"title": title, "level": level, "parent_id": parent.id if parent else None}


def _titled(changes: dict) -> dict:
    """The audit's view of a change: the parent unit's title and the level's name, not their codes."""
    out = dict(changes)
    if "parent_id" in out:
        out["parent"] = [db.session.get(Group, i).title if i else None for i in out.pop("parent_id")]
    if "level" in out:
        out["level"] = [LEVELS.get(v) if v else None for v in out["level"]]
    return out


def create_group(actor: User, form: dict) -> Group:
    """A lane group or a unit (optionally with its `_head` group). Commits."""
    errors: dict = {}
    name = (form.get("name") or "").strip()
    kind = form.get("kind") or ""
    if kind not in (GroupKind.LANE, GroupKind.UNIT):
        errors["kind"] = ["请选择类型：岗位（泳道）或承办单位"]
    if not NAME_RE.match(name):
        errors["name"] = ["代码为 2–100 位小写字母、数字或下划线，以字母开头，例如 ts_chonglou_gov"]
    elif name in ROLE_TITLES:
        errors["name"] = ["系统角色不能在此新建"]
    elif db.session.execute(sa.select(Group.id).where(Group.name == name)).first():
        errors["name"] = ["该代码已被使用"]
    values = _fields(form, errors, None)
    with_head = kind == GroupKind.UNIT and bool(form.get("with_head"))
    if with_head and not errors.get("name"):
        if db.session.execute(sa.select(Group.id).where(Group.name == name + HEAD_SUFFIX)).first():
            errors["name"] = [f"负责人组 {name}{HEAD_SUFFIX} 已存在"]
        if values["title"] and db.session.execute(
                sa.select(Group.id).where(Group.title == values["title"] + "负责人")).first():
            errors["title"] = [f"已有名为“{values['title']}负责人”的用户组"]
    if kind != GroupKind.UNIT and (values["parent_id"] or values["level"]):
        errors.setdefault("parent_id", ["只有承办单位有上级单位和层级"])
    reason = _reason(form.get("reason"), errors)
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    group = Group(name=name, kind=kind, **values)
    db.session.add(group)
    made = [values["title"]]
    if with_head:
        db.session.add(Group(name=name + HEAD_SUFFIX, title=values["title"] + "负责人", kind=GroupKind.LANE))
        made.append(values["title"] + "负责人")
    db.session.flush()
    record(actor, AdminAction.GROUP_CREATE, reason, label=values["title"], group_id=group.id, created=made)
    db.session.commit()
    return group


def update_group(actor: User, group: Group, form: dict) -> Group:
    """Title (lanes map to it), parent unit and level. Commits."""
    if group.kind == GroupKind.ROLE:
        raise FormInvalid("系统角色不能修改", fields={"title": ["系统角色的名称固定"]})
    errors: dict = {}
    values = _fields(form, errors, group)
    if group.kind != GroupKind.UNIT:
        values["parent_id"], values["level"] = None, None
    reason = _reason(form.get("reason"), errors)
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    changes = {k: [getattr(group, k), v] for k, v in values.items() if getattr(group, k) != v}
    if not changes:
        raise FormInvalid("没有修改任何内容", fields={"title": ["与原来相同"]})
    for key, (_, new) in changes.items():
        setattr(group, key, new)
    record(actor, AdminAction.GROUP_UPDATE, reason, label=group.title, group_id=group.id, changes=_titled(changes))
    db.session.commit()
    return group
