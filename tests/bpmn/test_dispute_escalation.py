"""Process C (DOMAIN §4): 矛盾纠纷分级调处 — every gateway branch through the API, timers fired with an injected clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.conftest import PROJECT

CST = timezone(timedelta(hours=8))
KEY = "dispute_escalation"
T0 = datetime(2027, 3, 1, 10, 0, tzinfo=CST)   # a Monday. In the future on purpose: SpiffWorkflow fires a
# timeDate already past (by the real clock) at once, so the injected clock must run ahead of the real one.

# (group name, group title = lane name)
GROUPS = [
    ("dispute_intake", "矛盾纠纷受理员"),
    ("labour_mediation", "劳动争议调解组织"),
    ("village_mediator", "村（社区）调解员"),
    ("town_center", "镇（街）综治中心"),
    ("county_center", "县（区）矛盾纠纷调处中心"),
    ("city_center", "市矛盾纠纷调处中心"),
    ("mediation_followup", "调解协议跟踪员"),
]
LEVEL_GROUP = {"village": "village_mediator", "town": "town_center", "county": "county_center", "city": "city_center"}

START = {  # DOMAIN §6.3 sample
    "source": "综治中心窗口", "dispute_type": "合同", "title": "建材货款纠纷",
    "applicants": [{"type": "企业", "name": "台山市示例建材有限公司", "uscc": "91440781MAHY40XE5Q",
                    "phone": "0750-3271234"}],
    "respondents": [{"type": "企业", "name": "某建筑工程公司"}],
    "amount": 215000, "headcount": 3, "district": "台山市", "town": "冲蒌镇",
    "content": "双方因建材供货合同质量争议，货款 21.5 万元未结清。",
}
GRADE = {"risk_level": "蓝", "complexity": "简单", "major_emergency": False}
FAIL = {"mediation_org": "冲蒌镇综治中心", "mediator": "黄调解", "method": "面对面",
        "mediation_record": "双方对质量问题各执一词。", "outcome": "失败", "failure_reason": "被申请方拒绝让步"}
SUCCESS = {"mediation_org": "冲蒌镇某村人民调解委员会", "mediator": "李调解", "method": "背靠背",
           "mediation_record": "释法说理，双方同意分期结清。", "outcome": "成功"}
AGREEMENT = {"agreement_no": "台冲调字〔2027〕第12号", "agreement_content": "被申请方分两期支付货款 21.5 万元。",
             "performance_method": "银行转账", "performance_deadline": "2027-04-30",
             "judicial_confirmation_wanted": False}


def eod(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=CST)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@pytest.fixture
def clock(clock):
    """The shared application clock, starting at T0."""
    clock.set(T0)
    return clock


@pytest.fixture
def dispute(seeded, app):
    """The lane groups, one user per group, and the diagram deployed with the project's forms."""
    from app.auth.services import create_or_update_user, ensure_group
    from app.extensions import db
    from app.processes.deploy import deploy_file
    for name, title in GROUPS:
        group = ensure_group(name, title, "lane")
        create_or_update_user(f"{name}1", "demo12345", f"{title} 示例", [group])
    db.session.commit()
    outcomes = deploy_file(PROJECT / "bpmn" / "dispute_escalation.bpmn", forms_dir=str(PROJECT / "forms"))
    assert all(not o.problems for o in outcomes), [str(p) for o in outcomes for p in o.problems]
    assert all(not o.warnings for o in outcomes), [o.warnings for o in outcomes]


def start(api, data):
    resp = api.post(f"/api/v1/process-definitions/{KEY}/start", user="dispute_intake1", json={"data": data})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["instance"]["id"]


def instance(api, iid):
    return api.get(f"/api/v1/process-instances/{iid}", user="admin").get_json()


