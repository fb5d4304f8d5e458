"""Process A (DOMAIN §2): 企业诉求与投诉举报 — every gateway branch through the API as the demo users,
with the due dates (value and unit) and the final data; timers fired with an injected clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app import demo
from app.demo import CONSULT, HANDLE, REPLY, REPORT, SIGN, SIGN_OFF, SME

CST = timezone(timedelta(hours=8))
KEY = "complaint"
T0 = datetime(2027, 3, 1, 10, 0, tzinfo=CST)   # Monday 1 March 2027, 10:00 in Jiangmen

# DOMAIN §6.1 samples (CONSULT, REPORT, SME) and step data: the same the demo cases use
ASSESS = {**demo.ASSESS, "primary_category": "市场秩序"}
REGISTER = {"in_scope": True}
CONTACT = {"contact_time": "2027-03-01T10:00:00+08:00", "contact_method": "电话", "initial_opinion": "已了解诉求，三日内核查。"}
QA = {"qa_result": "pass"}
SATISFIED = {"contacted": True, "resolved": True, "satisfaction": "satisfied"}


@pytest.fixture
def clock(clock):
    clock.set(T0)
    return clock


def eod(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=CST)


def start(api, data, user="intake1"):
    resp = api.post(f"/api/v1/process-definitions/{KEY}/start", user=user, json={"data": data})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["instance"]["id"]


def open_tasks(app, instance_id):
    from app.extensions import db
    from app.tasks.models import HumanTask
    with app.app_context():
        rows = db.session.execute(sa.select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == "ready").order_by(HumanTask.id)).scalars().all()
        return [(t.bpmn_id, sorted(t.candidate_groups), t.due_at, t.id) for t in rows]


def do(api, app, instance_id, bpmn_id, user, data, groups=None):
    """Complete the instance's open `bpmn_id` task as `user`, who must see it in their group inbox."""
    tasks = {b: (g, due, tid) for b, g, due, tid in open_tasks(app, instance_id)}
    assert bpmn_id in tasks, (bpmn_id, tasks)
    got_groups, due, task_id = tasks[bpmn_id]
    if groups is not None:
        assert got_groups == sorted(groups), (bpmn_id, got_groups)
    inbox = api.get("/api/v1/tasks?scope=group&per_page=100", user=user).get_json()["items"]
    assert task_id in [t["id"] for t in inbox], (user, bpmn_id)
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user=user, json={"data": data})
    assert resp.status_code == 200, resp.get_json()
    return due


def instance(api, instance_id, user="admin"):
    resp = api.get(f"/api/v1/process-instances/{instance_id}", user=user)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def aware(value):
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def to_dispatch(api, app, data, channel_data=None, assess=None):
    data = {**data, **(channel_data or {})}
    iid = start(api, data)
    do(api, app, iid, "register", "intake1", {**data, **REGISTER}, ["intake"])
    do(api, app, iid, "assess", "dispatch1", assess or ASSESS, ["dispatch"])
    return iid


def to_handle(api, app):
    """A 12345 complaint (15 WD) dispatched to 市场监管局, signed in and contacted: at 调查处置."""
    iid = to_dispatch(api, app, CONSULT, assess={**ASSESS, "appeal_type": "complaint"})
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    do(api, app, iid, "sign_in", "handler1", SIGN)
    do(api, app, iid, "first_contact", "handler1", CONTACT)
    return iid


def through_unit(api, app, iid, unit="jm_scjgj", handler="handler1", head="head1"):
    do(api, app, iid, "sign_in", handler, SIGN, [unit])
    do(api, app, iid, "first_contact", handler, CONTACT, [unit])
    do(api, app, iid, "handle", handler, HANDLE, [unit])
    do(api, app, iid, "reply", handler, REPLY, [unit])
    do(api, app, iid, "sign_off", head, SIGN_OFF, [f"{unit}_head"])


# --- the main path and the time-limit table -------------------------------------------------------

