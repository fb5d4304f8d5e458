"""Each KPI on a fixed data set whose expected values were worked out by hand (March 2025, Beijing
time; office hours 09:00–12:00 and 13:00–17:00, 7 working hours a day; no holiday in the period)."""
from __future__ import annotations

import pytest

from tests.supervision.conftest import cst

START, END = "2025-03-01", "2025-04-01"   # [03-01 00:00, 04-01 00:00) Beijing
NOW = cst(2025, 4, 10, 10, 0)


@pytest.fixture
def complaint_cases(people, rows, db):
    """Complaint cases C1…C8 (units: C1, C2, C4, C8 → unit_a; C3, C5, C6, C7 → unit_b)."""
    r = rows
    c1 = r.case("complaint", cst(2025, 3, 3, 9), cst(2025, 3, 5, 17), unit="unit_a")
    r.done(c1, "sign_in", cst(2025, 3, 3, 10), {"sign_action": "sign"}, due=cst(2025, 3, 3, 12))
    r.done(c1, "first_contact", cst(2025, 3, 3, 11), {"contact_note": "已电话联系"}, due=cst(2025, 3, 3, 18))
    r.done(c1, "handle", cst(2025, 3, 4, 15), {"need_extension": False})
    r.done(c1, "reply", cst(2025, 3, 5, 15), {"result_code": "solved"}, due=cst(2025, 3, 5, 23, 59, 59))
    r.done(c1, "callback", cst(2025, 3, 5, 16), {"satisfaction": "satisfied", "complaint_reasonable": True})

    c2 = r.case("complaint", cst(2025, 3, 10, 9), cst(2025, 3, 14, 17), unit="unit_a")
    r.done(c2, "sign_in", cst(2025, 3, 10, 14), {"sign_action": "return", "return_reason": "不属于本单位职责"},
           due=cst(2025, 3, 10, 12))                                                      # late, returned
    r.done(c2, "sign_in", cst(2025, 3, 10, 15), {"sign_action": "sign"}, due=cst(2025, 3, 10, 17))
    r.done(c2, "first_contact", cst(2025, 3, 11, 9), {}, due=cst(2025, 3, 10, 18))       # late
    r.done(c2, "handle", cst(2025, 3, 11, 12), {"need_extension": True, "extension_days": 3,
                                                  "extension_reason": "需现场核查"})
    r.done(c2, "reply", cst(2025, 3, 11, 16), {"result_code": "solved"}, due=cst(2025, 3, 12, 23, 59, 59))
    r.done(c2, "handle", cst(2025, 3, 13, 9), {"need_extension": False})                 # 重办
    r.done(c2, "reply", cst(2025, 3, 13, 10), {"result_code": "solved"}, due=cst(2025, 3, 12, 23, 59, 59))
    r.done(c2, "callback", cst(2025, 3, 14, 10), {"satisfaction": "dissatisfied"})

    c3 = r.case("complaint", cst(2025, 3, 17, 9), cst(2025, 3, 17, 16), unit="unit_b")   # rejected
    r.done(c3, "assess", cst(2025, 3, 17, 10), {"decision": "reject"})

    c4 = r.case("complaint", cst(2025, 3, 20, 9), unit="unit_a")
    r.done(c4, "sign_in", cst(2025, 3, 20, 10), {"sign_action": "sign"}, due=cst(2025, 3, 20, 12))
    r.task(c4, "first_contact", status="ready", created=cst(2025, 3, 20, 10), due=cst(2025, 3, 21, 18))
    r.task(c4, "handle", status="ready", created=cst(2025, 3, 20, 10), due=cst(2025, 4, 8, 23, 59, 59))

    c5 = r.case("complaint", cst(2025, 2, 20, 9), cst(2025, 3, 6, 9, 30), unit="unit_b")
    r.done(c5, "handle", cst(2025, 2, 25, 10), {"need_extension": True})
    r.done(c5, "reply", cst(2025, 3, 5, 10), {"result_code": "solved"}, due=cst(2025, 3, 4, 23, 59, 59))  # late
    r.done(c5, "callback", cst(2025, 3, 6, 9), {"complaint_reasonable": True})           # no satisfaction

    c6 = r.case("complaint", cst(2025, 3, 25, 9), unit="unit_b")
    r.task(c6, "sign_in", status="ready", created=cst(2025, 3, 25, 9), due=cst(2025, 3, 26, 12))
    r.task(c6, "first_contact", status="cancelled", created=cst(2025, 3, 25, 9), due=cst(2025, 3, 26, 12),
           done=cst(2025, 3, 27, 10))
    r.task(c6, "handle", status="ready", created=cst(2025, 3, 25, 9), due=cst(2025, 3, 28, 23, 59, 59),
           paused=cst(2025, 3, 27, 9))                                                    # clock stopped
    r.task(c6, "first_contact", status="ready", created=cst(2025, 3, 27, 10), due=cst(2025, 4, 9, 18))

    c7 = r.case("complaint", cst(2025, 3, 28, 9), cst(2025, 4, 2, 10), unit="unit_b")
    r.done(c7, "reply", cst(2025, 4, 1, 9), {"result_code": "solved"}, due=cst(2025, 3, 31, 17),
           created=cst(2025, 3, 31, 9))                                                  # open at 04-01 00:00

    c8 = r.case("complaint", cst(2025, 3, 12, 9), cst(2025, 3, 19, 10), unit="unit_a")
    r.done(c8, "callback", cst(2025, 3, 19, 9), {"satisfaction": "basically_satisfied"})

    other = r.case("one_thing_transport", cst(2025, 3, 10, 9), unit="unit_a")           # not a complaint
    r.task(other, "precheck", status="ready", due=cst(2025, 3, 15, 12))
    db.session.commit()


