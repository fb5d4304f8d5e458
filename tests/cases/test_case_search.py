"""The case search: the case page's visibility in SQL (checked both ways against instance_access),
the reporter's phone only where the identity is visible, filters, paging and order in SQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from app.demo import MARKET, SME

CST = timezone(timedelta(hours=8))
SEARCHERS = ("admin", "intake1", "dispatch1", "handler1", "handler2", "handler_pj", "head1", "head2", "qa1",
             "callback1", "supervisor", "supervisor_scj", "applicant1", "designer")


@pytest.fixture
def complaints(seeded, db):
    """Three complaints driven through the engine on an injected clock: a 市场监管局 one (public), a
    confidential one at 市场监管局 (the reporter asked to hide), one at 人社局; and one not yet registered."""
    from app.demo import _complaint_to_unit, _Driver
    from app.db import set_clock
    start = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    made = {
        "market": _complaint_to_unit({**MARKET}, start, unit="jm_scjgj"),
        "secret": _complaint_to_unit({**SME, "hide_identity": True}, start + timedelta(days=1), unit="jm_scjgj"),
        "rsj": _complaint_to_unit({**SME, "company_name": "江门市示例人力资源服务有限公司", "district": "江海区"},
                                  start + timedelta(days=2), unit="jm_rsj"),
        "fresh": _Driver("complaint", {**MARKET, "phone": "13600000003"}, "intake1", start + timedelta(days=3)),
    }
    set_clock(None)
    from app.cases.models import Case
    numbers = {name: d.case_number for name, d in made.items()}
    return {name: db.session.execute(sa.select(Case).where(Case.number == number)).scalar_one()
            for name, number in numbers.items()}


def _user(username):
    from app.auth.services import get_user_by_username
    return get_user_by_username(username)


def _found(username, per_page=100, **filters) -> list[str]:
    from app.cases.search import CaseFilters, search_cases
    page = search_cases(_user(username), CaseFilters(**filters), per_page=per_page)
    return [row.case.number for row in page.rows]


def test_a_handler_of_another_unit_never_finds_the_case_and_its_own_unit_does(complaints):
    market = complaints["market"].number
    assert _found("handler1", q=market) == [market]
    assert _found("handler2", q=market) == []
    assert market not in _found("handler2")
    assert complaints["rsj"].number in _found("handler2")
    assert complaints["rsj"].number not in _found("handler1")
    assert _found("handler1", q=market[-6:]) == [market]           # part of the number


def test_search_shows_exactly_the_cases_the_case_page_opens_user_by_user(complaints, db):
    """Both ways: every case a search lists opens for that user, and every case that opens is listed."""
    from app.processes.models import ProcessInstance
    from app.processes.instances import instance_access
    instances = db.session.execute(sa.select(ProcessInstance)).scalars().all()
    numbers = {c.id: c.number for c in complaints.values()}
    for username in SEARCHERS:
        user = _user(username)
        opens = {numbers[i.case_id] for i in instances if i.case_id in numbers and instance_access(user, i)}
        assert set(_found(username)) == opens, username
    assert set(_found("supervisor_scj")) >= {complaints["market"].number, complaints["secret"].number}
    assert complaints["rsj"].number not in _found("supervisor_scj")
    assert _found("designer") == [] and _found("applicant1") == []


def test_the_reporters_phone_matches_only_where_the_identity_is_visible(complaints):
    market, secret = complaints["market"], complaints["secret"]
    assert secret.is_confidential and not market.is_confidential
    assert _found("handler1", phone=MARKET["phone"]) == [market.number]
    assert _found("handler1", phone=SME["phone"]) == []              # confidential: nothing by phone
    assert secret.number in _found("handler1")                        # though the case itself is theirs
    assert _found("dispatch1", phone=SME["phone"]) == [complaints["rsj"].number, secret.number]
    assert _found("admin", phone=SME["phone"]) == [complaints["rsj"].number, secret.number]
    assert _found("handler1", phone="13600000003") == []            # not their case at all
    assert _found("intake1", phone="13600000003") == [complaints["fresh"].number]
    assert _found("dispatch1", phone=SME["phone"][:7]) == []         # the whole number, not a part


def test_filters_order_and_paging_are_in_sql(complaints):
    from app.cases.search import CaseFilters, search_cases
    names = ["fresh", "rsj", "secret", "market"]                      # newest first
    assert _found("admin") == [complaints[n].number for n in names]
    assert _found("admin", district="江海区") == [complaints["rsj"].number]
    assert _found("admin", channel="sme_platform") == [complaints["rsj"].number, complaints["secret"].number]
    assert _found("admin", q="人力资源服务") == [complaints["rsj"].number]
    assert _found("admin", q=SME["uscc"][:8].lower()) == [complaints["rsj"].number, complaints["secret"].number]
    assert _found("admin", status="completed") == []
    assert len(_found("admin", status="running")) == 4
    day = complaints["secret"].created_at.astimezone(CST).date()
    assert _found("admin", date_from=day, date_to=day) == [complaints["secret"].number]
    assert _found("admin", date_from=day + timedelta(days=1)) == [complaints[n].number for n in ("fresh", "rsj")]
    assert _found("admin", date_to=day - timedelta(days=1)) == [complaints["market"].number]
    page = search_cases(_user("admin"), CaseFilters(page=2), per_page=3)
    assert page.total == 4 and page.pages == 2 and [r.case.number for r in page.rows] == [complaints["market"].number]
    row = search_cases(_user("admin"), CaseFilters(q=complaints["market"].number)).rows[0]
    assert row.unit_title == "江门市市场监督管理局" and row.instance_status == "running" and row.current_steps == ["签收"]


def test_bad_filters_get_chinese_messages_per_field():
    from app.cases.search import CaseFilters
    with pytest.raises(ValidationError) as bad:
        CaseFilters.load({"date_from": "2026-13-01", "phone": "abc", "status": "done", "page": "x"})
    messages = bad.value.messages
    assert messages["date_from"] == ["请按“年-月-日”填写有效日期，例如 2026-12-01"]
    assert "只能是" in messages["status"][0] and messages["page"] == ["页码应为整数"]
    assert messages["phone"] == ["电话号码只能包含数字和“-”，3 到 20 位"]
    with pytest.raises(ValidationError) as bad:
        CaseFilters.load({"date_from": "2026-12-05", "date_to": "2026-12-01"})
    assert bad.value.messages == {"date_to": ["开始日期不能晚于结束日期"]}
    assert CaseFilters.load({"q": "  JM-2026 ", "date_from": "", "phone": " "}) == CaseFilters(q="JM-2026")


def test_the_total_comes_with_the_page_and_a_page_past_the_end_still_counts(complaints):
    from app.cases.search import CaseFilters, search_cases
    assert search_cases(_user("admin"), CaseFilters(), per_page=3).total == 4
    past = search_cases(_user("admin"), CaseFilters(page=9), per_page=3)
    assert past.total == 4 and past.rows == []
    assert search_cases(_user("admin"), CaseFilters(q="没有这个企业")).total == 0
    # a caseworker's total rides on the page (COUNT(*) OVER ()): the same numbers
    mine = _found("intake1")
    assert mine and search_cases(_user("intake1"), CaseFilters(), per_page=1).total == len(mine)
    past = search_cases(_user("intake1"), CaseFilters(page=50), per_page=1)
    assert past.total == len(mine) and past.rows == []


def test_a_date_far_off_gets_a_chinese_message_not_a_server_error():
    import pytest
    from marshmallow import ValidationError
    from app.cases.search import CaseFilters
    for field, value in (("date_from", "0001-01-01"), ("date_to", "9999-12-31")):
        with pytest.raises(ValidationError) as refused:
            CaseFilters.load({field: value})
        assert refused.value.messages == {field: ["日期须在 2000 至 2100 年之间"]}


def test_an_administrators_unfiltered_total_counts_every_case_with_its_instance(complaints, db):
    """The unfiltered total is counted on process_instance alone (no join of two whole tables): it
    is the number of cases the list holds, and a filter that keeps every case gives the same."""
    from app.cases.search import CaseFilters, search_cases
    everyone = search_cases(_user("admin"), CaseFilters(), per_page=2)
    assert everyone.total == 4 and len(everyone.rows) == 2 and everyone.pages == 2
    wide = search_cases(_user("admin"), CaseFilters(date_from=date(2026, 1, 1), date_to=date(2026, 12, 31)))
    assert wide.total == everyone.total
    later = search_cases(_user("admin"), CaseFilters(page=2), per_page=2)
    assert later.total == 4 and [r.case.number for r in later.rows] == [complaints["secret"].number,
                                                                         complaints["market"].number]


def test_the_substring_search_finds_the_same_cases_with_or_without_trigram_indexes(complaints, db):
    """On PostgreSQL the LIKE '%…%' of the search reads pg_trgm GIN indexes (migration t16c0e1d0017),
    on SQLite none exist; either way a part of a number, a one- or two-character text (fewer than a
    trigram), a typed LIKE wildcard and an enterprise name in Chinese find what a substring test does."""
    from app.cases.models import TRIGRAM_INDEXES, Case
    indexes = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("case")}
    if db.engine.dialect.name == "postgresql":
        assert set(TRIGRAM_INDEXES) <= indexes
        ops = db.session.execute(sa.text(
            "SELECT indexrelid::regclass::text FROM pg_index JOIN pg_opclass o ON o.oid = indclass[0] "
            "WHERE o.opcname = 'gin_trgm_ops'")).scalars().all()
        assert set(TRIGRAM_INDEXES) <= set(ops)
    else:
        assert not set(TRIGRAM_INDEXES) & indexes
    cases = db.session.execute(sa.select(Case)).scalars().all()
    market = complaints["market"].number
    for q in (market[-6:], market[-2:], market[-1:], "J", "%", "_", "人力资源", "江门市", "资", "no such"):
        expected = sorted(c.number for c in cases if q.upper() in (c.number or "") or q.upper() in (c.uscc or "")
                          or q in (c.company_name or "") or q in (c.title or ""))
        assert sorted(_found("admin", q=q)) == expected, q