def test_sme_demand_walks_to_closed_with_the_sme_limits(seeded, api, app, clock):
    iid = to_dispatch(api, app, SME)
    data = instance(api, iid)["data"]
    # complaint_time_limit.dmn: the SME platform is 60 min to respond, 7 days (168 h) to close
    assert (data["limit_value"], data["limit_unit"]) == (168, "H")
    assert (data["first_contact_due"], data["sign_in_due"]) == ("60MIN", "60MIN")
    # complaint_handler_unit.dmn: 市场秩序 → 市场监管局
    assert data["suggested_org"] == "jm_scjgj"
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj", "co_orgs": ["pj_gov"]}, ["dispatch"])
    tasks = {b: due for b, _, due, _ in open_tasks(app, iid)}
    assert aware(tasks["sign_in"]) == T0 + timedelta(minutes=60)
    do(api, app, iid, "sign_in", "handler1", SIGN, ["jm_scjgj"])
    assert aware(do(api, app, iid, "first_contact", "handler1", CONTACT, ["jm_scjgj"])) == T0 + timedelta(minutes=60)
    # the case limit counts from receipt: 168 clock hours
    assert aware(do(api, app, iid, "handle", "handler1", HANDLE, ["jm_scjgj"])) == T0 + timedelta(hours=168)
    do(api, app, iid, "reply", "handler1", REPLY, ["jm_scjgj"])
    do(api, app, iid, "sign_off", "head1", SIGN_OFF, ["jm_scjgj_head"])
    do(api, app, iid, "qa", "qa1", QA, ["qa"])
    do(api, app, iid, "callback", "callback1", SATISFIED, ["callback"])
    body = instance(api, iid)
    assert body["status"] == "completed" and body["case"]["status"] == "closed"
    assert body["case"]["unit"] == "jm_scjgj"
    final = body["data"]
    assert final["closed_result"] == "resolved" and final["redo_count"] == 0 and final["return_count"] == 0
    assert final["archived_at"].startswith("2027-03-01")
    steps = [e["bpmn_id"] for e in body["history"] if e["action"] == "complete"]
    assert steps == ["register", "assess", "dispatch", "sign_in", "first_contact", "handle", "reply", "sign_off",
                     "qa", "callback"]


@pytest.mark.parametrize("channel, appeal_type, urgency, limit, unit, due", [
    ("hotline_12345", "consult", "normal", 2, "WD", eod(2027, 3, 3)),      # 12345 咨询 2 WD
    ("hotline_12345", "help", "normal", 10, "WD", eod(2027, 3, 15)),       # 求助 10 WD
    ("hotline_12345", "complaint", "normal", 15, "WD", eod(2027, 3, 22)),  # 投诉 15 WD
    ("ndrc_bizenv", "complaint", "normal", 15, "WD", eod(2027, 3, 22)),
    ("cannot_do_window", "help", "urgent", 3, "WD", eod(2027, 3, 4)),
    ("opinion_monitor", "complaint", "urgent", 24, "H", T0 + timedelta(hours=24)),
    ("opinion_monitor", "complaint", "normal", 48, "H", T0 + timedelta(hours=48)),
])
def test_the_channel_and_type_set_the_limit(seeded, api, app, clock, channel, appeal_type, urgency, limit, unit, due):
    iid = to_dispatch(api, app, {**CONSULT, "channel": channel},
                      assess={**ASSESS, "appeal_type": appeal_type, "urgency": urgency})
    data = instance(api, iid)["data"]
    assert (data["limit_value"], data["limit_unit"]) == (limit, unit)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "pj_gov"})
    do(api, app, iid, "sign_in", "handler_pj", SIGN, ["pj_gov"])
    do(api, app, iid, "first_contact", "handler_pj", CONTACT)
    handle_due = {b: d for b, _, d, _ in open_tasks(app, iid)}["handle"]
    assert aware(handle_due) == due


def test_out_of_scope_ends_with_the_notice(seeded, api, app, clock):
    iid = start(api, CONSULT)
    do(api, app, iid, "register", "intake1", {**CONSULT, "in_scope": False, "out_of_scope_reason": "已进入诉讼、仲裁、行政复议或信访程序",
                                              "out_of_scope_advice": "该事项已在法院审理，请向审理法院反映。"})
    body = instance(api, iid)
    assert body["status"] == "completed" and open_tasks(app, iid) == []
    assert body["data"]["out_of_scope_reason"] == "已进入诉讼、仲裁、行政复议或信访程序"