@pytest.fixture
def one_thing_cases(people, rows, db):
    r = rows
    o1 = r.case("one_thing_transport", cst(2025, 3, 3, 9))
    r.done(o1, "accept", cst(2025, 3, 3, 10))
    r.done(o1, "handout", cst(2025, 3, 3, 10, 40))                  # 40 minutes: 即办; 0.667 WH
    o2 = r.case("one_thing_transport", cst(2025, 3, 4, 9))
    r.done(o2, "supplement", cst(2025, 3, 4, 15))
    r.done(o2, "accept", cst(2025, 3, 5, 9))
    r.done(o2, "handout", cst(2025, 3, 7, 17))                      # 3 full days: 21 WH
    o3 = r.case("one_thing_transport", cst(2025, 3, 10, 9))
    r.done(o3, "accept", cst(2025, 3, 10, 16, 30))
    r.done(o3, "handout", cst(2025, 3, 11, 9, 30))                  # 17 clock hours, 1 WH
    o4 = r.case("one_thing_transport", cst(2025, 3, 20, 9))
    r.done(o4, "accept", cst(2025, 3, 20, 9))                       # not handed out yet
    o5 = r.case("one_thing_transport", cst(2025, 2, 27, 9))
    r.done(o5, "accept", cst(2025, 2, 27, 10))
    r.done(o5, "handout", cst(2025, 2, 27, 10, 30))                 # before the period
    db.session.commit()