def open_task(api, iid, bpmn_id, group):
    """The single open task: its id, its group, and that the group's member sees it in the group inbox."""
    tasks = instance(api, iid)["open_tasks"]
    assert [t["bpmn_id"] for t in tasks] == [bpmn_id]
    assert tasks[0]["candidate_groups"] == [group]
    inbox = api.get("/api/v1/tasks?scope=group", user=f"{group}1").get_json()["items"]
    assert tasks[0]["id"] in [t["id"] for t in inbox]
    return tasks[0]


def due_of(task_id):
    from app.extensions import db
    from app.tasks.models import HumanTask
    db.session.expire_all()
    task = db.session.get(HumanTask, task_id)
    return aware(task.due_at), task.deadline["steps"]


def complete(api, iid, bpmn_id, group, data, expect_due=None, expect_step=None):
    task = open_task(api, iid, bpmn_id, group)
    if expect_due is not None:
        assert due_of(task["id"]) == (expect_due, [expect_step])
    user = f"{group}1"
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", user=user).status_code == 200
    resp = api.post(f"/api/v1/tasks/{task['id']}/complete", user=user, json={"data": data})
    assert resp.status_code == 200, resp.get_json()


def pending_timer(iid):
    from app.deadlines.models import TimerJob
    from app.extensions import db
    db.session.expire_all()
    return db.session.execute(sa.select(TimerJob).where(
        TimerJob.instance_id == iid, TimerJob.kind == "bpmn_timer", TimerJob.status == "pending")).scalar_one()


def fire(clock, iid, bpmn_id, expect_due):
    """The waiting timer is `bpmn_id`, due at expect_due; fire it one second later."""
    from app.processes.running import fire_instance_timers
    job = pending_timer(iid)
    assert job.bpmn_id == bpmn_id and aware(job.due_at) == expect_due
    when = aware(job.due_at) + timedelta(seconds=1)
    clock.set(when)
    assert fire_instance_timers(iid, now=when - timedelta(seconds=2)) == []       # not yet due
    assert [b for b, _ in fire_instance_timers(iid, now=when)] == [bpmn_id]
    return when


def ended(api, iid, end_id):
    """The instance ended (end_id names the end event expected; the app records no end-event id)."""
    inst = instance(api, iid)
    assert inst["status"] == "completed" and inst["open_tasks"] == []
    assert inst["case"]["status"] == "closed"
    return inst["data"]


def completions(inst):
    return [h["bpmn_id"] for h in inst["history"] if h["action"] == "complete"]


# --- statutory tracks ----------------------------------------------------------------------------

def test_labour_dispute_goes_to_labour_mediation_then_arbitration_when_it_fails(dispute, api, clock):
    iid = start(api, {**START, "dispute_type": "劳资", "headcount": 12})
    # 劳动争议调解仲裁法 §14: 15 日 (calendar days) from the application
    complete(api, iid, "labour_mediation", "labour_mediation",
             {"mediation_org": "冲蒌镇劳动争议调解中心", "mediator": "陈调解", "mediation_record": "双方分歧较大。",
              "outcome": "失败", "failure_reason": "工资数额争议无法达成一致"},
             expect_due=eod(2027, 3, 16), expect_step="15CD")
    data = ended(api, iid, "end_arbitration")
    assert data["track"] == "labour" and data["exit_route"] == "仲裁"
    assert "level" not in data and data["escalations"] == []


def test_labour_mediation_lapsing_after_15_days_exits_to_arbitration_automatically(dispute, api, clock):
    iid = start(api, {**START, "dispute_type": "劳资"})
    open_task(api, iid, "labour_mediation", "labour_mediation")
    fire(clock, iid, "labour_timer", eod(2027, 3, 16))
    inst = instance(api, iid)
    assert inst["status"] == "completed" and inst["data"]["exit_route"] == "仲裁"
    assert completions(inst) == []
    assert [h["bpmn_id"] for h in inst["history"] if h["action"] == "timer"] == ["labour_timer"]


