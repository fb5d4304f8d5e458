"""Outbound: the events of a platform's case are written in the step's transaction, delivered by the
dispatcher after commit, signed, in order per case; a receiver that stays down becomes an incident
the supervisor retries; 移送单 to the 纪委 case system with its receipt and feedback."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.cases.models import Case
from app.db import utcnow
from app.deadlines.dispatcher import dispatch_due_jobs
from app.deadlines.due import add_business_duration
from app.deadlines.models import Incident, JobKind, TimerJob
from app.demo import ASSESS, HANDLE, REPLY, SIGN, SIGN_OFF
from app.extensions import db
from app.integration import outbox_backlog
from app.integration.models import IntegrationClient, OutboxEvent, Transfer
from app.processes.models import ProcessInstance
from app.tasks.models import HumanTask
from tests.integration.conftest import HOTLINE_TICKET, JW_SECRET, SECRET, Signed, add_client
from tests.integration.reference_client import Receiver

REGISTER = {**{k: v for k, v in HOTLINE_TICKET.items() if k != "ticket_no"}, "channel": "hotline_12345",
            "in_scope": True}
CONTACT = {"contact_time": "2026-12-01T10:00:00+08:00", "contact_method": "电话", "initial_opinion": "已联系诉求人，了解情况后三日内核查。"}
QA = {"qa_result": "pass"}
SATISFIED = {"contacted": True, "resolved": True, "satisfaction": "satisfied"}


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.stop()


@pytest.fixture
def platform(seeded, client, receiver):
    add_client("hotline_12345", SECRET, callback=receiver.url)
    return Signed(client)


def open_task(instance_id, bpmn_id):
    db.session.rollback()
    return db.session.execute(sa.select(HumanTask.id).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id, HumanTask.status == "ready")
    ).scalar_one()


def do(api, instance_id, bpmn_id, user, data):
    resp = api.post(f"/api/v1/tasks/{open_task(instance_id, bpmn_id)}/complete", user=user, json={"data": data})
    assert resp.status_code == 200, resp.get_json()


def ticket_case(platform, ticket=HOTLINE_TICKET):
    resp = platform.ticket(ticket)
    assert resp.status_code == 201, resp.get_json()
    number = resp.get_json()["case_number"]
    db.session.rollback()
    case_id = db.session.execute(sa.select(Case.id).where(Case.number == number)).scalar_one()
    iid = db.session.execute(sa.select(ProcessInstance.id).where(ProcessInstance.case_id == case_id)).scalar_one()
    return number, case_id, iid


def to_unit(api, iid):
    do(api, iid, "register", "intake1", REGISTER)
    do(api, iid, "assess", "dispatch1", ASSESS)
    do(api, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})


def to_closed(api, iid):
    do(api, iid, "sign_in", "handler1", SIGN)
    do(api, iid, "first_contact", "handler1", CONTACT)
    do(api, iid, "handle", "handler1", HANDLE)
    do(api, iid, "reply", "handler1", REPLY)
    do(api, iid, "sign_off", "head1", SIGN_OFF)
    do(api, iid, "qa", "qa1", QA)
    do(api, iid, "callback", "callback1", SATISFIED)


def events(case_id):
    db.session.rollback()
    return db.session.execute(sa.select(OutboxEvent).where(OutboxEvent.case_id == case_id)
                              .order_by(OutboxEvent.seq)).scalars().all()


def test_a_platform_case_writes_its_events_in_order_and_the_dispatcher_delivers_them(platform, api, receiver):
    number, case_id, iid = ticket_case(platform)
    to_unit(api, iid)
    assert events(case_id) == []   # 登记, 研判, 派单: nothing the platform waits for
    to_closed(api, iid)
    rows = events(case_id)
    assert [(e.seq, e.type) for e in rows] == [(1, "signed_in"), (2, "closed"), (3, "callback_result")]
    assert rows[1].payload["reply_text"] == REPLY["reply_text"] and rows[1].payload["result_code"] == "resolved"
    assert rows[2].payload["satisfaction"] == "satisfied"
    assert "黄经办" not in json.dumps([e.payload for e in rows], ensure_ascii=False)   # no staff names
    jobs = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == JobKind.INTEGRATION_DELIVERY)).scalars().all()
    assert sorted(j.payload["event"] for j in jobs) == [e.id for e in rows]
    assert outbox_backlog() == 3
    assert receiver.events == []   # nothing is sent inside the step: only after commit, by the dispatcher

    report = dispatch_due_jobs(limit=50)
    assert report.done == 3 and report.failed == 0
    assert [e["type"] for e in receiver.events] == ["signed_in", "closed", "callback_result"]
    assert {e["case_number"] for e in receiver.events} == {number}
    assert {e["ticket_no"] for e in receiver.events} == {HOTLINE_TICKET["ticket_no"]}
    assert receiver.refused == [] and receiver.duplicates == 0
    assert [e["event_id"] for e in receiver.events] == [e.event_id for e in rows]
    assert outbox_backlog() == 0


def test_a_staff_case_writes_no_event(platform, api):
    resp = api.post("/api/v1/process-definitions/complaint/start", user="intake1",
                    json={"data": {k: v for k, v in REGISTER.items() if k != "in_scope"}})
    assert resp.status_code == 201, resp.get_json()
    iid = resp.get_json()["instance"]["id"]
    to_unit(api, iid)
    do(api, iid, "sign_in", "handler1", SIGN)
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(OutboxEvent.id))).scalar_one() == 0
    assert db.session.execute(sa.select(sa.func.count(TimerJob.id)).where(
        TimerJob.kind == JobKind.INTEGRATION_DELIVERY)).scalar_one() == 0


def test_the_event_is_in_the_steps_transaction(platform, api, monkeypatch):
    _number, case_id, iid = ticket_case(platform)
    to_unit(api, iid)
    from app.extensions import db as session_owner
    real_commit = session_owner.session.commit
    api.token("handler1")   # logged in before: the next commit is the step's

    def fail_once():
        monkeypatch.setattr(session_owner.session, "commit", real_commit)
        raise RuntimeError("commit lost")
    monkeypatch.setattr(session_owner.session, "commit", fail_once)
    resp = api.post(f"/api/v1/tasks/{open_task(iid, 'sign_in')}/complete", user="handler1", json={"data": SIGN})
    assert resp.status_code == 500
    assert events(case_id) == []   # the step rolled back, and its event with it
    do(api, iid, "sign_in", "handler1", SIGN)
    assert [e.type for e in events(case_id)] == ["signed_in"]


def test_a_receiver_that_stays_down_becomes_an_incident_the_supervisor_retries(platform, api, receiver, app):
    _number, case_id, iid = ticket_case(platform)
    to_unit(api, iid)
    receiver.up = False
    do(api, iid, "sign_in", "handler1", SIGN)
    do(api, iid, "first_contact", "handler1", CONTACT)
    do(api, iid, "handle", "handler1", {**HANDLE, "need_extension": True, "extension_reason": "需等待付款单位财务审批",
                                        "extension_days": 3, "work_done": "已约谈付款单位"})
    do(api, iid, "extension_unit", "head1", {"unit_decision": "approve", "unit_opinion": "同意延期。"})
    do(api, iid, "extension_center", "dispatch1", {"center_decision": "approve", "approved_days": 2,
                                                   "applicant_notice": "因需财务审批，办理期限延长 2 天。",
                                                   "center_opinion": "同意。"})
    assert [e.type for e in events(case_id)] == ["signed_in", "extension_granted"]
    assert events(case_id)[1].payload["days"] == 2
    now = utcnow()
    attempts = app.config["JOB_MAX_ATTEMPTS"]
    for i in range(attempts):   # each retry is due after its backoff: run the clock forward
        dispatch_due_jobs(now + timedelta(hours=i + 1), limit=50)
    assert receiver.events == [] and outbox_backlog() == 2
    db.session.rollback()
    incidents = db.session.execute(sa.select(Incident).where(Incident.kind == JobKind.INTEGRATION_DELIVERY)
                                   ).scalars().all()
    assert len(incidents) == 2 and all("平台回调地址" in i.message and "HTTP 503" in i.message for i in incidents)
    # the supervisor sees them in the incidents list, in words, and retries
    listed = api.get("/api/v1/supervision/incidents", user="supervisor").get_json()["items"]
    mine = [i for i in listed if i["kind"] == JobKind.INTEGRATION_DELIVERY]
    assert len(mine) == 2 and {i["kind_label"] for i in mine} == {"平台事件推送"}
    receiver.up = True
    second = max(mine, key=lambda i: i["job_id"])   # the later event's job first: it must not overtake
    resp = api.post(f"/api/v1/supervision/incidents/{second['id']}/retry", user="supervisor",
                    json={"note": "平台已恢复，重新推送。"})
    assert resp.status_code == 200, resp.get_json()
    dispatch_due_jobs(utcnow() + timedelta(seconds=1), limit=50)
    assert [e["type"] for e in receiver.events] == ["signed_in", "extension_granted"]   # in order
    assert receiver.refused == [] and outbox_backlog() == 0


def test_order_per_case_holds_while_an_earlier_event_waits(platform, api, receiver):
    _number, case_id, iid = ticket_case(platform)
    to_unit(api, iid)
    receiver.up = False
    do(api, iid, "sign_in", "handler1", SIGN)
    dispatch_due_jobs(utcnow(), limit=50)           # fails: retried later
    receiver.up = True
    do(api, iid, "first_contact", "handler1", CONTACT)
    do(api, iid, "handle", "handler1", HANDLE)
    do(api, iid, "reply", "handler1", REPLY)
    do(api, iid, "sign_off", "head1", SIGN_OFF)
    do(api, iid, "qa", "qa1", QA)
    dispatch_due_jobs(utcnow(), limit=50)            # only the 办结 job is due: it delivers 签收 first
    assert [e["type"] for e in receiver.events] == ["signed_in", "closed"]
    dispatch_due_jobs(utcnow() + timedelta(hours=1), limit=50)   # the 签收 job's retry: already delivered
    assert [e["type"] for e in receiver.events] == ["signed_in", "closed"] and receiver.duplicates == 0


def test_a_disabled_platform_holds_its_events(platform, api, receiver):
    _number, case_id, iid = ticket_case(platform)
    to_unit(api, iid)
    db.session.execute(sa.update(IntegrationClient).values(enabled=False))
    db.session.commit()
    do(api, iid, "sign_in", "handler1", SIGN)
    dispatch_due_jobs(utcnow(), limit=50)
    assert receiver.events == [] and outbox_backlog() == 1
    job = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == JobKind.INTEGRATION_DELIVERY)).scalar_one()
    assert job.last_error == "平台接入已停用，事件暂不推送" and job.attempts == 1 and job.status == "pending"


# --- 移送单 to the 纪委 case system ----------------------------------------------------------------

def test_a_referral_to_the_jw_goes_to_its_case_system_with_receipt_and_feedback(platform, api, receiver, client):
    jw_receiver = Receiver(JW_SECRET)
    try:
        add_client("jw_case", JW_SECRET, callback=jw_receiver.url)
        number, case_id, iid = ticket_case(platform)
        do(api, iid, "register", "intake1", REGISTER)
        do(api, iid, "assess", "dispatch1", {**ASSESS, "misconduct": True,
                                             "misconduct_note": "反映执法人员暗示指定检测机构。"})
        row = db.session.execute(sa.select(Transfer)).scalar_one()
        assert (row.direction, row.case_id, row.original_ticket_no) == ("to_jw", case_id, HOTLINE_TICKET["ticket_no"])
        assert row.ack_due == add_business_duration(row.sent_at, "1WD").due
        assert row.feedback_due == add_business_duration(row.sent_at, "15WD").due
        dispatch_due_jobs(utcnow(), limit=50)
        assert [e["type"] for e in receiver.events] == ["transferred_to_jw"]
        referral = jw_receiver.events
        assert [e["type"] for e in referral] == ["referral"]
        fields = referral[0]["data"]["transfer"]
        assert fields["transfer_no"] == row.transfer_no and fields["reason"] == "反映执法人员暗示指定检测机构。"
        assert fields["original_case"] == number and fields["original_ticket_no"] == HOTLINE_TICKET["ticket_no"]
        assert HOTLINE_TICKET["complainant_name"] not in json.dumps(referral, ensure_ascii=False)   # identity stays
        jw = Signed(client, "jw_case", JW_SECRET)
        ts = int(time.time())
        resp = jw.post(f"/transfers/{row.transfer_no}/receipt", {}, timestamp=ts)
        assert resp.status_code == 200, resp.get_json()
        again = jw.post(f"/transfers/{row.transfer_no}/receipt", {}, timestamp=ts - 1)
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_received"
        bad = jw.post(f"/transfers/{row.transfer_no}/feedback", {"feedback": ""}, timestamp=ts - 2)
        assert bad.status_code == 422 and list(bad.get_json()["error"]["fields"]) == ["feedback"]
        resp = jw.post(f"/transfers/{row.transfer_no}/feedback", {"feedback": "经初步核实，问题线索已立案审查。"},
                       timestamp=ts - 3)
        assert resp.status_code == 200, resp.get_json()
        unknown = jw.post("/transfers/NO-SUCH-1/receipt", {}, timestamp=ts - 4)
        assert unknown.status_code == 404
        not_jw = platform.post(f"/transfers/{row.transfer_no}/receipt", {})
        assert not_jw.status_code == 404   # only the 纪委 system answers a referral
        db.session.rollback()
        db.session.expire_all()
        row = db.session.get(Transfer, row.id)
        assert row.ack_at is not None and row.feedback == "经初步核实，问题线索已立案审查。"
        dispatch_due_jobs(utcnow(), limit=50)
        assert [e["type"] for e in receiver.events] == ["transferred_to_jw", "transfer_received", "transfer_feedback"]
        assert receiver.events[2]["data"]["feedback"] == "经初步核实，问题线索已立案审查。"
    finally:
        jw_receiver.stop()


def test_a_jw_transfer_is_received_at_dispatch_and_answered_at_closing(seeded, client, api):
    jw_receiver = Receiver(JW_SECRET)
    try:
        add_client("jw_case", JW_SECRET, callback=jw_receiver.url)
        transfer = {"transfer_no": "JW-2025-Y-0050", "from_org": "市纪委监委信访室", "to_org": "12345热线分拨中心",
                    "reason": "属企业业务诉求，移送职能部门办理。"}
        ticket = {**HOTLINE_TICKET, "ticket_no": "JW-2025-0050", "kind": "transfer", "transfer": transfer}
        _number, case_id, iid = ticket_case(Signed(client, "jw_case", JW_SECRET), ticket)
        to_unit(api, iid)
        to_closed(api, iid)
        dispatch_due_jobs(utcnow(), limit=50)
        types = [e["type"] for e in jw_receiver.events]
        assert types == ["transfer_received", "signed_in", "closed", "transfer_feedback", "callback_result"], types
        assert jw_receiver.events[0]["data"]["on_time"] is True
        assert jw_receiver.events[3]["data"]["feedback"] == REPLY["reply_text"]
    finally:
        jw_receiver.stop()


def test_both_ways_a_referral_and_the_jw_transfer_back_to_a_unit_are_told_to_the_platform(platform, api, receiver):
    """12345 → 纪委 (received at 信访室登记), then 纪委 → 12345 / 职能部门 (received at 派单, answered
    at 办结): each 移送单 a row with its business-calendar due dates, each step an event in order."""
    number, case_id, iid = ticket_case(platform)
    do(api, iid, "register", "intake1", REGISTER)
    do(api, iid, "assess", "dispatch1", {**ASSESS, "misconduct": True, "misconduct_note": "反映工作人员推诿。"})
    do(api, iid, "jw_register", "jw_letters1", {"jw_screening": "accept", "real_name": True, "jw_register_note": "登记。"})
    do(api, iid, "jw_accept_notice", "jw_letters1", {"notice_method": "电话", "notice_text": "已受理。"})
    do(api, iid, "jw_assess", "jw_sup1", {"disposal": "transfer_back", "jw_assess_note": "属业务诉求。",
                                          "jw_transfer_reason": "补贴申报问题属工信部门职责。"})
    rows = {r.direction: r for r in db.session.execute(sa.select(Transfer)).scalars()}
    assert set(rows) == {"to_jw", "from_jw"}
    back = rows["from_jw"]
    assert (back.from_org, back.to_org, back.reason) == ("市纪委监委信访室", "12345热线分拨中心", "补贴申报问题属工信部门职责。")
    assert back.ack_due == add_business_duration(back.sent_at, "1WD").due
    assert back.feedback_due == add_business_duration(back.sent_at, "15WD").due
    assert rows["to_jw"].ack_at is not None   # 信访室登记 received the referral
    do(api, iid, "dispatch", "dispatch1", {"handler_org": "jm_scjgj"})
    to_closed(api, iid)
    db.session.expire_all()
    back = db.session.get(Transfer, back.id)
    assert back.ack_at is not None and back.feedback == REPLY["reply_text"]
    dispatch_due_jobs(utcnow(), limit=50)
    assert receiver.of_case(number) == ["transferred_to_jw", "transfer_received", "transferred_to_unit",
                                        "transfer_received", "signed_in", "closed", "transfer_feedback",
                                        "callback_result"]
    assert receiver.events[2]["data"]["transfer"]["reason"] == "补贴申报问题属工信部门职责。"
    assert receiver.refused == []


def test_a_return_and_a_refusal_are_told_to_the_platform(platform, api, receiver):
    number, case_id, iid = ticket_case(platform)
    to_unit(api, iid)
    do(api, iid, "sign_in", "handler1", {"sign_action": "return", "signer": "黄经办", "return_reason": "职能不符",
                                         "return_basis": "《江门市市场监督管理局职能配置规定》"})
    refused_number, _refused_id, refused_iid = ticket_case(platform, {**HOTLINE_TICKET, "ticket_no": "JM-2025-0926-000777"})
    do(api, refused_iid, "register", "intake1", {**REGISTER, "in_scope": False,
                                                  "out_of_scope_reason": "已进入诉讼、仲裁、行政复议或信访程序",
                                                  "out_of_scope_advice": "请向受理法院了解进展。"})
    dispatch_due_jobs(utcnow(), limit=50)
    assert receiver.of_case(number) == ["returned"]
    assert receiver.events[0]["data"]["reason"] == "职能不符"
    assert receiver.of_case(refused_number) == ["rejected"]
    rejected = [e for e in receiver.events if e["case_number"] == refused_number][0]["data"]
    assert (rejected["reason"], rejected["advice"]) == ("已进入诉讼、仲裁、行政复议或信访程序", "请向受理法院了解进展。")