def test_duplicate_is_merged_into_the_parent_ticket(seeded, api, app, clock):
    iid = start(api, CONSULT)
    do(api, app, iid, "register", "intake1", {**CONSULT, **REGISTER})
    do(api, app, iid, "assess", "dispatch1", {**ASSESS, "duplicate_of": "JM-2027-0220-000007"})
    body = instance(api, iid)
    assert body["status"] == "completed" and body["data"]["merged_into"] == "JM-2027-0220-000007"


def test_knowledge_base_answer_then_dissatisfied_goes_to_dispatch(seeded, api, app, clock):
    iid = start(api, CONSULT)
    do(api, app, iid, "register", "intake1", {**CONSULT, **REGISTER})
    do(api, app, iid, "assess", "dispatch1", {**ASSESS, "appeal_type": "consult", "primary_category": "政策咨询",
                                               "kb_answerable": True})
    do(api, app, iid, "kb_answer", "dispatch1", {"kb_reference": "江府〔2025〕12号", "answer_text": "申报截止10月31日。",
                                                  "answer_method": "三方通话"}, ["dispatch"])
    do(api, app, iid, "callback", "callback1", {"contacted": True, "resolved": False, "satisfaction": "dissatisfied",
                                                 "dissatisfaction_reason": "答复不具体", "complaint_reasonable": True})
    # 重办 + 提级: not dispatched yet, so it goes to dispatch with the consult limit
    assert [b for b, *_ in open_tasks(app, iid)] == ["dispatch"]
    data = instance(api, iid)["data"]
    assert data["escalated"] is True and data["redo_count"] == 1 and data["suggested_org"] == "jm_fgj"
    assert (data["limit_value"], data["limit_unit"]) == (2, "WD")


# --- 签收, 催签, 退单 -----------------------------------------------------------------------------------

def test_sign_in_reminder_fires_at_the_sign_in_limit(seeded, api, app, clock):
    from app.processes.running import fire_instance_timers
    iid = to_dispatch(api, app, SME)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    with app.app_context():
        assert fire_instance_timers(iid, T0 + timedelta(minutes=59)) == []
        clock.set(T0 + timedelta(minutes=61))
        assert fire_instance_timers(iid) == [("sign_in_urge", "催签")]
    assert [b for b, *_ in open_tasks(app, iid)] == ["sign_in"]   # non-interrupting: still to sign
    fired = [e for e in instance(api, iid)["history"] if e["action"] == "timer"]
    assert [(e["bpmn_id"], e["label"]) for e in fired] == [("sign_in_urge", "催签")]


def test_return_approved_redispatches_and_the_second_return_goes_to_the_joint_meeting(seeded, api, app, clock):
    iid = to_dispatch(api, app, SME)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_rsj"})
    ret = {"sign_action": "return", "signer": "谢经办", "return_reason": "职能不符",
           "return_basis": "《江门市人力资源和社会保障局职能配置》不含工程款支付。", "suggested_org": "pj_gov"}
    do(api, app, iid, "sign_in", "handler2", ret, ["jm_rsj"])
    do(api, app, iid, "return_review", "dispatch1", {"review_decision": "approve", "review_opinion": "同意改派。"},
       ["dispatch"])
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    do(api, app, iid, "sign_in", "handler1", {**ret, "signer": "黄经办"}, ["jm_scjgj"])
    # the second return on the same ticket: the joint meeting decides, no review
    assert [b for b, *_ in open_tasks(app, iid)] == ["joint_meeting"]
    do(api, app, iid, "joint_meeting", "joint1", {"handler_org": "pj_gov", "ruling": "属地政府牵头办理。"},
       ["joint_meeting"])
    assert [(b, g) for b, g, *_ in open_tasks(app, iid)] == [("first_contact", ["pj_gov"])]
    data = instance(api, iid)["data"]
    assert data["return_count"] == 2 and data["forced_dispatch"] is True and data["handler_org_head"] == "pj_gov_head"
    # handler1 of 市场监管局 no longer sees it
    assert all(t["instance_id"] != iid for t in api.get("/api/v1/tasks?scope=group", user="handler1").get_json()["items"])


