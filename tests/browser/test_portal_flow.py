"""The public portal on a phone (390×844): a citizen files a complaint with an attachment (a wrong
captcha first: refused at the field, the text kept), keeps the 查询码, tracks the case, adds material,
and, once staff have replied, rates it; every page is checked with axe-core (no serious or critical
violation) and photographed. The captcha's text is fixed for this server by PORTAL_CAPTCHA_FIXED_TEXT,
which the development config reads and production never honours."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, _require_chromium

CAPTCHA = "K7QM"
AXE = ARTIFACTS.parent.parent.parent / "app" / "static" / "vendor" / "axe-core" / "axe.min.js"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SEED = """
from app import create_app
from app.processes.deploy import deploy_folder
from app.seed import seed_demo_users
app = create_app()
with app.app_context():
    seed_demo_users(app.config["DEMO_PASSWORD"])
    problems = [str(p) for o in deploy_folder() for p in o.problems]
    assert not problems, problems
"""


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory):
    _require_chromium()
    server = LiveServer(tmp_path_factory.mktemp("portal"))
    server.env["PORTAL_CAPTCHA_FIXED_TEXT"] = CAPTCHA
    server.flask("db", "upgrade")
    server.python(SEED)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def phone(chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                   is_mobile=True, has_touch=True, timezone_id="Asia/Shanghai")
    context.set_default_timeout(15000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)


def axe(page, name: str) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing (make assets)")
    # from the server's own static files: the CSP refuses an inline script (which path= would inject)
    origin = re.match(r"https?://[^/]+", page.url).group(0)
    page.add_script_tag(url=origin + "/static/vendor/axe-core/axe.min.js")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == [], (name, bad)


def fits_the_phone(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"


def complete(server, bpmn_id: str, user: str, data: dict) -> None:
    """Complete the one open `bpmn_id` task (this server holds the one case filed here) as `user`."""
    tasks = [t for t in server.api("GET", "/api/v1/tasks?scope=group&per_page=100", user).json()["items"]
             if t["bpmn_id"] == bpmn_id]
    assert len(tasks) == 1, (bpmn_id, user, tasks)
    resp = server.api("POST", f"/api/v1/tasks/{tasks[0]['id']}/complete", user, json={"data": data})
    assert resp.status_code == 200, (bpmn_id, resp.text)


def test_file_track_supplement_and_rate_on_a_phone(portal_server, phone, tmp_path):
    base = portal_server.url
    page = phone
    page.goto(base + "/portal")
    assert page.locator("h1").inner_text() == "企业和群众诉求服务"
    fits_the_phone(page)
    axe(page, "index")
    shot(page, "01-index")

    page.click("a.button:has-text('我要反映') >> nth=1")   # 营商环境投诉
    page.wait_for_url(re.compile(r"/portal/ndrc$"))
    page.check('input[name="appeal_type"][value="complaint"]')
    page.fill("#f-complainant_name", "梁志强")
    page.fill("#f-phone", "13800000001")
    page.fill("#f-company_name", "江门市蓬江区示例五金制品有限公司")
    page.fill("#f-uscc", "91440703MAKLKB3T82")
    page.select_option("#f-district", "蓬江区")
    page.check('input[name="category"][value="拖欠账款"]')
    page.fill("#f-title", "某镇政府工程尾款逾期未付")
    page.fill("#f-content", "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。")
    page.fill("#f-captcha", "WRNG")
    fits_the_phone(page)
    axe(page, "form")
    shot(page, "02-form")
    page.click("button[type=submit]:has-text('提交')")
    # refused at the field, in Chinese, everything typed still there
    assert "验证码不正确" in page.locator("#captcha-error").inner_text()
    assert page.locator("#f-content").input_value().startswith("2025年6月交付围墙改造工程")
    assert page.locator("#f-uscc").input_value() == "91440703MAKLKB3T82"
    assert page.locator('input[name="category"][value="拖欠账款"]').is_checked()
    axe(page, "form-refused")
    shot(page, "03-captcha-refused")

    evidence = tmp_path / "合同.pdf"
    evidence.write_bytes(PDF)
    page.set_input_files("#f-attachments", str(evidence))
    page.click("#captcha-refresh")   # a new image (the refused one is used up)
    page.fill("#f-captcha", CAPTCHA.lower())
    page.click("button[type=submit]:has-text('提交')")
    page.wait_for_url(re.compile(r"/portal/done$"))
    number = page.locator("#case-number").inner_text().strip()
    code = page.locator("#query-code").inner_text().strip()
    assert re.fullmatch(r"JM-\d{4}-\d{4}-\d{6}", number) and len(code.replace("-", "")) == 12
    axe(page, "done")
    shot(page, "04-receipt")

    # tracking on another device: the number and the code
    other = page.context.browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},
                                              is_mobile=True, timezone_id="Asia/Shanghai")
    track = other.new_page()
    track.goto(base + "/portal/track")
    track.fill("#f-case_number", number)
    track.fill("#f-code", "WRONGCODE123")
    track.click("button[type=submit]:has-text('查询')")
    assert "案件编号或查询码不正确" in track.locator(".alert.error").inner_text()
    track.fill("#f-code", code)
    track.click("button[type=submit]:has-text('查询')")
    track.wait_for_url(re.compile(r"/portal/case/"))
    assert track.locator("#stage").inner_text() == "已收到，等待受理登记"
    fits_the_phone(track)
    axe(track, "case")
    shot(track, "05-track")

    # 补充材料
    track.fill("#f-text", "补充：付款审批单复印件见附件。")
    track.set_input_files("#f-attachments", str(evidence))
    track.click("button[type=submit]:has-text('提交补充材料')")
    assert "补充材料已提交" in track.locator(".alert.success").inner_text()
    assert "您已补充 1 次材料" in track.content()
    shot(track, "06-supplemented")

    # staff handle it up to the call-back
    from app.demo import ASSESS, CONTACT, HANDLE, REPLY, SIGN, SIGN_OFF
    contact_time = (datetime.now().astimezone() - timedelta(minutes=1)).isoformat(timespec="seconds")
    register = {"channel": "ndrc_bizenv", "appeal_type": "complaint", "complainant_name": "梁志强",
                "phone": "13800000001", "company_name": "江门市蓬江区示例五金制品有限公司",
                "uscc": "91440703MAKLKB3T82", "district": "蓬江区", "category": ["拖欠账款"],
                "title": "某镇政府工程尾款逾期未付",
                "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。", "in_scope": True}
    for bpmn_id, user, data in [("register", "intake1", register), ("assess", "dispatch1", ASSESS),
                                ("dispatch", "dispatch1", {"handler_org": "jm_scjgj"}), ("sign_in", "handler1", SIGN),
                                ("first_contact", "handler1", {**CONTACT, "contact_time": contact_time}),
                                ("handle", "handler1", HANDLE), ("reply", "handler1", REPLY),
                                ("sign_off", "head1", SIGN_OFF), ("qa", "qa1", {"qa_result": "pass"})]:
        complete(portal_server, bpmn_id, user, data)

    track.reload()
    assert track.locator("#stage").inner_text() == "已答复，等待回访评价"
    assert "付款单位已承诺" in track.locator("#reply-text").inner_text()
    track.check('input[name="rating"][value="2"]')
    track.click("button[type=submit]:has-text('提交评价')")
    assert "至少 5 个字" in track.locator("#comment-error").inner_text()
    assert track.locator('input[name="rating"][value="2"]').is_checked()
    axe(track, "rating-refused")
    track.fill("#f-comment", "款项至今只付了一半，问题没有解决。")
    track.click("button[type=submit]:has-text('提交评价')")
    assert "重新办理" in track.locator(".alert.success").inner_text()
    assert track.locator("#stage").inner_text() == "承办单位正在办理"
    assert "不满意" in track.locator("#rating").inner_text()
    axe(track, "rated")
    shot(track, "07-rated")
    # keyboard: the form can be reached and used without a pointer
    page.goto(base + "/portal/track")
    page.keyboard.press("Tab")
    for _ in range(6):
        if page.evaluate("document.activeElement.id") == "f-case_number":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-case_number"
    assert page.errors == []
    other.close()