@pytest.fixture
def dispute_cases(people, rows, db):
    r = rows

    def case(day, closed_day=None, month=3):
        return r.case("dispute_escalation", cst(2025, 3, 1, 9) if day < 3 else cst(2025, 3, day - 2, 9),
                      cst(2025, month, closed_day, 17) if closed_day else None)

    d1 = case(10, 10)                                                 # labour mediation settles
    r.done(d1, "labour_mediation", cst(2025, 3, 9, 10), {"outcome": "成功"})
    d2 = case(12, 12)                                                 # village settles
    r.done(d2, "mediate_village", cst(2025, 3, 11, 10), {"outcome": "成功"})
    d3 = case(15, 15)                                                 # village fails → town settles
    r.done(d3, "mediate_village", cst(2025, 3, 13, 10), {"outcome": "失败", "failure_reason": "分歧大"})
    r.done(d3, "mediate_town", cst(2025, 3, 14, 10), {"outcome": "成功"})
    d4 = case(20, 20)                                                 # two level timers → county settles
    r.task(d4, "mediate_village", status="cancelled", done=cst(2025, 3, 11, 0))
    r.audit(d4, "timer", cst(2025, 3, 11, 0), {"fired_at": "2025-03-10T16:00:00+00:00"}, bpmn_id="timer_village")
    r.task(d4, "mediate_town", status="cancelled", done=cst(2025, 3, 18, 0))
    r.audit(d4, "timer", cst(2025, 3, 18, 0), {}, bpmn_id="timer_town")
    r.done(d4, "mediate_county", cst(2025, 3, 19, 10), {"outcome": "成功"})
    d5 = case(25, 25)                                                 # town, county, city all fail
    r.done(d5, "mediate_town", cst(2025, 3, 20, 10), {"outcome": "失败", "failure_reason": "x"})
    r.done(d5, "mediate_county", cst(2025, 3, 22, 10), {"outcome": "部分", "failure_reason": "x"})
    r.done(d5, "mediate_city", cst(2025, 3, 24, 10), {"outcome": "失败", "failure_reason": "x",
                                                       "exit_route": "诉讼"})
    d6 = case(5, 5)                                                   # 拖欠账款: transferred, never mediated
    r.done(d6, "sme_transfer", cst(2025, 3, 4, 10), {})
    d7 = case(30, 3, month=4)                                         # settles, but closes in April
    r.done(d7, "mediate_village", cst(2025, 3, 31, 10), {"outcome": "成功"})
    d8 = case(18, 18)                                                 # labour: 15 days lapse → arbitration
    r.task(d8, "labour_mediation", status="cancelled", done=cst(2025, 3, 17, 0))
    r.audit(d8, "timer", cst(2025, 3, 17, 0), {}, bpmn_id="labour_timer")
    db.session.commit()


def _kpis(username, process, start=START, end=END, now=NOW):
    from app.auth.services import get_user_by_username
    from app.supervision.kpis import compute_kpis
    result = compute_kpis(get_user_by_username(username), start, end, process, now=now)
    return {k["id"]: k for k in result["kpis"]}


COMPLAINT_EXPECTED = {
    # id: (value, numerator, denominator)
    "sign_in_on_time": (0.75, 3, 4),                 # C1 ✓, C2 returned late ✗, C2 ✓, C4 ✓
    "first_contact_on_time": (0.5, 1, 2),            # C1 ✓, C2 ✗ (C4's is still open)
    "closed_on_time": (round(1 / 3, 4), 1, 3),       # final replies: C1 ✓, C2 ✗ (redone late), C5 ✗; C3/C8 no reply
    "close_rate": (round(4 / 7, 4), 4, 7),           # received C1 C2 C3 C4 C6 C7 C8; closed by 04-01: C1 C2 C3 C8
    "overdue_count": (3, 3, None),                   # at 04-01 00:00: C4 first_contact, C6 sign_in, C7 reply
    "average_duration": (33.7, 168.5, 5),            # 21 + 35 + 6 + 70.5 + 36 working hours / 5
    "extension_rate": (0.4, 2, 5),                   # C2, C5 asked for an extension
    "return_rate": (0.25, 1, 4),                     # 1 return in 4 sign-ins
    "redo_rate": (0.2, 1, 5),                        # C2 handled twice
    "callback_rate": (0.8, 4, 5),                    # C1 C2 C5 C8 called back; C3 not
    "satisfaction_rate": (round(2 / 3, 4), 2, 3),    # satisfied, dissatisfied, basically; C5 gave none
}