def test_return_refused_is_a_forced_dispatch(seeded, api, app, clock):
    iid = to_dispatch(api, app, SME)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    do(api, app, iid, "sign_in", "handler1", {"sign_action": "return", "signer": "黄经办", "return_reason": "属地不符",
                                               "return_basis": "事发地在棠下镇。"})
    do(api, app, iid, "return_review", "dispatch1", {"review_decision": "reject", "review_opinion": "属本单位职责。"})
    assert [(b, g) for b, g, *_ in open_tasks(app, iid)] == [("first_contact", ["jm_scjgj"])]
    with app.app_context():   # each completed step keeps its outcome for the KPIs (退单率 counts "return")
        from app.extensions import db
        from app.tasks.models import HumanTask
        done = db.session.execute(sa.select(HumanTask.bpmn_id, HumanTask.outcome).where(
            HumanTask.instance_id == iid, HumanTask.status == "completed").order_by(HumanTask.id)).all()
    assert ("sign_in", "return") in done and ("dispatch", None) in done


def test_a_return_needs_its_reason_and_legal_basis(seeded, api, app, clock):
    iid = to_dispatch(api, app, SME)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    task_id = open_tasks(app, iid)[0][3]
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="handler1",
                    json={"data": {"sign_action": "return", "signer": "黄经办"}})
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) >= {"return_reason", "return_basis"}


# --- 延期, 审签, 审核, 回访 -------------------------------------------------------------------------------

def test_extension_approved_at_both_levels_moves_the_due_date_and_tells_the_applicant(seeded, api, app, clock):
    iid = to_handle(api, app)
    assert aware(do(api, app, iid, "handle", "handler1", {
        **HANDLE, "need_extension": True, "extension_reason": "需多部门现场核查。", "extension_days": 5,
        "work_done": "已调取材料。"})) == eod(2027, 3, 22)
    do(api, app, iid, "extension_unit", "head1", {"unit_decision": "approve", "unit_opinion": "同意。"},
       ["jm_scjgj_head"])
    do(api, app, iid, "extension_center", "dispatch1", {
        "center_decision": "approve", "approved_days": 5, "applicant_notice": "因需现场核查，办理期限延长5个工作日。",
        "center_opinion": "同意。"}, ["dispatch"])
    tasks = {b: d for b, _, d, _ in open_tasks(app, iid)}
    assert aware(tasks["handle"]) == eod(2027, 3, 29)   # 15 + 5 WD from receipt
    data = instance(api, iid)["data"]
    assert data["limit_value"] == 20 and data["need_extension"] is False
    assert data["extensions"][0]["days"] == 5
    assert data["applicant_notices"][0]["text"] == "因需现场核查，办理期限延长5个工作日。"


def test_extension_refused_by_the_unit_head_keeps_the_due_date(seeded, api, app, clock):
    iid = to_handle(api, app)
    do(api, app, iid, "handle", "handler1", {**HANDLE, "need_extension": True, "extension_reason": "材料多。",
                                              "extension_days": 3, "work_done": "已调取材料。"})
    do(api, app, iid, "extension_unit", "head1", {"unit_decision": "reject", "unit_opinion": "可按期办结。"})
    tasks = {b: d for b, _, d, _ in open_tasks(app, iid)}
    assert aware(tasks["handle"]) == eod(2027, 3, 22)
    assert instance(api, iid)["data"]["extension_result"] == "不同意延期，按原时限办结"


def test_sign_off_returns_to_reply_and_qa_failure_redoes(seeded, api, app, clock):
    iid = to_dispatch(api, app, SME)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    do(api, app, iid, "sign_in", "handler1", SIGN)
    do(api, app, iid, "first_contact", "handler1", CONTACT)
    do(api, app, iid, "handle", "handler1", HANDLE)
    do(api, app, iid, "reply", "handler1", REPLY)
    do(api, app, iid, "sign_off", "head1", {"sign_off_decision": "return", "sign_off_opinion": "答复未写付款日期。"})
    assert [b for b, *_ in open_tasks(app, iid)] == ["reply"]
    do(api, app, iid, "reply", "handler1", REPLY)
    do(api, app, iid, "sign_off", "head1", SIGN_OFF)
    do(api, app, iid, "qa", "qa1", {"qa_result": "fail", "qa_return_reason": "未附付款凭证。"})
    assert [b for b, *_ in open_tasks(app, iid)] == ["handle"]
    data = instance(api, iid)["data"]
    assert data["redo_count"] == 1 and data["redo_reason"] == "未附付款凭证。"


