"""The case record (工单/案件) kept from workflow data: the columns a start fills from the start data
and the case number; on each step, the 承办单位 once dispatched, confidentiality, and closing."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.calendar import SHANGHAI
from app.cases import privacy
from app.cases.models import Case, CaseStatus
from app.extensions import db


_case = Case.__table__
# Prebuilt Core statements: they run inside apply_result, the hot path of every action
_CLOSE_CASE = sa.update(_case).where(_case.c.id == sa.bindparam("b_id"))
_SET_CASE_UNIT = sa.update(_case).where(_case.c.id == sa.bindparam("b_id"),
                                        sa.or_(_case.c.unit.is_(None), _case.c.unit != sa.bindparam("b_unit")))
_MARK_CONFIDENTIAL = sa.update(_case).where(_case.c.id == sa.bindparam("b_id"), _case.c.is_confidential.is_(False))


def open_case(key: str, data: dict, actor_id: int | None, now: datetime) -> Case:
    """The case of a start, its columns from the start data, numbered. Flushes, does not commit."""
    case = Case(process_key=key, title=_text(data.get("title"), 200), channel=_text(data.get("channel"), 40),
                district=_text(data.get("district"), 40), company_name=_text(data.get("company_name"), 200),
                uscc=_text(data.get("uscc"), 18),
                is_confidential=privacy.is_confidential(data),
                created_at=now, created_by_id=actor_id)
    db.session.add(case)
    db.session.flush()
    case.number = _case_number(case.id, now)
    return case


def sync_case(conn, case_id: int | None, *, data: dict, routed: bool, submitted: dict | None, ended: bool,
              now: datetime) -> None:
    """Keep the case row in step with the action just taken (`routed`: a task was just offered to a
    group named by a `${...}` placeholder; `ended`: the instance finished). Does not commit."""
    if case_id is None:
        return
    # the 承办单位 once dispatched: only when a task was just routed by a `${...}` group, as after
    # 派单 or a ruling, not on every action of the case
    unit = data.get("handler_org")
    if isinstance(unit, str) and unit and routed:
        conn.execute(_SET_CASE_UNIT, {"b_id": case_id, "b_unit": unit, "unit": unit})
    # a step that makes the case confidential (a report, a misconduct clue): the lists and exports
    # read the column, so it follows the data at once; one UPDATE only on such a step
    if submitted and privacy.is_confidential(submitted):
        conn.execute(_MARK_CONFIDENTIAL, {"b_id": case_id, "is_confidential": True})
    if ended:
        conn.execute(_CLOSE_CASE, {"b_id": case_id, "status": CaseStatus.CLOSED, "closed_at": now})


def _case_number(case_id: int, now: datetime) -> str:
    local = now.astimezone(SHANGHAI)  # the case number carries the local (Asia/Shanghai) date
    return f"JM-{local:%Y}-{local:%m%d}-{case_id:06d}"


def _text(value, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit]
