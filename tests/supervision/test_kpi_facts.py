"""The KPI facts: closed-case facts are computed once and reused; a step's outcome is recorded when
the task is completed through the app; the migration fills in the outcome of older completions."""
from __future__ import annotations

import sqlalchemy as sa

from tests.supervision.conftest import cst
from tests.supervision.test_kpis import END, NOW, START, _kpis, complaint_cases, dispute_cases, one_thing_cases  # noqa: F401 (fixtures)


def _facts(db):
    from app.supervision.models import CaseFact
    return {f.case_id: f for f in db.session.execute(sa.select(CaseFact)).scalars()}


def test_closed_case_facts_are_computed_once_and_then_read(complaint_cases, dispute_cases, db):
    from app.cases.models import Case
    from app.supervision import kpis
    assert _facts(db) == {}
    first = _kpis("boss", None)
    facts = _facts(db)
    closed_in_march = db.session.execute(sa.select(Case.id, Case.process_key).where(
        Case.closed_at >= kpis.parse_period(START, END).start, Case.closed_at < kpis.parse_period(START, END).end,
        Case.process_key.in_(["complaint", "dispute_escalation"]))).all()
    assert sorted(facts) == sorted(case_id for case_id, _ in closed_in_march)
    assert {f.process_key for f in facts.values()} == {"complaint", "dispute_escalation"}

    # nothing is missing any more: no new rows, and the numbers are the same when read from the facts
    period = kpis.parse_period(START, END, NOW)
    assert kpis.ensure_case_facts(period) == {"complaint": 0, "dispute_escalation": 0}
    assert _kpis("boss", None) == first


def test_a_fact_computed_with_another_calendar_is_recomputed(complaint_cases, db):
    """A worker with a stale calendar, or a calendar load since: the row's stamp differs, so it is
    computed again and the tile is right."""
    from app.supervision.models import CaseFact
    before = _kpis("boss", "complaint")["average_duration"]
    db.session.execute(sa.update(CaseFact).values(calendar_stamp="stale", working_hours=0.0))
    db.session.commit()
    assert _kpis("boss", "complaint")["average_duration"] == before
    from app.supervision.kpis import calendar_stamp
    assert {f.calendar_stamp for f in _facts(db).values()} == {calendar_stamp()}


def test_the_cli_fills_the_facts_ahead_of_the_first_request(complaint_cases, app, db):
    result = app.test_cli_runner().invoke(args=["supervision", "refresh-facts", "--since", "2025-01-01"])
    assert result.exit_code == 0, result.output
    assert "complaint: 6 case(s) computed" in result.output      # C1 C2 C3 C5 C8 closed in March, C7 in April
    assert len(_facts(db)) == 6
    again = app.test_cli_runner().invoke(args=["supervision", "refresh-facts"])
    assert "complaint: 0 case(s) computed" in again.output
    bad = app.test_cli_runner().invoke(args=["supervision", "refresh-facts", "--since", "yesterday"])
    assert bad.exit_code != 0 and "日期格式" in bad.output


def test_a_fact_row_is_what_the_kpis_count(complaint_cases, db):
    """Proof that the tiles read case_fact: change one case's stored facts and the tile moves."""
    from app.supervision.models import CaseFact
    before = _kpis("boss", "complaint")["callback_rate"]
    fact = next(f for f in _facts(db).values() if not f.called_back)
    db.session.execute(sa.update(CaseFact).where(CaseFact.case_id == fact.case_id).values(called_back=True))
    db.session.commit()
    after = _kpis("boss", "complaint")["callback_rate"]
    assert after["numerator"] == before["numerator"] + 1
    assert after["denominator"] == before["denominator"]