def test_labour_mediation_success_goes_to_the_agreement(dispute, api, clock):
    iid = start(api, {**START, "dispute_type": "劳资"})
    complete(api, iid, "labour_mediation", "labour_mediation",
             {"mediation_org": "某企业劳动争议调解委员会", "mediator": "陈调解", "mediation_record": "补发工资。",
              "outcome": "成功"})
    open_task(api, iid, "agreement", "mediation_followup")


def test_unpaid_sme_invoices_are_transferred_within_10_working_days(dispute, api, clock):
    iid = start(api, {**START, "dispute_type": "拖欠账款"})
    # 2027-03-01 + 10 WD = 03-15 (weekends skipped)
    complete(api, iid, "sme_transfer", "dispute_intake",
             {"accepted_date": "2027-03-01", "handling_department": "台山市工业和信息化局"},
             expect_due=eod(2027, 3, 15), expect_step="10WD")
    data = ended(api, iid, "end_sme")
    assert data["track"] == "sme_payment" and data["handling_department"] == "台山市工业和信息化局"
    assert "level" not in data


def test_a_petition_leaves_for_the_petition_track(dispute, api, clock):
    iid = start(api, {**START, "source": "信访"})
    complete(api, iid, "petition_handover", "dispute_intake",
             {"petition_class": "申诉求决类", "petition_office": "台山市信访局"},
             expect_due=eod(2027, 3, 16), expect_step="15CD")
    data = ended(api, iid, "end_petition")
    assert data["track"] == "petition" and data["petition_office"] == "台山市信访局"


# --- the ladder ------------------------------------------------------------------------------------

def test_simple_dispute_settled_at_village_without_court_confirmation_not_performed(dispute, api, clock):
    iid = start(api, START)
    complete(api, iid, "grade", "dispute_intake", GRADE, expect_due=eod(2027, 3, 2), expect_step="1WD")
    # village task and its boundary timer share the 7CD level limit
    complete(api, iid, "mediate_village", "village_mediator", SUCCESS, expect_due=eod(2027, 3, 8),
             expect_step="7CD")
    assert instance(api, iid)["data"]["level"] == "village"
    complete(api, iid, "agreement", "mediation_followup", AGREEMENT, expect_due=eod(2027, 3, 4), expect_step="3WD")
    complete(api, iid, "follow_up", "mediation_followup",
             {"performance": "未履行", "urged": True, "follow_up_note": "已督促，被申请方仍未付款。"},
             expect_due=eod(2027, 3, 31), expect_step="30CD")
    inst = instance(api, iid)
    data = ended(api, iid, "end_not_performed")
    assert completions(inst) == ["grade", "mediate_village", "agreement", "follow_up"]
    assert data["escalations"] == [] and data["supervision_flag"] is False and data["reported_upward"] is False
    assert data["performance"] == "未履行"


