"""The dashboard's charts: the weekly trend (received / closed / fell overdue, weeks from Monday
Beijing time), the per-step heat map counts, the tab counts; each in scope, and the API answering
the same numbers as the functions."""
from __future__ import annotations

import pytest

from tests.supervision.conftest import cst

NOW = cst(2025, 3, 20, 10, 0)   # Thursday of the week of Monday 17 March


@pytest.fixture
def history(people, rows, db, clock):
    """Cases of units A and B received and closed around the week boundaries of March 2025, and their
    steps: overdue, on time, late, paused, not yet due. Returns {label: id}."""
    clock.set(NOW)
    r = rows
    ids = {}
    # week of Mon 3 March: a case received on Sunday 9 March 23:30 (still that week), closed on Monday 10 at 00:10
    a1 = r.case("complaint", cst(2025, 3, 9, 23, 30), cst(2025, 3, 10, 0, 10), unit="unit_a", district="蓬江区")
    # week of Mon 10 March: received Monday 00:05, still open
    a2 = r.case("complaint", cst(2025, 3, 10, 0, 5), unit="unit_a", district="江海区", channel="sme_platform")
    b1 = r.case("complaint", cst(2025, 3, 11, 9), cst(2025, 3, 18, 9), unit="unit_b", district="台山市")
    onething = r.case("one_thing_transport", cst(2025, 3, 12, 9), unit="unit_a", district="鹤山市", channel="window")
    r.case("complaint", cst(2025, 2, 27, 9), unit="unit_a")                        # before the period
    # steps falling overdue, by the week of their due date
    ids["a_late"] = r.task(a2, "sign_in", groups=["unit_a"], due=cst(2025, 3, 11, 12), done=cst(2025, 3, 12, 9),
                           name="签收").id                                          # week 10: late
    r.task(a2, "first_contact", groups=["unit_a"], due=cst(2025, 3, 12, 12), done=cst(2025, 3, 12, 11))   # on time
    ids["a_open"] = r.task(a2, "handle", status="ready", groups=["unit_a"], due=cst(2025, 3, 18, 12),
                           name="办理").id                                          # week 17: open, overdue
    ids["a_soon"] = r.task(onething, "precheck", status="ready", groups=["unit_a"], due=cst(2025, 3, 20, 17),
                           warn=cst(2025, 3, 20, 9), name="收件预审").id             # due soon, not overdue
    r.task(a2, "reply", status="ready", groups=["unit_a"], due=cst(2025, 3, 19, 12), paused=cst(2025, 3, 19, 9))
    r.task(a2, "callback", status="ready", groups=["unit_a"], due=cst(2025, 3, 27, 12))   # not due yet: not counted
    ids["b_open"] = r.task(b1, "handle", status="ready", groups=["unit_b"], due=cst(2025, 3, 17, 9),
                           name="办理").id                                          # week 17
    ids["b_head"] = r.task(b1, "extension_unit", status="ready", groups=["unit_b"], due=cst(2025, 3, 18, 9),
                           name="单位审批延期").id                                   # week 17
    db.session.commit()
    ids.update(a1=a1.id, a2=a2.id, b1=b1.id)
    return ids


def _user(name):
    from app.auth.services import get_user_by_username
    return get_user_by_username(name)


def _trend(username, start="2025-03-01", end="2025-04-01", **filters):
    from app.supervision.queries import Filters, weekly_trend
    return weekly_trend(_user(username), start, end, Filters.from_mapping(filters), now=NOW)


def _weeks(result, key):
    return [w[key] for w in result["weeks"]]


def test_weeks_start_on_monday_beijing_time_and_are_clipped_to_the_period(history):
    result = _trend("boss")
    assert [w["label"] for w in result["weeks"]] == ["3月1日", "3月3日", "3月10日", "3月17日", "3月24日", "3月31日"]
    assert [str(w["monday"]) for w in result["weeks"]][:2] == ["2025-02-24", "2025-03-03"]
    # Sunday 23:30 is the week of 3 March; Monday 00:05 the week of 10 March
    assert _weeks(result, "received") == [0, 1, 3, 0, 0, 0]
    assert _weeks(result, "closed") == [0, 0, 1, 1, 0, 0]
    # late sign-in (week 10); a_open, b_open, b_head (week 17); not the on-time, paused or not-yet-due steps
    assert _weeks(result, "overdue") == [0, 0, 1, 3, 0, 0]
    assert result["totals"] == {"received": 4, "closed": 2, "overdue": 4}


def test_a_supervisor_sees_only_their_units_in_the_trend(history):
    a, b = _trend("sup_a"), _trend("sup_b")
    assert a["totals"] == {"received": 3, "closed": 1, "overdue": 2}
    assert b["totals"] == {"received": 1, "closed": 1, "overdue": 2}
    assert _trend("sup_none")["totals"] == {"received": 0, "closed": 0, "overdue": 0}
    assert _trend("boss", unit="unit_b")["totals"] == b["totals"]
    from app.errors import Forbidden
    with pytest.raises(Forbidden):
        _trend("sup_a", unit="unit_b")
    with pytest.raises(Forbidden):
        _trend("clerk")