@pytest.mark.parametrize("kpi_id", list(COMPLAINT_EXPECTED))
def test_complaint_kpi(complaint_cases, kpi_id):
    kpi = _kpis("boss", "complaint")[kpi_id]
    assert (kpi["value"], kpi["numerator"], kpi["denominator"]) == COMPLAINT_EXPECTED[kpi_id]


def test_overdue_count_now_when_the_period_has_not_ended(complaint_cases):
    # as of now (04-10 10:00): C4 first_contact, C4 handle (04-08), C6 sign_in, C6 first_contact (04-09);
    # C6 handle is paused before its due date; the one-thing task is another process
    kpi = _kpis("boss", "complaint", end="2025-04-15")["overdue_count"]
    assert kpi["value"] == 4 and kpi["display"] == "4 件"


def test_complaint_kpis_of_a_supervisor_cover_only_their_unit(complaint_cases):
    a = _kpis("sup_a", "complaint")
    assert (a["closed_on_time"]["numerator"], a["closed_on_time"]["denominator"]) == (1, 2)   # C1 ✓, C2 ✗
    assert (a["callback_rate"]["numerator"], a["callback_rate"]["denominator"]) == (3, 3)     # C1 C2 C8
    assert (a["satisfaction_rate"]["numerator"], a["satisfaction_rate"]["denominator"]) == (2, 3)
    b = _kpis("sup_b", "complaint")
    assert (b["callback_rate"]["numerator"], b["callback_rate"]["denominator"]) == (1, 2)     # C5 of C3 C5
    assert (b["sign_in_on_time"]["numerator"], b["sign_in_on_time"]["denominator"]) == (0, 0)
    assert b["sign_in_on_time"]["value"] is None and b["sign_in_on_time"]["display"] == "—"
    none = _kpis("sup_none", "complaint")
    assert all(k["denominator"] in (0, None) for k in none.values())


ONE_THING_EXPECTED = {
    "on_the_spot_rate": (round(1 / 3, 4), 1, 3),     # O1 in 40 min; O2 3 days; O3 17 clock hours
    "bundle_average_hours": (7.6, 22.7, 3),          # (0.667 + 21 + 1) / 3 working hours
    "bundle_p90_hours": (21.0, None, 3),             # nearest rank: the 3rd of 3
    "supplement_rate": (0.25, 1, 4),                 # O2 of O1…O4 received in March
}


@pytest.mark.parametrize("kpi_id", list(ONE_THING_EXPECTED))
def test_one_thing_kpi(one_thing_cases, kpi_id):
    kpi = _kpis("boss", "one_thing_transport")[kpi_id]
    assert (kpi["value"], kpi["numerator"], kpi["denominator"]) == ONE_THING_EXPECTED[kpi_id]


def test_one_thing_committed_vs_statutory_time_limit(one_thing_cases):
    kpi = _kpis("boss", "one_thing_transport")["time_limit_compression"]
    assert kpi["value"] == {"committed": "5WD", "committed_days": 5, "statutory": "23WD", "statutory_days": 23,
                            "compression": 0.7826}
    assert kpi["display"] == "承诺 5 个工作日 / 法定 23 个工作日（压缩 78.3%）"


DISPUTE_EXPECTED = {
    "mediation_success_rate": (round(4 / 6, 4), 4, 6),   # D1 D2 D3 D4 of D1 D2 D3 D4 D5 D8 (D6 never mediated)
    "grassroots_rate": (round(2 / 6, 4), 2, 6),          # D2 (village), D3 (town)
    "escalation_rate": (0.75, 3, 4),                     # ladder D2 D3 D4 D5: D3 failed, D4 timers, D5 failed
}


@pytest.mark.parametrize("kpi_id", list(DISPUTE_EXPECTED))
def test_dispute_kpi(dispute_cases, kpi_id):
    kpi = _kpis("boss", "dispute_escalation")[kpi_id]
    assert (kpi["value"], kpi["numerator"], kpi["denominator"]) == DISPUTE_EXPECTED[kpi_id]


