"""The public intake portal (#13 §1): filing starts the complaint as a staff start does, tracking by case
number + 查询码, 补充材料, 好差评 (an unsatisfied rating takes the 重办 path), and the abuse guards
(honeypot, captcha, rate limits per IP and per phone, attachments by content and count), each both ways."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from app.extensions import db, limiter

CAPTCHA = "AB23"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
FORM = {"appeal_type": "complaint", "complainant_name": "梁志强", "phone": "13800000001",
        "company_name": "江门市蓬江区示例五金制品有限公司", "uscc": "91440703MAKLKB3T82", "district": "蓬江区",
        "category": ["拖欠账款"], "title": "某镇政府工程尾款逾期未付",
        "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。"}


@pytest.fixture
def portal(app, seeded):
    limiter.reset()
    saved = {k: app.config[k] for k in ("PORTAL_CAPTCHA_FIXED_TEXT", "PORTAL_SUBMIT_LIMIT_IP",
                                        "PORTAL_SUBMIT_LIMIT_PHONE", "PORTAL_TRACK_LIMIT_IP")}
    app.config["PORTAL_CAPTCHA_FIXED_TEXT"] = CAPTCHA
    yield app
    app.config.update(saved)
    limiter.reset()


def post_form(client, entry="ndrc", files=None, captcha=CAPTCHA, **fields):
    client.get("/portal/captcha.png")   # the image puts the challenge in the session
    data = {**FORM, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    data["captcha"] = captcha
    if files is not None:
        data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/portal/{entry}", data=data, content_type="multipart/form-data")


def receipt(client, resp):
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    number = re.search(r'id="case-number"[^>]*>([^<]+)<', page).group(1)
    code = re.search(r'id="query-code"[^>]*>([^<]+)<', page).group(1)
    return number, code, page


def the_case(number):
    from app.cases.models import Case
    return db.session.execute(sa.select(Case).where(Case.number == number)).scalar_one()


def tasks_of(case_id, status="ready"):
    from app.tasks.models import HumanTask
    return list(db.session.execute(sa.select(HumanTask).where(HumanTask.case_id == case_id,
                                                              HumanTask.status == status)
                                   .order_by(HumanTask.id)).scalars())


def error_at(page: str, field: str) -> str:
    found = re.search(rf'<p class="error-msg" id="{field}-error">([^<]+)</p>', page)
    assert found, (field, page[:4000])
    return found.group(1)


# --- filing ---------------------------------------------------------------------------------------

def test_the_chooser_and_both_entries_open_without_login(client, portal):
    page = client.get("/portal").get_data(as_text=True)
    assert "/portal/lianzheng" in page and "/portal/ndrc" in page and "/portal/track" in page
    for entry, title in (("lianzheng", "廉政网网上举报"), ("ndrc", "营商环境投诉")):
        resp = client.get(f"/portal/{entry}")
        assert resp.status_code == 200 and title in resp.get_data(as_text=True)
    assert client.get("/portal/nowhere").status_code == 404


def test_a_person_files_a_complaint_and_it_starts_like_a_staff_start(client, portal):
    from app.cases.records import Attachment
    from app.portal.models import PortalTicket
    resp = post_form(client, files=[("合同.pdf", PDF)])
    number, code, page = receipt(client, resp)
    assert re.fullmatch(r"JM-\d{4}-\d{4}-\d{6}", number)
    plain = code.replace("-", "")
    assert len(plain) >= 10 and plain.isalnum()
    case = the_case(number)
    assert (case.channel, case.district, case.uscc, case.created_by_id) == ("ndrc_bizenv", "蓬江区",
                                                                           "91440703MAKLKB3T82", None)
    # the 受理员 finds it at 登记建档 in the intake group, as after a staff start
    [task] = tasks_of(case.id)
    assert (task.bpmn_id, task.candidate_groups) == ("register", ["intake"])
    assert task.due_at is not None
    ticket = db.session.execute(sa.select(PortalTicket).where(PortalTicket.case_id == case.id)).scalar_one()
    assert plain not in ticket.code_hash and len(ticket.code_hash) == 64   # only a hash is kept
    [file] = db.session.execute(sa.select(Attachment).where(Attachment.case_id == case.id)).scalars().all()
    assert (file.filename, file.content_type) == ("合同.pdf", "application/pdf")
    # the receipt shows once: a reload of the page has nothing to show
    assert client.get("/portal/done").status_code == 303


def test_the_start_form_rules_apply_with_the_typed_text_kept(client, portal):
    resp = post_form(client, uscc="91440703MAKLKB3T8Z", content="短", phone="12345", district="")
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "校验" in error_at(page, "uscc") or "统一社会信用代码" in error_at(page, "uscc")
    error_at(page, "content")
    error_at(page, "phone")
    error_at(page, "district")
    assert 'value="91440703MAKLKB3T8Z"' in page and 'value="梁志强"' in page and "江门市蓬江区示例五金制品有限公司" in page
    from app.cases.models import Case
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == 0


def test_codes_typed_in_lower_case_are_read_in_upper_case(client, portal):
    number, _, _ = receipt(client, post_form(client, uscc="91440703makl kb3t82"))
    assert the_case(number).uscc == "91440703MAKLKB3T82"


def test_a_request_over_the_size_limit_is_answered_in_chinese(client, portal):
    portal.config["MAX_CONTENT_LENGTH"], saved = 2000, portal.config["MAX_CONTENT_LENGTH"]
    try:
        resp = post_form(client, files=[("大.pdf", PDF + b" " * 5000)])
    finally:
        portal.config["MAX_CONTENT_LENGTH"] = saved
    assert resp.status_code == 413 and "提交的内容过大" in resp.get_data(as_text=True)


def test_anonymous_only_for_a_report(client, portal):
    resp = post_form(client, anonymous="1", complainant_name=None, phone=None)
    assert resp.status_code == 422
    assert "只有举报可以匿名" in error_at(resp.get_data(as_text=True), "anonymous")
    resp = post_form(client, "lianzheng", appeal_type="report", anonymous="1", complainant_name="不该保存",
                     id_type="居民身份证", id_number="440705197407256475", phone=None)
    number, _, _ = receipt(client, resp)
    case = the_case(number)
    assert case.is_confidential and case.channel == "lianzheng_web"
    [task] = tasks_of(case.id)
    assert task.bpmn_id == "jw_register"   # 廉政网 goes straight to the discipline commission
    from app.audit.models import AuditEvent
    start = db.session.execute(sa.select(AuditEvent).where(AuditEvent.case_id == case.id)).scalars().first()
    assert "complainant_name" not in start.data and "id_number" not in start.data


def test_a_type_the_entry_does_not_offer_is_refused(client, portal):
    resp = post_form(client, "lianzheng", appeal_type="praise")
    assert resp.status_code == 422
    assert "请从列出的诉求类型中选择" in error_at(resp.get_data(as_text=True), "appeal_type")


# --- abuse ------------------------------------------------------------------------------------------

def test_a_wrong_captcha_is_refused_and_a_captcha_answers_once(client, portal):
    resp = post_form(client, captcha="ZZZZ")
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "验证码不正确" in error_at(page, "captcha") and 'value="梁志强"' in page
    # without a new image the same (right) answer is refused: the challenge was used up
    data = {**FORM, "captcha": CAPTCHA}
    resp = client.post("/portal/ndrc", data=data)
    assert resp.status_code == 400 and "验证码已失效" in error_at(resp.get_data(as_text=True), "captcha")


def test_a_replayed_captcha_cookie_is_refused(app, portal):
    first = app.test_client()
    first.get("/portal/captcha.png")
    cookie = first.get_cookie("session").value
    assert post_form_with_cookie(app, cookie).status_code == 303
    resp = post_form_with_cookie(app, cookie, phone="13800000009")
    assert resp.status_code == 400 and "验证码已使用过" in resp.get_data(as_text=True)


def post_form_with_cookie(app, cookie, **fields):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.post("/portal/ndrc", data={**FORM, **fields, "captcha": CAPTCHA})


def test_a_random_captcha_needs_its_own_text(client, portal, monkeypatch):
    portal.config["PORTAL_CAPTCHA_FIXED_TEXT"] = None
    from app.portal import captcha
    texts = iter(["KQ7M", "KQ7M"])
    monkeypatch.setattr(captcha, "random_text", lambda: next(texts))
    assert post_form(client, captcha=CAPTCHA).status_code == 400   # the test's fixed text is off
    resp = client.get("/portal/captcha.png")
    assert resp.status_code == 200 and resp.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert resp.headers["Cache-Control"] == "no-store"
    resp = client.post("/portal/ndrc", data={**FORM, "captcha": " kq7m "})   # case and spaces do not matter
    assert resp.status_code == 303


def test_the_fixed_captcha_text_is_never_honoured_in_production(app, portal):
    from app.portal import captcha
    with app.test_request_context():
        app.config["ENV_NAME"] = "production"
        try:
            assert captcha._fixed_text() is None
        finally:
            app.config["ENV_NAME"] = "testing"
        assert captcha._fixed_text() == CAPTCHA
    from app.config import ProductionConfig
    assert ProductionConfig.PORTAL_CAPTCHA_FIXED_TEXT is None


def test_a_filled_honeypot_is_refused(client, portal):
    resp = post_form(client, website="http://spam.example")
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "请勿填写" in page and 'value="梁志强"' in page
    from app.cases.models import Case
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == 0


def test_a_loop_is_stopped_per_ip_and_a_person_gets_through(client, portal):
    portal.config["PORTAL_SUBMIT_LIMIT_IP"] = "3 per hour"
    portal.config["PORTAL_SUBMIT_LIMIT_PHONE"] = "100 per hour"
    for i in range(3):
        assert post_form(client, phone=f"1380000001{i}").status_code == 303
    resp = post_form(client, phone="13800000019")
    assert resp.status_code == 429
    page = resp.get_data(as_text=True)
    assert "提交过于频繁" in page and 'value="梁志强"' in page
    other = portal.test_client()   # another network is not held back
    resp = other.get("/portal/captcha.png", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    resp = other.post("/portal/ndrc", data={**FORM, "captcha": CAPTCHA}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert resp.status_code == 303


def test_one_phone_is_limited_across_networks(app, portal):
    portal.config["PORTAL_SUBMIT_LIMIT_PHONE"] = "2 per day"
    for i in range(2):
        client = app.test_client()
        client.get("/portal/captcha.png", environ_base={"REMOTE_ADDR": f"10.0.1.{i}"})
        resp = client.post("/portal/ndrc", data={**FORM, "captcha": CAPTCHA}, environ_base={"REMOTE_ADDR": f"10.0.1.{i}"})
        assert resp.status_code == 303
    client = app.test_client()
    client.get("/portal/captcha.png", environ_base={"REMOTE_ADDR": "10.0.1.9"})
    resp = client.post("/portal/ndrc", data={**FORM, "captcha": CAPTCHA}, environ_base={"REMOTE_ADDR": "10.0.1.9"})
    assert resp.status_code == 429
    page = resp.get_data(as_text=True)
    assert "该号码每天最多提交 2 件诉求" in error_at(page, "phone") and "江门市蓬江区示例五金制品有限公司" in page
    # another phone from that network gets through
    assert post_form(client, phone="13800000002").status_code == 303


def test_too_many_and_bad_attachments_are_refused(client, portal):
    resp = post_form(client, files=[(f"{i}.pdf", PDF) for i in range(6)])
    assert resp.status_code == 422
    assert "最多上传 5 个附件（您选择了 6 个）" in error_at(resp.get_data(as_text=True), "attachments")
    resp = post_form(client, files=[("假.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" * 10)])
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "不支持的文件类型" in error_at(page, "attachments") and "附件需要重新选择" in page
    portal.config["PORTAL_MAX_FILE_BYTES"], saved = 100, portal.config["PORTAL_MAX_FILE_BYTES"]
    try:
        resp = post_form(client, files=[("大.pdf", PDF + b" " * 200)])
    finally:
        portal.config["PORTAL_MAX_FILE_BYTES"] = saved
    assert resp.status_code == 422 and "文件过大" in error_at(resp.get_data(as_text=True), "attachments")
    from app.cases.models import Case
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == 0
    assert post_form(client, files=[(f"{i}.pdf", PDF) for i in range(5)]).status_code == 303


def test_supplements_and_ratings_are_rate_limited_per_ip(client, portal):
    portal.config["PORTAL_ACTION_LIMIT_IP"], saved = "2 per hour", portal.config["PORTAL_ACTION_LIMIT_IP"]
    try:
        number, code, _ = receipt(client, post_form(client))
        looked_up(client, number, code)
        for i in range(2):
            assert client.post(f"/portal/case/{number}/supplement", data={"text": f"第{i}次补充"}).status_code == 303
        resp = client.post(f"/portal/case/{number}/supplement", data={"text": "第三次补充的内容"})
    finally:
        portal.config["PORTAL_ACTION_LIMIT_IP"] = saved
    page = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "操作过于频繁" in page and "第三次补充的内容" in page


def test_a_filled_honeypot_refuses_a_supplement(client, portal):
    number, code, _ = receipt(client, post_form(client))
    looked_up(client, number, code)
    resp = client.post(f"/portal/case/{number}/supplement", data={"text": "广告内容", "website": "x"})
    assert resp.status_code == 400 and "请勿填写" in resp.get_data(as_text=True)
    from app.cases.records import Comment
    assert db.session.execute(sa.select(sa.func.count()).select_from(Comment)).scalar_one() == 0


# --- tracking -------------------------------------------------------------------------------------

def test_tracking_needs_the_right_code_and_a_wrong_one_tells_nothing(client, portal):
    number, code, _ = receipt(client, post_form(client))
    other = portal.test_client()
    assert other.get(f"/portal/case/{number}").status_code == 303   # not looked up on this device
    wrong = other.post("/portal/track", data={"case_number": number, "code": "ABCD-EFGH-JKLM"})
    unknown = other.post("/portal/track", data={"case_number": "JM-2026-0101-999999", "code": code})
    assert wrong.status_code == unknown.status_code == 422
    strip = lambda html: re.sub(r'name="csrf_token" value="[^"]*"|value="[^"]*"', "", html)  # noqa: E731
    assert strip(wrong.get_data(as_text=True)) == strip(unknown.get_data(as_text=True))
    resp = other.post("/portal/track", data={"case_number": number, "code": code.lower().replace("-", " ")})
    assert resp.status_code == 303
    page = other.get(resp.headers["Location"]).get_data(as_text=True)
    assert number in page and "已收到，等待受理登记" in page and "本环节期限" in page   # no case limit yet


def test_lookups_are_rate_limited_per_ip(client, portal):
    portal.config["PORTAL_TRACK_LIMIT_IP"] = "3 per hour"
    for _ in range(3):
        assert client.post("/portal/track", data={"case_number": "JM-1", "code": "X" * 12}).status_code == 422
    resp = client.post("/portal/track", data={"case_number": "JM-1", "code": "X" * 12})
    assert resp.status_code == 429 and "查询过于频繁" in resp.get_data(as_text=True)


# --- the whole path: refused, supplement, rating -------------------------------------------------------

def looked_up(client, number, code):
    resp = client.post("/portal/track", data={"case_number": number, "code": code})
    assert resp.status_code == 303
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def test_a_refused_case_shows_the_reason_and_the_right_channel(client, portal, api):
    number, code, _ = receipt(client, post_form(client))
    case = the_case(number)
    [task] = tasks_of(case.id)
    resp = api.post(f"/api/v1/tasks/{task.id}/complete", user="intake1", json={"data": {
        **{k: v for k, v in FORM.items()}, "channel": "ndrc_bizenv", "in_scope": False,
        "out_of_scope_reason": "已进入诉讼、仲裁、行政复议或信访程序",
        "out_of_scope_advice": "该事项已由法院受理，请向蓬江区人民法院了解进展。"}})
    assert resp.status_code == 200, resp.get_json()
    page = looked_up(client, number, code)
    assert "不予受理" in page and "已进入诉讼、仲裁、行政复议或信访程序" in page and "蓬江区人民法院" in page
    assert "提交补充材料" not in page   # closed: no more material


@pytest.mark.parametrize("screening, status, stage", [
    ("accept", "已受理", "纪检监察机关正在办理"),
    ("no_content", "不予受理", "经登记审查，已存档备查"),
])
def test_a_report_to_the_discipline_commission_is_tracked_in_words(client, portal, api, screening, status, stage):
    number, code, _ = receipt(client, post_form(client, "lianzheng", appeal_type="report", hide_identity="1"))
    page = looked_up(client, number, code)
    assert "已收到，纪检监察机关正在登记" in page
    [task] = tasks_of(the_case(number).id)
    resp = api.post(f"/api/v1/tasks/{task.id}/complete", user="jw_letters1", json={"data": {
        "jw_screening": screening, "real_name": True, "jw_register_note": "内部登记意见：线索具体"}})
    assert resp.status_code == 200, resp.get_json()
    page = client.get(f"/portal/case/{number}").get_data(as_text=True)
    assert f'>{status}</span>' in page and f'<dd id="stage">{stage}</dd>' in page
    assert "内部登记意见" not in page and "杜信访" not in page


def walk_to_callback(api, case_id):
    from app.demo import ASSESS, CONTACT, HANDLE, REPLY, SIGN, SIGN_OFF
    from datetime import datetime, timedelta
    QA = {"qa_result": "pass"}
    CONTACT = {**CONTACT, "contact_time": (datetime.now().astimezone() - timedelta(minutes=1)).isoformat(timespec="seconds")}
    steps = [("register", "intake1", {**FORM, "channel": "ndrc_bizenv", "in_scope": True}),
             ("assess", "dispatch1", ASSESS), ("dispatch", "dispatch1", {"handler_org": "jm_scjgj"}),
             ("sign_in", "handler1", SIGN), ("first_contact", "handler1", CONTACT),
             ("handle", "handler1", {**HANDLE, "investigation": "内部核查：经办人王小明电话核实"}),
             ("reply", "handler1", REPLY), ("sign_off", "head1", {**SIGN_OFF, "sign_off_opinion": "内部意见：同意"}),
             ("qa", "qa1", QA)]
    for bpmn_id, user, data in steps:
        [task] = [t for t in tasks_of(case_id) if t.bpmn_id == bpmn_id]
        resp = api.post(f"/api/v1/tasks/{task.id}/complete", user=user, json={"data": data})
        assert resp.status_code == 200, (bpmn_id, resp.get_json())


def test_supplement_reaches_the_timeline_and_notifies_the_holders(client, portal):
    from app.auth.models import User
    from app.cases.records import Attachment, Comment
    from app.notifications.models import Notification
    number, code, _ = receipt(client, post_form(client))
    case = the_case(number)
    looked_up(client, number, code)
    resp = client.post(f"/portal/case/{number}/supplement", content_type="multipart/form-data",
                       data={"text": "补充：付款审批单复印件见附件。", "attachments": [(io.BytesIO(PDF), "审批单.pdf")]})
    assert resp.status_code == 303
    assert "补充材料已提交" in client.get(resp.headers["Location"]).get_data(as_text=True)
    [comment] = db.session.execute(sa.select(Comment).where(Comment.case_id == case.id)).scalars().all()
    assert "付款审批单复印件" in comment.body and comment.author_id is None
    assert db.session.execute(sa.select(Attachment.filename).where(Attachment.case_id == case.id)).scalars().all() \
        == ["审批单.pdf"]
    intake1 = db.session.execute(sa.select(User).where(User.username == "intake1")).scalar_one()
    notes = db.session.execute(sa.select(Notification).where(Notification.case_id == case.id)).scalars().all()
    assert intake1.id in {n.user_id for n in notes} and all(number in n.title for n in notes)
    # the 受理员 sees it on the case page like any other: the text, the files, the task at 登记建档
    staff = portal.test_client()
    with portal.app_context():
        staff.post("/login", data={"username": "intake1", "password": "demo12345"})
        case_page = staff.get(f"/cases/{case.id}")
    html = case_page.get_data(as_text=True)
    assert case_page.status_code == 200
    assert "诉求人通过公众门户补充材料" in html and "审批单.pdf" in html and "登记建档" in html and number in html
    # an empty one, one over its length and a bad file are refused, the text kept
    resp = client.post(f"/portal/case/{number}/supplement", data={"text": "长" * 2001})
    assert resp.status_code == 422 and "不能超过 2000 字（当前 2001 字）" in error_at(resp.get_data(as_text=True), "text")
    assert "长" * 2001 in resp.get_data(as_text=True)
    resp = client.post(f"/portal/case/{number}/supplement", data={"text": "  "})
    assert resp.status_code == 422 and "请填写补充说明或选择附件" in error_at(resp.get_data(as_text=True), "text")
    resp = client.post(f"/portal/case/{number}/supplement", content_type="multipart/form-data",
                       data={"text": "再补充一份", "attachments": [(io.BytesIO(b"\x00\x01\x02binary"), "x.bin")]})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "不支持的文件类型" in error_at(page, "attachments") and "再补充一份" in page


def test_an_unsatisfied_rating_takes_the_redo_path_and_rates_once(client, portal, api):
    number, code, _ = receipt(client, post_form(client))
    case = the_case(number)
    walk_to_callback(api, case.id)
    page = looked_up(client, number, code)
    assert "付款单位已承诺并按计划付清全部款项" in page and "已答复，等待回访评价" in page and "提交评价" in page
    # the case limit now: 15 working days for a complaint at the 发改局 platform, from receipt
    from app.deadlines import due
    received = the_case(number).created_at
    expected = due.compute(due.deadline_for({}, "15WD", received), due.get_calendar()).due_at
    from app.web.filters import local_time
    assert f'<dt>办理期限</dt><dd id="due">{local_time(expected)} 前</dd>' in page
    # 不满意 needs its reason
    resp = client.post(f"/portal/case/{number}/rating", data={"rating": "2", "comment": "没"})
    assert resp.status_code == 422 and "至少 5 个字" in error_at(resp.get_data(as_text=True), "comment")
    resp = client.post(f"/portal/case/{number}/rating", data={"rating": "2", "comment": "款项至今只付了一半，未解决。"})
    assert resp.status_code == 303
    assert "重新办理" in client.get(resp.headers["Location"]).get_data(as_text=True)
    # the same 重办并提级督办 path as an unsatisfied call-back: back at 调查处置 for the same unit, escalated
    [task] = tasks_of(case.id)
    assert (task.bpmn_id, task.candidate_groups) == ("handle", ["jm_scjgj"])
    data = api.get(f"/api/v1/process-instances/{task.instance_id}", user="admin").get_json()["data"]
    assert (data["satisfaction"], data["escalated"], data["redo_count"]) == ("dissatisfied", True, 1)
    assert data["redo_reason"] == "款项至今只付了一半，未解决。"
    resp = client.post(f"/portal/case/{number}/rating", data={"rating": "5"})
    assert resp.status_code == 422 and "已评价" in error_at(resp.get_data(as_text=True), "rating")


def test_a_satisfied_rating_closes_the_case_and_before_the_reply_there_is_none(client, portal, api):
    number, code, _ = receipt(client, post_form(client))
    case = the_case(number)
    looked_up(client, number, code)
    resp = client.post(f"/portal/case/{number}/rating", data={"rating": "5"})
    assert resp.status_code == 422 and "当前不在评价阶段" in error_at(resp.get_data(as_text=True), "rating")
    walk_to_callback(api, case.id)
    [callback] = tasks_of(case.id)
    assert api.post(f"/api/v1/tasks/{callback.id}/claim", user="callback1").status_code == 200
    resp = client.post(f"/portal/case/{number}/rating", data={"rating": "5", "comment": "很及时"})
    assert resp.status_code == 303, re.findall(r'role="alert"[^>]*>([^<]+)<', resp.get_data(as_text=True))
    db.session.expire_all()
    assert the_case(number).status == "closed" and tasks_of(case.id) == []
    page = client.get(f"/portal/case/{number}").get_data(as_text=True)
    assert "已办结" in page and "非常满意" in page and "提交补充材料" not in page


# --- nothing leaks ------------------------------------------------------------------------------------

def test_no_public_response_leaks_the_reporter_or_the_staff(client, portal, api):
    """A confidential report, walked to the reply by staff with notes and comments: every public answer
    (the form, the receipt, the track page, the supplement and rating answers) is scanned."""
    from app.auth.models import User
    secret = {"name": "黄伟明", "phone": "13900000002", "id": "440705197407256475"}
    responses = []
    resp = post_form(client, appeal_type="complaint", complainant_name=secret["name"], phone=secret["phone"],
                     id_type="居民身份证", id_number=secret["id"], hide_identity="1")
    responses.append(resp)
    number, code, page = receipt(client, resp)
    responses.append(page)
    case = the_case(number)
    assert case.is_confidential
    # staff write internal notes and comments on the case
    staff = [u.display_name for u in db.session.execute(sa.select(User)).scalars()]
    login = portal.test_client()
    with portal.app_context():   # a context of its own, as in production (Flask-Login caches the user in g)
        login.post("/login", data={"username": "intake1", "password": "demo12345"})
        assert login.post(f"/cases/{case.id}/comments", data={"body": "内部备注：请勿外传"}).status_code == 303
    walk_to_callback(api, case.id)
    lookup = client.post("/portal/track", data={"case_number": number, "code": code})
    responses += [lookup, client.get(lookup.headers["Location"])]
    responses.append(client.post(f"/portal/case/{number}/supplement", data={"text": ""}))   # refused answer
    sup = client.post(f"/portal/case/{number}/supplement", data={"text": "补充一张照片"})
    responses += [sup, client.get(sup.headers["Location"])]
    responses.append(client.post(f"/portal/case/{number}/rating", data={"rating": "1", "comment": "no"}))
    rated = client.post(f"/portal/case/{number}/rating", data={"rating": "1", "comment": "完全没有解决问题"})
    responses += [rated, client.get(rated.headers["Location"])]
    bodies = [r if isinstance(r, str) else r.get_data(as_text=True) + str(dict(r.headers)) for r in responses]
    assert len(bodies) == 10
    # the signed session cookie is readable by its holder: what it carries is scanned too
    serializer = portal.session_interface.get_signing_serializer(portal)
    bodies.append(str(serializer.loads(client.get_cookie("session").value)))
    page = bodies[3]
    assert "付款单位已承诺" in page and "提交评价" in page   # the track page shows the reply
    assert "重新办理" in bodies[-2]
    forbidden = [secret["name"], secret["phone"], secret["id"], secret["phone"][-4:] + "<", "内部核查", "王小明",
                 "内部意见", "内部备注", "已调取合同", "约谈付款单位", "李受理", "黄经办", *staff]
    for i, body in enumerate(bodies):
        for word in forbidden:
            assert word not in body, (i, word)
