"""Demo groups and users: one user for every lane group of the shipped diagrams."""
from __future__ import annotations

from app.auth import services
from app.auth.models import ROLE_ADMIN, ROLE_DESIGNER, ROLE_SUPERVISOR, ROLE_TITLES, GroupKind
from app.extensions import db

# (name, title, kind)
DEMO_GROUPS = [
    *((role, title, GroupKind.ROLE) for role, title in ROLE_TITLES.items()),
    ("intake", "受理员", GroupKind.LANE),
    ("dispatch", "分拨员", GroupKind.LANE),
    ("handler", "承办单位经办人", GroupKind.LANE),
    ("callback", "回访员", GroupKind.LANE),
]

# (username, display name, groups); the README lists these.
DEMO_USERS = [
    ("admin", "系统管理员", [ROLE_ADMIN]),
    ("designer", "流程设计员 周设计", [ROLE_DESIGNER]),
    ("supervisor", "督办员 王督办", [ROLE_SUPERVISOR]),
    ("intake1", "受理员 李受理", ["intake"]),
    ("dispatch1", "分拨员 陈分拨", ["dispatch"]),
    ("handler1", "经办人 黄经办", ["handler"]),
    ("callback1", "回访员 梁回访", ["callback"]),
]


def seed_demo_users(password: str) -> list[str]:
    """Create or refresh the demo groups and users. Idempotent. Commits."""
    groups = {name: services.ensure_group(name, title, kind) for name, title, kind in DEMO_GROUPS}
    lines = []
    for username, display, group_names in DEMO_USERS:
        user, created = services.create_or_update_user(
            username, password, display, [groups[g] for g in group_names])
        lines.append(f"{'created' if created else 'exists '} {username:<11} {display}  groups={','.join(group_names)}")
    db.session.commit()
    return lines