def test_a_case_closed_later_gets_its_facts_when_a_period_first_covers_it(complaint_cases, rows, db):
    _kpis("boss", "complaint")
    late = rows.case("complaint", cst(2025, 3, 26, 9), cst(2025, 3, 31, 16), unit="unit_a")
    rows.done(late, "handle", cst(2025, 3, 28, 10), {"need_extension": True})
    rows.done(late, "reply", cst(2025, 3, 31, 10), {"result_code": "solved"}, due=cst(2025, 3, 31, 17))
    db.session.commit()
    result = _kpis("boss", "complaint")
    fact = _facts(db)[late.id]
    assert (fact.handles, fact.asked_extension, fact.reply_on_time, fact.called_back) == (1, True, True, False)
    assert result["extension_rate"]["denominator"] == 6
    # 03-26 09:00 → 03-31 16:00: Wed 7 + Thu 7 (the 26th is a Wednesday), Fri 7, Mon 6 working hours
    assert fact.working_hours == 27


def test_outcome_helper():
    from app.tasks.models import outcome_of
    assert outcome_of({"sign_action": "return", "return_reason": "x"}) == "return"
    assert outcome_of({"satisfaction": "satisfied"}) == "satisfied"
    assert outcome_of({"outcome": "成功"}) == "成功"
    assert outcome_of({"outcome": True}) == "true"
    assert outcome_of({"contact_note": "已联系"}) is None
    assert outcome_of({"outcome": ""}) is None
    assert outcome_of(None) is None
    assert outcome_of({"outcome": "长" * 100}) == "长" * 60


def test_loading_a_years_calendar_refreshes_the_working_hours_of_that_years_cases(complaint_cases, db):
    """Facts keep working hours; when the State Council's schedule changes a day, the calendar's stamp
    changes and they are recomputed."""
    import json

    from app.calendar.schedule import parse_schedule, schedule_from_library
    from app.deadlines.services import load_year
    before = _kpis("boss", "complaint")["average_duration"]
    assert before["numerator"] == 168.5
    data = json.loads(schedule_from_library(2025, "test").to_json())
    data["holidays"] = [*data["holidays"], ["2025-03-04", "2025-03-04"]]   # C1 and C5 span it: 7 WH each
    load_year(parse_schedule(json.dumps(data), "2025.json"))
    after = _kpis("boss", "complaint")["average_duration"]
    assert after["numerator"] == 168.5 - 14 and after["denominator"] == before["denominator"]



def test_the_migration_fills_in_the_outcome_of_steps_completed_before_it(app, db):
    """Revision 8e0c0e1d0005 on a database with history: each completed step's outcome comes from its
    audit "complete" event (JSON on SQLite, JSONB on PostgreSQL); other steps keep none."""
    from datetime import datetime, timezone

    from flask_migrate import downgrade, upgrade

    from app.tasks.models import HumanTask
    when = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)
    downgrade(revision="7d0c0e1d0004")
    try:
        meta = sa.MetaData()
        meta.reflect(db.engine, only=["process_definition", "process_instance", "human_task", "audit_event"])
        t = meta.tables
        with db.engine.begin() as conn:
            conn.execute(t["process_definition"].insert().values(
                id=1, key="complaint", version=1, name="c", content_hash="0" * 64, source_file="c.bpmn",
                bpmn_xml="<x/>", dmn_xml={}, forms={}, meta={}, deployed_at=when))
            conn.execute(t["process_instance"].insert().values(
                id=1, definition_id=1, status="running", state=b"", serializer_version="1", rev=1, started_at=when))
            for task_id, bpmn_id, data in [(1, "sign_in", {"sign_action": "return", "return_reason": "职能不符"}),
                                           (2, "callback", {"satisfaction": "satisfied"}),
                                           (3, "first_contact", {"contact_note": "已联系"})]:
                conn.execute(t["human_task"].insert().values(
                    id=task_id, instance_id=1, process_key="complaint", spiff_task_id=f"task-{task_id}",
                    bpmn_id=bpmn_id, name=bpmn_id, candidate_groups=[], priority=50, status="completed",
                    created_at=when, completed_at=when, due_provisional=False))
                conn.execute(t["audit_event"].insert().values(
                    id=task_id, at=when, action="complete", instance_id=1, human_task_id=task_id, bpmn_id=bpmn_id,
                    data=data))
    finally:
        upgrade()
    outcomes = dict(db.session.execute(sa.select(HumanTask.bpmn_id, HumanTask.outcome)).all())
    assert outcomes == {"sign_in": "return", "callback": "satisfied", "first_contact": None}