def test_reasonable_dissatisfaction_redoes_with_escalation_lawful_answer_closes(seeded, api, app, clock):
    iid = to_dispatch(api, app, SME)
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    through_unit(api, app, iid)
    do(api, app, iid, "qa", "qa1", QA)
    do(api, app, iid, "callback", "callback1", {"contacted": True, "resolved": False, "satisfaction": "dissatisfied",
                                                 "dissatisfaction_reason": "款项仍未到账", "complaint_reasonable": True})
    assert [(b, g) for b, g, *_ in open_tasks(app, iid)] == [("handle", ["jm_scjgj"])]
    data = instance(api, iid)["data"]
    assert data["escalated"] is True and data["supervision"][0]["reason"] == "回访不满意，重办提级"
    do(api, app, iid, "handle", "handler1", HANDLE)
    do(api, app, iid, "reply", "handler1", REPLY)
    do(api, app, iid, "sign_off", "head1", SIGN_OFF)
    do(api, app, iid, "qa", "qa1", QA)
    do(api, app, iid, "callback", "callback1", {"contacted": True, "resolved": False, "satisfaction": "dissatisfied",
                                                 "dissatisfaction_reason": "对法院判决不满", "complaint_reasonable": False})
    body = instance(api, iid)
    assert body["status"] == "completed" and body["data"]["lawful_explained"] is True
    assert body["data"]["redo_count"] == 1


# --- the discipline sub-process and 双向移送 -----------------------------------------------------------

JW_ASSESS = {"disposal": "talk_inquiry", "jw_assess_note": "集体研判，报批谈话函询。"}
JW_CLOSE = {"closing_summary": "经谈话函询，问题不属实。", "fault_distinction": "not_applicable"}


def test_misconduct_is_transferred_to_the_discipline_commission_and_fed_back(seeded, api, app, clock):
    iid = to_dispatch(api, app, {**SME, "respondent_person": "某执法人员"},
                      assess={**ASSESS, "misconduct": True, "misconduct_note": "反映执法人员吃拿卡要。"})
    data = instance(api, iid)["data"]
    transfer = data["transfers"][0]
    assert transfer["direction"] == "hotline_to_jw" and transfer["to_org"] == "市纪委监委信访室"
    assert transfer["original_case"] == data["case_number"] and transfer["ack_at"] is None
    do(api, app, iid, "jw_register", "jw_letters1", {"jw_screening": "accept", "real_name": True,
                                                     "jw_register_note": "首次举报，转监督检查室。"}, ["jw_letters"])
    notice_due = {b: d for b, _, d, _ in open_tasks(app, iid)}["jw_accept_notice"]
    assert aware(notice_due) == eod(2027, 3, 22)   # 15 WD for a real-name reporter
    assert instance(api, iid)["data"]["transfers"][0]["ack_at"] is not None
    do(api, app, iid, "jw_accept_notice", "jw_letters1", {"notice_method": "电话", "notice_text": "您的举报已受理。"})
    do(api, app, iid, "jw_assess", "jw_sup1", JW_ASSESS, ["jw_supervision"])
    do(api, app, iid, "jw_verify", "jw_sup1", {"verification_result": "untrue", "findings": "反映失实。"})
    do(api, app, iid, "jw_clear_name", "jw_sup1", {"clearance_scope": "所在单位", "clearance_text": "经核查反映失实，予以澄清。"})
    do(api, app, iid, "jw_close", "jw_sup1", JW_CLOSE)
    do(api, app, iid, "jw_feedback", "jw_letters1", {"feedback_method": "电话", "feedback_text": "经核查问题不属实。"})
    body = instance(api, iid)
    assert body["status"] == "completed"
    final = body["data"]
    assert final["transfers"][0]["feedback"] == "经谈话函询，问题不属实。"
    assert final["fault_distinction"] == "not_applicable" and final["jw_outcome"] == "closed"


