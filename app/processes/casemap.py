"""The case record (工单/案件) kept from workflow data, one mapping per process: which data fills the
case's title, channel, district, enterprise and USCC (统一社会信用代码), and who the parties are. The
mapping is applied at the start and again after every step, so a case row never drifts from what the
steps entered (登记建档 corrects the title, 营业执照登记 gives the new company its USCC). Also the case
number, the 承办单位 once dispatched, confidentiality, and closing."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

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
COLUMNS = ("title", "channel", "district", "company_name", "uscc")
_LIMITS = {"title": 200, "channel": 40, "district": 40, "company_name": 200, "uscc": 18}
# the columns from the data and confidentiality (which only ever turns on), written only when one of
# them differs (NULL-safe), so most steps write nothing
_CONFIDENTIAL = sa.bindparam("b_confidential", type_=sa.Boolean)
_SYNC_COLUMNS = sa.update(_case).where(
    _case.c.id == sa.bindparam("b_id"),
    sa.not_(sa.and_(*[_case.c[name].is_not_distinct_from(sa.bindparam(f"b_{name}")) for name in COLUMNS],
                    sa.or_(_case.c.is_confidential.is_(True), sa.not_(_CONFIDENTIAL))))
).values(is_confidential=sa.or_(_case.c.is_confidential, _CONFIDENTIAL))


# --- the mapping per process ----------------------------------------------------------------------

def _names(parties: Any) -> str | None:
    names = [str(p.get("name")).strip() for p in parties if isinstance(p, dict) and p.get("name")] \
        if isinstance(parties, list) else []
    return "、".join(names) or None


def _enterprise(data: dict) -> dict:
    """The first enterprise among a dispute's parties (申请方 first, then 被申请方)."""
    for side in ("applicants", "respondents"):
        for party in data.get(side) or []:
            if isinstance(party, dict) and party.get("type") == "企业" and party.get("name"):
                return party
    return {}


def _by_field_name(data: dict) -> dict:
    """Any process: the data fields named like the columns."""
    return {name: data.get(name) for name in COLUMNS}


def _dispute(data: dict) -> dict:
    enterprise = _enterprise(data)
    return {"title": data.get("title"), "channel": data.get("source"), "district": data.get("district"),
            "company_name": enterprise.get("name"), "uscc": enterprise.get("uscc")}


def _one_thing(data: dict) -> dict:
    company = data.get("company_name")
    return {"title": f"{company}：开办运输企业" if company else None, "channel": None,
            "district": data.get("district"), "company_name": company, "uscc": data.get("uscc")}


# process key -> (data -> column values); a process not named here maps its fields by name
MAPPINGS: dict[str, Callable[[dict], dict]] = {
    "dispute_escalation": _dispute,
    "one_thing_transport": _one_thing,
}

# process key -> [(title, data -> text)]: who the case is about, for the case summary (data masked as
# the viewer may see it); a process not named here shows its 诉求人 / 申请人 field
PARTIES: dict[str, list[tuple[str, Callable[[dict], Any]]]] = {
    "dispute_escalation": [("申请方", lambda d: _names(d.get("applicants"))),
                           ("被申请方", lambda d: _names(d.get("respondents")))],
    "one_thing_transport": [("法定代表人", lambda d: d.get("legal_rep_name")),
                            ("经办人", lambda d: d.get("agent_name"))],
}
_DEFAULT_PARTIES = [("诉求人/申请人", lambda d: d.get("complainant_name") or d.get("applicant_name"))]


def case_columns(process_key: str, data: dict) -> dict:
    """The case columns this process's data gives (None where it gives nothing), cut to their sizes."""
    values = MAPPINGS.get(process_key, _by_field_name)(data or {})
    return {name: _text(values.get(name), _LIMITS[name]) for name in COLUMNS}


def parties(process_key: str, data: dict) -> list[tuple[str, Any]]:
    """(title, value) of the case's parties, for the summary; the value None when the data has none."""
    return [(title, read(data or {})) for title, read in PARTIES.get(process_key, _DEFAULT_PARTIES)]


# --- writing the case row -------------------------------------------------------------------------


def open_case(key: str, data: dict, actor_id: int | None, now: datetime) -> Case:
    """The case of a start, its columns from the start data, numbered. Flushes, does not commit."""
    case = Case(process_key=key, **case_columns(key, data), is_confidential=privacy.is_confidential(data),
                created_at=now, created_by_id=actor_id)
    db.session.add(case)
    db.session.flush()
    case.number = _case_number(case.id, now)
    return case


def sync_case(conn, case_id: int | None, process_key: str, *, data: dict, routed: bool, ended: bool,
              now: datetime) -> None:
    """Keep the case row in step with the action just taken: the mapped columns and confidentiality
    from the workflow data after it (one UPDATE that changes nothing unless a value differs: a report,
    a misconduct clue or a script's hide_identity makes the case confidential at once, for the lists
    and exports that read the column), the unit (`routed`: a task was just offered to a group named
    by a `${...}` placeholder), closing (`ended`: the instance finished). Does not commit."""
    if case_id is None:
        return
    columns = case_columns(process_key, data)
    conn.execute(_SYNC_COLUMNS, {"b_id": case_id, "b_confidential": privacy.is_confidential(data),
                                 **{f"b_{k}": v for k, v in columns.items()}, **columns})
    # the 承办单位 once dispatched: only when a task was just routed by a `${...}` group, as after
    # 派单 or a ruling, not on every action of the case
    unit = data.get("handler_org")
    if isinstance(unit, str) and unit and routed:
        conn.execute(_SET_CASE_UNIT, {"b_id": case_id, "b_unit": unit, "unit": unit})
    if ended:
        conn.execute(_CLOSE_CASE, {"b_id": case_id, "status": CaseStatus.CLOSED, "closed_at": now})


def _case_number(case_id: int, now: datetime) -> str:
    local = now.astimezone(SHANGHAI)  # the case number carries the local (Asia/Shanghai) date
    return f"JM-{local:%Y}-{local:%m%d}-{case_id:06d}"


def _text(value, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit]