def test_every_registered_kpi_has_a_name_an_explanation_a_formula_and_a_test():
    from app.supervision.kpis import KPIS
    tested = {*COMPLAINT_EXPECTED, *ONE_THING_EXPECTED, *DISPUTE_EXPECTED, "time_limit_compression"}
    assert {k.id for k in KPIS} == tested
    for kpi in KPIS:
        assert kpi.name and kpi.explanation and kpi.formula and any("\u4e00" <= ch <= "\u9fff" for ch in kpi.name)


def test_kpis_refuse_a_bad_period_and_a_caseworker(people):
    from app.auth.services import get_user_by_username
    from app.errors import Forbidden, FormInvalid
    from app.supervision.kpis import compute_kpis
    with pytest.raises(FormInvalid) as err:
        compute_kpis(get_user_by_username("boss"), "2025-04-01", "2025-03-01")
    assert err.value.fields == {"end": ["结束时间必须晚于开始时间"]}
    with pytest.raises(FormInvalid) as err:
        compute_kpis(get_user_by_username("boss"), "三月", None)
    assert set(err.value.fields) == {"start", "end"}
    with pytest.raises(Forbidden):
        compute_kpis(get_user_by_username("clerk"), START, END)


def test_kpis_api_and_export(complaint_cases, api):
    resp = api.get(f"/api/v1/supervision/kpis?start={START}&end={END}&process=complaint", user="boss")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    tiles = {k["id"]: k for k in body["kpis"]}
    assert tiles["return_rate"]["value"] == 0.25 and tiles["return_rate"]["display"] == "25.0%"
    assert tiles["return_rate"]["name"] == "退单率" and "退回" in tiles["return_rate"]["explanation"]
    assert body["start"].startswith("2025-02-28T16:00:00")      # Beijing midnight in UTC
    csv = api.get(f"/api/v1/supervision/kpis?start={START}&end={END}&process=complaint&format=csv", user="boss")
    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode("utf-8"))
    text = csv.data.decode("utf-8-sig")
    assert "退单率,25.0%,1,4" in text
    assert api.get(f"/api/v1/supervision/kpis?start={START}&end={END}", user="clerk").status_code == 403
    bad = api.get("/api/v1/supervision/kpis?start=2025-13-01&end=2025-04-01", user="boss")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["start"]


def test_kpi_exports_differ_by_unit(complaint_cases, api):
    url = f"/api/v1/supervision/kpis?start={START}&end={END}&process=complaint&format=csv"
    a = api.get(url, user="sup_a").data.decode("utf-8-sig")
    b = api.get(url, user="sup_b").data.decode("utf-8-sig")
    assert "回访率,100.0%,3,3" in a and "回访率,50.0%,1,2" in b
    xlsx = api.get(url.replace("csv", "xlsx"), user="sup_b")
    from io import BytesIO

    from openpyxl import load_workbook
    rows = {r[1]: r for r in load_workbook(BytesIO(xlsx.data), read_only=True).active.iter_rows(values_only=True)}
    assert rows["回访率"][2:5] == ("50.0%", 1, 2)


def test_a_case_without_a_unit_counts_for_the_units_its_tasks_are_offered_to(people, rows, db):
    case = rows.case("one_thing_transport", cst(2025, 3, 4, 9))                 # no case.unit
    rows.task(case, "supplement", status="completed", groups=["unit_a_head"], done=cst(2025, 3, 5, 9))
    dispatched = rows.case("one_thing_transport", cst(2025, 3, 6, 9), unit="unit_b")
    rows.task(dispatched, "precheck", status="completed", groups=["unit_a"], done=cst(2025, 3, 6, 10))
    db.session.commit()
    a = _kpis("sup_a", "one_thing_transport")["supplement_rate"]
    b = _kpis("sup_b", "one_thing_transport")["supplement_rate"]
    assert (a["numerator"], a["denominator"]) == (1, 1)       # offered to unit A's head, never dispatched
    assert (b["numerator"], b["denominator"]) == (0, 1)       # dispatched to B: B's case, not A's