def test_the_closing_form_requires_the_three_distinctions(seeded, api, app, clock):
    iid = start(api, REPORT)
    do(api, app, iid, "jw_register", "jw_letters1", {"jw_screening": "accept", "real_name": False,
                                                     "jw_register_note": "登记。"})
    do(api, app, iid, "jw_assess", "jw_sup1", {"disposal": "close", "jw_assess_note": "予以了结。"})
    task_id = open_tasks(app, iid)[0][3]
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="jw_sup1", json={"data": {"closing_summary": "了结。"}})
    assert resp.status_code == 422 and "fault_distinction" in resp.get_json()["error"]["fields"]
    do(api, app, iid, "jw_close", "jw_sup1", JW_CLOSE)
    assert instance(api, iid)["status"] == "completed"   # anonymous: no feedback task


@pytest.mark.parametrize("screening, task, end_data", [
    ("no_content", None, {}),
    ("higher_level", "jw_forward_up", {"forward_to": "广东省纪委监委", "forward_no": "江纪转〔2027〕3号"}),
])
def test_register_screens_out_or_forwards_up(seeded, api, app, clock, screening, task, end_data):
    iid = start(api, {**REPORT, "channel": "window_box"})
    assert [(b, g) for b, g, *_ in open_tasks(app, iid)] == [("jw_register", ["jw_letters"])]
    do(api, app, iid, "jw_register", "jw_letters1", {"jw_screening": screening, "real_name": True,
                                                     "jw_register_note": "登记。"})
    if task:
        assert aware({b: d for b, _, d, _ in open_tasks(app, iid)}[task]) == eod(2027, 3, 8)   # 5 WD
        do(api, app, iid, task, "jw_letters1", end_data)
    assert instance(api, iid)["status"] == "completed"


def test_false_accusation_is_handled_before_closing(seeded, api, app, clock):
    iid = start(api, REPORT)
    do(api, app, iid, "jw_register", "jw_letters1", {"jw_screening": "accept", "real_name": False, "jw_register_note": "登记。"})
    do(api, app, iid, "jw_assess", "jw_sup1", {"disposal": "preliminary_verification", "jw_assess_note": "初核。"})
    do(api, app, iid, "jw_verify", "jw_sup1", {"verification_result": "false_accusation", "findings": "捏造事实。"})
    do(api, app, iid, "jw_false_accusation", "jw_sup1", {"accusation_handling": "移送公安机关", "accusation_note": "已移送。"})
    do(api, app, iid, "jw_close", "jw_sup1", {**JW_CLOSE, "closing_summary": "诬告已查处。"})
    assert instance(api, iid)["status"] == "completed"