def _bundle_facts(db):
    from app.supervision.models import BundleFact
    return {f.task_id: f for f in db.session.execute(sa.select(BundleFact)).scalars()}


def test_bundle_facts_are_computed_once_and_are_what_the_tiles_count(one_thing_cases, db):
    """即办率, 平均办理用时 and P90 read bundle_fact: one row per hand-out of the period, written by
    the first request; change a row and the tiles move."""
    from app.supervision import kpis
    from app.supervision.models import BundleFact
    assert _bundle_facts(db) == {}
    first = _kpis("boss", "one_thing_transport")
    facts = _bundle_facts(db)
    assert len(facts) == 3                       # O1 O2 O3 handed out in March; O5 in February, O4 not yet
    assert sorted(round(f.working_hours, 3) for f in facts.values()) == [0.667, 1.0, 21.0]
    assert sorted(f.on_the_spot for f in facts.values()) == [False, False, True]
    assert kpis.ensure_bundle_facts(kpis.parse_period(START, END, NOW)) == 0
    assert _kpis("boss", "one_thing_transport") == first

    slow = next(f for f in facts.values() if f.on_the_spot is False and f.working_hours == 21.0)
    db.session.execute(sa.update(BundleFact).where(BundleFact.task_id == slow.task_id)
                       .values(working_hours=30.0, on_the_spot=True))
    db.session.commit()
    after = _kpis("boss", "one_thing_transport")
    assert after["on_the_spot_rate"]["numerator"] == first["on_the_spot_rate"]["numerator"] + 1
    assert after["bundle_p90_hours"]["value"] == 30.0
    assert after["bundle_average_hours"]["numerator"] == round(first["bundle_average_hours"]["numerator"] + 9, 1)


def test_a_bundle_fact_of_another_calendar_is_recomputed_and_the_cli_fills_them(one_thing_cases, app, db):
    from app.supervision.kpis import calendar_stamp
    from app.supervision.models import BundleFact
    result = app.test_cli_runner().invoke(args=["supervision", "refresh-facts", "--since", "2025-01-01"])
    assert result.exit_code == 0, result.output
    assert "one_thing_transport: 4 hand-out(s) computed" in result.output   # O5 in February too
    before = _kpis("boss", "one_thing_transport")
    db.session.execute(sa.update(BundleFact).values(calendar_stamp="stale", working_hours=0.0))
    db.session.commit()
    assert _kpis("boss", "one_thing_transport") == before
    march = {f.calendar_stamp for f in _bundle_facts(db).values() if f.handed_out_at >= cst(2025, 3, 1, 0)}
    assert march == {calendar_stamp()}


def test_a_hand_out_without_acceptance_is_left_out_of_the_bundle_tiles(one_thing_cases, rows, db):
    odd = rows.case("one_thing_transport", cst(2025, 3, 12, 9))
    rows.done(odd, "handout", cst(2025, 3, 12, 11))
    db.session.commit()
    result = _kpis("boss", "one_thing_transport")
    assert result["on_the_spot_rate"]["denominator"] == 3
    assert result["bundle_average_hours"]["denominator"] == 3
    fact = next(f for f in _bundle_facts(db).values() if f.case_id == odd.id)
    assert (fact.accepted_at, fact.working_hours, fact.on_the_spot) == (None, None, None)
    from app.supervision import kpis
    assert kpis.ensure_bundle_facts(kpis.parse_period(START, END, NOW)) == 0   # recorded, not recomputed each time