def test_the_trend_filters_by_district_process_and_channel(history):
    assert _trend("boss", district="江海区")["totals"] == {"received": 1, "closed": 0, "overdue": 2}
    assert _trend("boss", process="one_thing_transport")["totals"] == {"received": 1, "closed": 0, "overdue": 0}
    assert _trend("boss", channel="sme_platform")["totals"]["received"] == 1


def test_a_bad_or_too_long_period_is_refused_at_its_field(history):
    from app.errors import FormInvalid
    with pytest.raises(FormInvalid) as bad:
        _trend("boss", start="2025-13-01")
    assert bad.value.fields == {"start": ["日期格式应为 YYYY-MM-DD 或带时区的 ISO 时间"]}
    with pytest.raises(FormInvalid) as long:
        _trend("boss", start="2020-01-01", end="2025-01-01")
    assert "周" in long.value.fields["end"][0]


def _heat(username, process="complaint", with_diagram=False, **filters):
    from app.supervision.queries import Filters, step_heat
    return step_heat(_user(username), process, Filters.from_mapping(filters), now=NOW, with_diagram=with_diagram)


def test_the_heat_map_counts_open_overdue_and_due_soon_tasks_per_step(history):
    boss = _heat("boss")
    steps = {s["bpmn_id"]: (s["open"], s["overdue"], s["due_soon"]) for s in boss["steps"]}
    assert steps == {"handle": (2, 2, 0), "extension_unit": (1, 1, 0), "reply": (1, 0, 0), "callback": (1, 0, 0)}
    assert boss["steps"][0]["bpmn_id"] == "handle"          # most overdue first
    assert boss["totals"] == {"open": 5, "overdue": 3, "due_soon": 0}
    a = {s["bpmn_id"]: (s["open"], s["overdue"]) for s in _heat("sup_a")["steps"]}
    assert a == {"handle": (1, 1), "reply": (1, 0), "callback": (1, 0)}
    assert {s["bpmn_id"] for s in _heat("sup_b")["steps"]} == {"handle", "extension_unit"}
    onething = _heat("sup_a", "one_thing_transport")
    assert onething["steps"] == [{"bpmn_id": "precheck", "name": "收件预审", "open": 1, "overdue": 0, "due_soon": 1}]
    assert _heat("boss", district="台山市")["totals"] == {"open": 2, "overdue": 2, "due_soon": 0}
    assert "xml" not in boss
    drawn = _heat("sup_a", with_diagram=True, step="reply", escalation="overdue")   # a list's step, rung: ignored
    assert drawn["steps"] == _heat("sup_a")["steps"]
    from app.processes.versions import get_latest_definition
    latest = get_latest_definition("complaint")
    assert (drawn["xml"], drawn["version"]) == (latest.bpmn_xml, latest.version)


def test_the_heat_map_needs_a_deployed_process(history):
    from app.errors import FormInvalid
    for process in (None, "nope"):
        with pytest.raises(FormInvalid) as refused:
            _heat("boss", process)
        assert "process" in refused.value.fields


def test_tab_counts_match_the_lists(history):
    from app.supervision.queries import Filters, count_tasks, list_tasks
    for name in ("boss", "sup_a", "sup_b"):
        for kind in ("overdue", "due_soon"):
            for filters in (Filters(), Filters(district="江海区"), Filters(step="handle")):
                assert count_tasks(_user(name), kind, filters, now=NOW) == \
                    list_tasks(_user(name), kind, filters, now=NOW).total


def test_the_reassign_choices_are_the_active_members_of_the_groups(history, db, people):
    from app.supervision.queries import group_members
    people["worker_a2"].is_active_user = False
    db.session.commit()
    members = group_members(["unit_a", "unit_a_head", "nobody"])
    assert [u for u, _ in members["unit_a"]] == ["sup_a", "worker_a"]
    assert members["unit_a_head"] == [("head_a", "负责人 甲")]
    assert "nobody" not in members and group_members([]) == {}


def test_the_api_answers_the_same_numbers(history, api):
    trend = api.get("/api/v1/supervision/trend?start=2025-03-01&end=2025-04-01", user="sup_a").get_json()
    expected = _trend("sup_a")
    assert trend["totals"] == expected["totals"]
    assert [w["overdue"] for w in trend["weeks"]] == _weeks(expected, "overdue")
    assert [w["label"] for w in trend["weeks"]] == [w["label"] for w in expected["weeks"]]
    heat = api.get("/api/v1/supervision/heatmap?process=complaint", user="sup_a").get_json()
    assert heat["steps"] == _heat("sup_a")["steps"] and heat["totals"] == _heat("sup_a")["totals"]
    refused = api.get("/api/v1/supervision/heatmap", user="sup_a")
    assert refused.status_code == 422 and "process" in refused.get_json()["error"]["fields"]
    assert api.get("/api/v1/supervision/trend?start=2025-03-01&end=2025-04-01&unit=unit_b",
                   user="sup_a").status_code == 403
    assert api.get("/api/v1/supervision/trend?start=x&end=2025-04-01", user="boss").status_code == 422
    assert api.get("/api/v1/supervision/heatmap?process=complaint", user="clerk").status_code == 403
