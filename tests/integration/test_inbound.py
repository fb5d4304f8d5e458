"""Inbound tickets: each refusal its own 4xx code and nothing started; a ticket starts the complaint at
its platform's channel through the staff start path; the same ticket twice is one case; 移送单."""
from __future__ import annotations

import json
import time

import sqlalchemy as sa

from app.cases.models import Case
from app.deadlines.due import add_business_duration
from app.extensions import db
from app.integration.models import IntegrationTicket, Transfer
from app.processes.models import ProcessInstance
from app.tasks.models import HumanTask
from tests.integration.conftest import HOTLINE_TICKET, JW_SECRET, SECRET, SME_TICKET, Signed, add_client


def counts():
    return (db.session.execute(sa.select(sa.func.count(Case.id))).scalar_one(),
            db.session.execute(sa.select(sa.func.count(ProcessInstance.id))).scalar_one())


def error(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()["error"]
    assert body["code"] == code, body
    assert body["message"]
    return body


def test_a_ticket_starts_the_complaint_at_its_platforms_channel(hotline):
    resp = hotline.ticket(HOTLINE_TICKET)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "created" and body["ticket_no"] == HOTLINE_TICKET["ticket_no"]
    case = db.session.execute(sa.select(Case).where(Case.number == body["case_number"])).scalar_one()
    assert (case.channel, case.process_key, case.district) == ("hotline_12345", "complaint", "江海区")
    instance = db.session.execute(sa.select(ProcessInstance).where(ProcessInstance.case_id == case.id)).scalar_one()
    tasks = db.session.execute(sa.select(HumanTask.bpmn_id).where(HumanTask.instance_id == instance.id)).scalars().all()
    assert tasks == ["register"]   # the 12345 start event, then 登记建档 as for a staff start
    ticket = db.session.execute(sa.select(IntegrationTicket)).scalar_one()
    assert (ticket.case_id, ticket.ticket_no, ticket.started) == (case.id, HOTLINE_TICKET["ticket_no"], True)


def test_the_sme_platform_starts_at_its_own_channel(seeded, client):
    add_client("sme_platform", "sme-secret")
    resp = Signed(client, "sme_platform", "sme-secret").ticket(SME_TICKET)
    assert resp.status_code == 201, resp.get_json()
    assert db.session.execute(sa.select(Case.channel)).scalar_one() == "sme_platform"


def test_the_same_ticket_twice_starts_one_case_and_answers_the_same_number(hotline):
    ts = int(time.time())
    first = hotline.ticket(HOTLINE_TICKET, timestamp=ts)
    again = hotline.ticket(HOTLINE_TICKET, timestamp=ts - 1)   # a new signature: not a replay
    assert first.status_code == 201 and again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "duplicate"
    assert again.get_json()["case_number"] == first.get_json()["case_number"]
    assert counts() == (1, 1)


def test_a_bad_signature_is_refused_and_starts_nothing(hotline):
    error(hotline.ticket(HOTLINE_TICKET, secret="not-the-secret"), 401, "bad_signature")
    body = json.dumps(HOTLINE_TICKET, ensure_ascii=False).encode()
    ts = int(time.time())
    from app.integration.signing import signature
    tampered = body.replace("江海区".encode(), "蓬江区".encode())   # signed one body, sent another
    assert tampered != body
    error(hotline.ticket(None, body=tampered, headers={
        "Content-Type": "application/json", "X-Wuyi-Timestamp": str(ts),
        "X-Wuyi-Signature": "sha256=" + signature(SECRET, ts, body)}), 401, "bad_signature")
    assert counts() == (0, 0)


def test_missing_signature_headers_are_refused(hotline):
    error(hotline.ticket(HOTLINE_TICKET, headers={"Content-Type": "application/json"}), 401, "signature_missing")
    assert counts() == (0, 0)


def test_a_stale_timestamp_is_refused_both_ways(hotline):
    error(hotline.ticket(HOTLINE_TICKET, timestamp=int(time.time()) - 6 * 60), 401, "stale_timestamp")
    error(hotline.ticket(HOTLINE_TICKET, timestamp=int(time.time()) + 6 * 60), 401, "stale_timestamp")
    error(hotline.ticket(HOTLINE_TICKET, headers={"X-Wuyi-Timestamp": "yesterday", "X-Wuyi-Signature": "sha256=00"}),
          401, "stale_timestamp")
    assert counts() == (0, 0)
    # inside the window: accepted
    assert hotline.ticket(HOTLINE_TICKET, timestamp=int(time.time()) - 4 * 60).status_code == 201


def test_a_replayed_request_is_refused(hotline):
    ts = int(time.time())
    assert hotline.ticket(HOTLINE_TICKET, timestamp=ts).status_code == 201
    error(hotline.ticket(HOTLINE_TICKET, timestamp=ts), 409, "replayed")
    other = {**HOTLINE_TICKET, "ticket_no": "JM-2025-0926-000999", "content": "x" * 3}   # even a failing one
    assert hotline.ticket(other, timestamp=ts).status_code == 422
    error(hotline.ticket(other, timestamp=ts), 409, "replayed")
    assert counts() == (1, 1)


def test_a_schema_violation_names_each_field(hotline):
    bad = {**HOTLINE_TICKET, "district": "广州市", "amount": "很多", "foo": 1}
    del bad["content"]
    body = error(hotline.ticket(bad), 422, "schema_invalid")
    assert set(body["fields"]) == {"district", "amount", "foo", "content"}, body["fields"]
    assert body["fields"]["content"] == ["必填"]
    assert body["fields"]["foo"] == ["不允许的字段"]
    assert "取值不在允许范围内" in body["fields"]["district"][0]
    transfer = {**HOTLINE_TICKET, "kind": "transfer", "transfer": {"transfer_no": "Y-0001", "from_org": "纪委"}}
    body = error(hotline.ticket(transfer), 422, "schema_invalid")
    assert set(body["fields"]) == {"transfer.to_org", "transfer.reason"}, body["fields"]
    body = error(hotline.ticket({**HOTLINE_TICKET, "kind": "transfer"}), 422, "schema_invalid")
    assert set(body["fields"]) == {"transfer"}
    assert counts() == (0, 0)


def test_a_body_that_is_not_json_is_refused(hotline):
    error(hotline.ticket(None, body=b"{not json"), 400, "invalid_json")
    error(hotline.ticket(None, body=b"[1, 2]"), 422, "schema_invalid")
    assert counts() == (0, 0)


def test_the_start_form_validates_a_ticket_as_it_validates_a_clerk(hotline):
    """The published schema is the envelope; the start form's rules (USCC check digit) still apply."""
    body = error(hotline.ticket({**HOTLINE_TICKET, "uscc": "91440704MAMM04DN9A"}), 422, "validation_failed")
    assert list(body["fields"]) == ["uscc"], body
    body = error(hotline.ticket({k: v for k, v in HOTLINE_TICKET.items() if k != "complainant_name"}),
                 422, "validation_failed")
    assert "complainant_name" in body["fields"]
    assert counts() == (0, 0)
    assert db.session.execute(sa.select(sa.func.count(IntegrationTicket.id))).scalar_one() == 0
    assert hotline.ticket(HOTLINE_TICKET).status_code == 201   # corrected: the same number starts now


def test_an_unknown_or_disabled_platform_is_refused(seeded, client):
    error(Signed(client, "weibo").ticket(HOTLINE_TICKET), 404, "unknown_platform")
    error(Signed(client, "sme_platform").ticket(HOTLINE_TICKET), 404, "unknown_platform")   # not registered
    add_client("sme_platform", "sme-secret", enabled=False)
    error(Signed(client, "sme_platform", "sme-secret").ticket(HOTLINE_TICKET), 403, "platform_disabled")
    assert counts() == (0, 0)


def test_the_schema_is_published(client):
    resp = client.get("/api/v1/integration/schema/ticket.json")
    assert resp.status_code == 200
    schema = resp.get_json()
    assert schema["properties"]["ticket_no"]["title"] == "平台工单编号"
    assert "transfer" in schema["properties"] and schema["additionalProperties"] is False


# --- 移送单 ---------------------------------------------------------------------------------------

TRANSFER = {"transfer_no": "JW-2025-Y-0042", "from_org": "市纪委监委信访室", "to_org": "12345热线分拨中心",
            "reason": "反映内容属企业业务诉求，不涉及违纪违法，移送职能部门办理。"}


def test_a_jw_transfer_without_a_case_starts_one_with_its_due_dates(jw):
    ticket = {**SME_TICKET, "ticket_no": "JW-2025-0042", "kind": "transfer", "transfer": TRANSFER}
    resp = jw.ticket(ticket)
    assert resp.status_code == 201, resp.get_json()
    case = db.session.execute(sa.select(Case)).scalar_one()
    assert case.number == resp.get_json()["case_number"] and case.channel == "hotline_12345"
    row = db.session.execute(sa.select(Transfer)).scalar_one()
    assert (row.direction, row.from_org, row.to_org, row.case_id) == ("from_jw", "市纪委监委信访室", "12345热线分拨中心",
                                                                      case.id)
    assert row.ack_due == add_business_duration(row.sent_at, "1WD").due
    assert row.feedback_due == add_business_duration(row.sent_at, "15WD").due
    assert row.ack_at is None and row.feedback is None


def test_a_jw_ticket_must_be_a_transfer(jw):
    body = error(jw.ticket({**SME_TICKET, "ticket_no": "JW-2025-0043"}), 422, "validation_failed")
    assert list(body["fields"]) == ["kind"]
    assert counts() == (0, 0)


def test_a_transfer_about_a_known_ticket_is_recorded_on_its_case(hotline, client):
    ts = int(time.time())
    first = hotline.ticket(HOTLINE_TICKET).get_json()
    add_client("jw_case", JW_SECRET)
    transfer = {**TRANSFER, "original_ticket_no": HOTLINE_TICKET["ticket_no"], "feedback_days": 5}
    ticket = {**HOTLINE_TICKET, "ticket_no": "JW-2025-0044", "kind": "transfer", "transfer": transfer}
    resp = Signed(client, "jw_case", JW_SECRET).ticket(ticket, timestamp=ts)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "attached" and resp.get_json()["case_number"] == first["case_number"]
    assert counts() == (1, 1)
    row = db.session.execute(sa.select(Transfer)).scalar_one()
    assert row.feedback_due == add_business_duration(row.sent_at, "5WD").due
    from app.audit.models import AuditEvent
    labels = db.session.execute(sa.select(AuditEvent.label).where(AuditEvent.action == "message")
                                .order_by(AuditEvent.id)).scalars().all()
    assert labels == ["收到12345政务服务便民热线工单 JM-2025-0926-000122", "收到移送单 JW-2025-Y-0042（市纪委监委信访室）"]
    # by case number too, and idempotent by its own ticket number
    again = Signed(client, "jw_case", JW_SECRET).ticket(ticket, timestamp=ts - 2)
    assert again.get_json()["status"] == "duplicate" and again.get_json()["case_number"] == first["case_number"]
    assert db.session.execute(sa.select(sa.func.count(Transfer.id))).scalar_one() == 1

    # the same 移送单 under another ticket number: refused, not recorded twice
    other = Signed(client, "jw_case", JW_SECRET).ticket({**ticket, "ticket_no": "JW-2025-0045"}, timestamp=ts - 3)
    body = error(other, 409, "duplicate_transfer")
    assert list(body["fields"]) == ["transfer.transfer_no"]
    assert db.session.execute(sa.select(sa.func.count(Transfer.id))).scalar_one() == 1