def test_timers_escalate_village_town_county_city_then_city_failure_exits(dispute, api, clock):
    from app.extensions import db
    iid = start(api, START)
    complete(api, iid, "grade", "dispute_intake", GRADE)
    ladder = [("village", eod(2027, 3, 8)), ("town", eod(2027, 3, 16)), ("county", eod(2027, 3, 24))]
    fired_at = []
    for n, (level, due) in enumerate(ladder):
        task = open_task(api, iid, f"mediate_{level}", LEVEL_GROUP[level])
        assert due_of(task["id"]) == (due, ["7CD"])
        data = instance(api, iid)["data"]
        assert data["level"] == level and datetime.fromisoformat(data["level_due"]) == due
        assert len(data["escalations"]) == n
        fired_at.append(fire(clock, iid, f"timer_{level}", due))      # start of the level + 7 CD
        db.session.expire_all()
    # at the city now: every lapse left an automatic escalation and a supervision clue
    city = open_task(api, iid, "mediate_city", "city_center")
    assert due_of(city["id"]) == (eod(2027, 4, 1), ["7CD"])
    data = instance(api, iid)["data"]
    assert [(e["from"], e["to"], e["auto"], e["reason"]) for e in data["escalations"]] == [
        ("village", "town", True, "时限届满自动提级"), ("town", "county", True, "时限届满自动提级"),
        ("county", "city", True, "时限届满自动提级")]
    assert [datetime.fromisoformat(e["at"]) for e in data["escalations"]] == fired_at
    assert data["supervision_flag"] is True
    assert [(s["level"], s["refer_to"]) for s in data["supervision"]] == [
        ("village", "纪委监委"), ("town", "纪委监委"), ("county", "纪委监委")]
    assert [datetime.fromisoformat(s["due"]) for s in data["supervision"]] == [d for _, d in ladder]
    assert instance(api, iid)["open_tasks"][0]["id"] == city["id"]
    # the level tasks that lapsed were cancelled, not completed
    from app.tasks.models import HumanTask
    states = dict(db.session.execute(sa.select(HumanTask.bpmn_id, HumanTask.status)
                                     .where(HumanTask.instance_id == iid)).all())
    assert {k: str(v) for k, v in states.items() if k.startswith("mediate_")} == {
        "mediate_village": "cancelled", "mediate_town": "cancelled", "mediate_county": "cancelled",
        "mediate_city": "ready"}
    # failure at the city: a statutory exit
    resp = api.post(f"/api/v1/tasks/{city['id']}/complete", user="city_center1",
                    json={"data": {**FAIL, "mediation_org": "江门市矛盾纠纷调处中心"}})
    assert resp.status_code == 422 and "exit_route" in resp.get_json()["error"]["fields"]      # 导出途径 is required
    complete(api, iid, "mediate_city", "city_center",
             {**FAIL, "mediation_org": "江门市矛盾纠纷调处中心", "exit_route": "诉讼"})
    data = ended(api, iid, "end_statutory")
    assert data["exit_route"] == "诉讼" and data["level"] == "city" and data["outcome"] == "失败"
    assert "agreement_no" not in data


def test_a_failed_mediation_escalates_by_hand_without_a_supervision_clue(dispute, api, clock):
    iid = start(api, START)
    complete(api, iid, "grade", "dispute_intake", {**GRADE, "complexity": "复杂"})   # 复杂 → town
    complete(api, iid, "mediate_town", "town_center", FAIL, expect_due=eod(2027, 3, 8), expect_step="7CD")
    county = open_task(api, iid, "mediate_county", "county_center")
    data = instance(api, iid)["data"]
    assert [(e["from"], e["to"], e["auto"], e["reason"]) for e in data["escalations"]] == [
        ("town", "county", False, "调解不成，提级调处")]
    assert data["supervision"] == [] and data["supervision_flag"] is False
    assert pending_timer(iid).bpmn_id == "timer_county"
    assert due_of(county["id"]) == (eod(2027, 3, 8), ["7CD"])


def test_a_difficult_dispute_starts_at_the_county(dispute, api, clock):
    iid = start(api, START)
    complete(api, iid, "grade", "dispute_intake", {**GRADE, "complexity": "疑难", "risk_level": "黄"})
    open_task(api, iid, "mediate_county", "county_center")
    assert instance(api, iid)["data"]["reported_upward"] is False