def test_a_business_demand_is_transferred_back_and_the_reporter_stays_hidden_from_the_unit(seeded, api, app, clock):
    iid = start(api, REPORT)
    do(api, app, iid, "jw_register", "jw_letters1", {"jw_screening": "accept", "real_name": True, "jw_register_note": "登记。"})
    do(api, app, iid, "jw_accept_notice", "jw_letters1", {"notice_method": "电话", "notice_text": "已受理。"})
    do(api, app, iid, "jw_assess", "jw_sup1", {"disposal": "transfer_back", "jw_assess_note": "属业务诉求。",
                                                "jw_transfer_reason": "检测机构指定问题属市场监管职责。"})
    data = instance(api, iid)["data"]
    back = data["transfers"][-1]
    assert back["direction"] == "jw_to_hotline" and back["ack_at"] is None and data["misconduct"] is False
    do(api, app, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    assert instance(api, iid)["data"]["transfers"][-1]["ack_at"] is not None   # receipt on dispatch

    # the handling unit (possibly the reported one) never gets the reporter's identity
    secrets = [REPORT["complainant_name"], REPORT["phone"], REPORT["id_number"]]
    task_id = open_tasks(app, iid)[0][3]
    payloads = [api.get(f"/api/v1/tasks/{task_id}", user="handler1").get_data(as_text=True),
                api.get("/api/v1/tasks?scope=group", user="handler1").get_data(as_text=True)]
    do(api, app, iid, "sign_in", "handler1", SIGN, ["jm_scjgj"])
    payloads.append(api.get(f"/api/v1/process-instances/{iid}", user="handler1").get_data(as_text=True))
    for text in payloads:
        for secret in secrets:
            assert secret not in text
    assert "（已保密）" in payloads[2] and "139****0002" in payloads[2]
    # the hotline's dispatcher may see it, and that view is audited
    seen = api.get(f"/api/v1/process-instances/{iid}", user="dispatch1").get_data(as_text=True)
    assert REPORT["complainant_name"] in seen
    from app.audit.models import AuditEvent
    from app.extensions import db
    with app.app_context():
        views = db.session.execute(sa.select(AuditEvent).where(
            AuditEvent.instance_id == iid, AuditEvent.action == "view_identity")).scalars().all()
        assert views and all(v.actor_id is not None for v in views)


def test_extension_refused_by_the_hotline_centre_keeps_the_due_date(seeded, api, app, clock):
    iid = to_handle(api, app)
    do(api, app, iid, "handle", "handler1", {**HANDLE, "need_extension": True, "extension_reason": "材料多。",
                                              "extension_days": 3, "work_done": "已调取材料。"})
    do(api, app, iid, "extension_unit", "head1", {"unit_decision": "approve", "unit_opinion": "同意。"})
    do(api, app, iid, "extension_center", "dispatch1", {"center_decision": "reject", "center_opinion": "可按期办结。"})
    assert aware({b: d for b, _, d, _ in open_tasks(app, iid)}["handle"]) == eod(2027, 3, 22)
    data = instance(api, iid)["data"]
    assert data["limit_value"] == 15 and data["extensions"] == [] and data["need_extension"] is False


def test_a_verified_report_is_closed_with_the_fault_distinction(seeded, api, app, clock):
    iid = start(api, REPORT)
    do(api, app, iid, "jw_register", "jw_letters1", {"jw_screening": "accept", "real_name": False, "jw_register_note": "登记。"})
    do(api, app, iid, "jw_assess", "jw_sup1", {"disposal": "investigation", "jw_assess_note": "移送审查调查。"})
    do(api, app, iid, "jw_verify", "jw_sup1", {"verification_result": "partly_true", "findings": "部分属实。"})
    assert [b for b, *_ in open_tasks(app, iid)] == ["jw_close"]   # straight to closing
    do(api, app, iid, "jw_close", "jw_sup1", {"closing_summary": "给予诫勉。", "fault_distinction": "unintentional_fault"})
    body = instance(api, iid)
    assert body["status"] == "completed" and body["data"]["fault_distinction"] == "unintentional_fault"
    assert body["data"]["verification_result"] == "partly_true"


def test_a_case_made_a_report_at_assessment_is_confidential_in_the_supervision_lists(seeded, api, app, clock):
    """case.is_confidential follows the data: the assessment turns a consult into a report, and the
    supervision lists (which read the column) mask the company from then on."""
    from app.cases.models import Case
    from app.extensions import db
    from app.processes.models import ProcessInstance
    iid = start(api, CONSULT)

    def confidential():
        with app.app_context():
            return db.session.execute(sa.select(Case.is_confidential).join(
                ProcessInstance, ProcessInstance.case_id == Case.id).where(ProcessInstance.id == iid)).scalar_one()
    assert confidential() is False
    do(api, app, iid, "register", "intake1", {**CONSULT, **REGISTER}, ["intake"])
    do(api, app, iid, "assess", "dispatch1", {**ASSESS, "appeal_type": "report"}, ["dispatch"])
    assert confidential() is True


def case_row(instance_id):
    from app.cases.models import Case
    from app.extensions import db
    from app.processes.models import ProcessInstance
    db.session.expire_all()
    return db.session.get(Case, db.session.get(ProcessInstance, instance_id).case_id)


def test_the_case_row_follows_what_registration_entered(seeded, api, app):
    # the hotline's start names no title; 登记建档 gives one and corrects the enterprise
    data = {k: v for k, v in CONSULT.items() if k != "title"}
    iid = start(api, data)
    assert case_row(iid).title is None
    corrected = {**data, **REGISTER, "title": "技改补贴申报材料咨询", "company_name": "江门市江海区示例电子科技股份有限公司"}
    do(api, app, iid, "register", "intake1", corrected, ["intake"])
    case = case_row(iid)
    assert (case.title, case.company_name, case.channel, case.district, case.uscc) == (
        "技改补贴申报材料咨询", "江门市江海区示例电子科技股份有限公司", "hotline_12345", "江海区", CONSULT["uscc"])