def test_a_major_emergency_starts_at_the_county_reported_upward_then_settles_to_the_end(dispute, api, clock):
    iid = start(api, {**START, "headcount": 30})
    complete(api, iid, "grade", "dispute_intake",
             {"risk_level": "黄", "complexity": "简单", "major_emergency": True, "owner_leader": "台山市副市长 张某",
              "risk_note": "30 名工人聚集讨薪苗头。"})
    complete(api, iid, "mediate_county", "county_center",
             {**SUCCESS, "mediation_org": "台山市矛盾纠纷调处中心", "method": "听证"},
             expect_due=eod(2027, 3, 8), expect_step="7CD")
    data = instance(api, iid)["data"]
    assert data["reported_upward"] is True and data["reports"][0]["level"] == "county"
    assert data["reports"][0]["basis"] == "信访工作条例第二十五条"
    clock.set(datetime(2027, 3, 4, 9, 0, tzinfo=CST))
    complete(api, iid, "agreement", "mediation_followup", {**AGREEMENT, "judicial_confirmation_wanted": True})
    # 人民调解法 §33: within 30 CD of the agreement: 03-04 + 30 = 04-03 (Sat); 04-04 Sun, 04-05 清明 → 04-06
    court = open_task(api, iid, "court_confirmation", "mediation_followup")
    due, steps = due_of(court["id"])
    assert steps == ["30CD"] and due == eod(2027, 4, 6)
    complete(api, iid, "court_confirmation", "mediation_followup",
             {"court": "台山市人民法院", "application_date": "2027-03-04"})
    complete(api, iid, "follow_up", "mediation_followup", {"performance": "已履行", "follow_up_note": "已全额支付。"})
    inst = instance(api, iid)
    data = ended(api, iid, "end_closed")
    assert completions(inst) == ["grade", "mediate_county", "agreement", "court_confirmation", "follow_up"]
    assert data["court"] == "台山市人民法院" and data["performance"] == "已履行"
    assert data["escalations"] == [] and data["level"] == "county"


def test_a_red_risk_group_dispute_of_50_or_more_starts_at_the_city(dispute, api, clock):
    iid = start(api, {**START, "headcount": 80})
    complete(api, iid, "grade", "dispute_intake", {**GRADE, "risk_level": "红"})
    city = open_task(api, iid, "mediate_city", "city_center")
    data = instance(api, iid)["data"]
    assert data["level"] == "city" and data["reported_upward"] is True
    assert due_of(city["id"]) == (eod(2027, 3, 8), ["7CD"])
    from app.deadlines.models import TimerJob
    from app.extensions import db
    assert db.session.execute(sa.select(TimerJob).where(
        TimerJob.instance_id == iid, TimerJob.kind == "bpmn_timer", TimerJob.status == "pending")).first() is None


def test_invalid_start_data_is_refused_naming_the_field(dispute, api, clock):
    bad = {**START, "applicants": [{"type": "企业", "name": "台山市示例建材有限公司", "uscc": "91440781MAHY40XE5A"}]}
    resp = api.post(f"/api/v1/process-definitions/{KEY}/start", user="dispute_intake1", json={"data": bad})
    assert resp.status_code == 422
    assert any("uscc" in field for field in resp.get_json()["error"]["fields"])
    resp = api.post(f"/api/v1/process-definitions/{KEY}/start", user="dispute_intake1",
                    json={"data": {**START, "applicants": [{"type": "企业", "name": "某公司"}]}})
    assert resp.status_code == 422


def case_row(instance_id):
    from app.cases.models import Case
    from app.extensions import db
    from app.processes.models import ProcessInstance
    db.session.expire_all()
    return db.session.get(Case, db.session.get(ProcessInstance, instance_id).case_id)


def test_the_case_row_and_summary_carry_the_source_and_the_parties(dispute, api, app):
    from tests.web.helpers import Browser
    iid = start(api, START)
    case = case_row(iid)
    assert (case.title, case.channel, case.district, case.company_name, case.uscc) == (
        "建材货款纠纷", "综治中心窗口", "台山市", "台山市示例建材有限公司", "91440781MAHY40XE5Q")
    browser = Browser(app)
    browser.login("dispute_intake1")
    page = browser.text(browser.get(f"/cases/{case.id}"))
    for shown in ("综治中心窗口", "台山市示例建材有限公司", "91440781MAHY40XE5Q", "申请方", "被申请方", "某建筑工程公司"):
        assert shown in page, shown
