"""开办运输企业“一件事” (DOMAIN §3): every gateway branch driven through the JSON API, user by user."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

CST = timezone(timedelta(hours=8))
PROJECT = Path(__file__).resolve().parents[2]
MONDAY = datetime(2025, 11, 3, 10, 0, tzinfo=CST)

# (group name, title = lane name); 回访员 (callback) comes with the demo seed
GROUPS = [
    ("applicant", "申请人"),
    ("onething_window", "一件事综合窗口"),
    ("market_regulation", "市场监管"),
    ("transport", "交通运输"),
    ("public_security_seal", "公安（印章刻制）"),
    ("tax_invoice", "税务（发票）"),
    ("social_insurance", "人社/医保/公积金"),
    ("bank_account_opening", "银行（开户）"),
]
LANE_GROUP = {
    "precheck": "onething_window", "supplement": "applicant", "accept": "onething_window",
    "registration": "market_regulation", "substantive_review": "transport", "freight_licence": "transport",
    "vehicle_certificate": "transport", "seal": "public_security_seal", "invoice": "tax_invoice",
    "social_security": "social_insurance", "housing_fund": "social_insurance",
    "bank_account": "bank_account_opening", "handout": "onething_window", "delivery": "onething_window",
    "rating": "callback", "rectify": "onething_window", "recheck": "callback", "post_check": "transport",
}
USER = {group: f"{group}1" for group, _ in GROUPS} | {"callback": "callback1"}

# DOMAIN §6.2 sample
SAMPLE = {"company_name": "鹤山市示例顺达物流有限公司", "uscc": "91440784MA9QK8KL7L", "district": "鹤山市",
          "freight_scope": ["普通货运"],
          "vehicles": [{"plate_no": "粤J·D5821", "vehicle_type": "重型厢式货车", "gross_mass_kg": 18000}],
          "drivers": [{"name": "何家豪", "id_number": "440784198405193570", "age": 41}],
          "commitment_signed": True, "bundle_options": {"seal": True, "invoice": True}}
TWO_HEAVY_ONE_LIGHT = [
    {"plate_no": "粤J·D5821", "vehicle_type": "重型厢式货车", "gross_mass_kg": 18000, "tech_grade": "一级"},
    {"plate_no": "粤J·E3307", "vehicle_type": "中型栏板货车", "gross_mass_kg": 9800, "tech_grade": "二级"},
    {"plate_no": "粤J·F1126", "vehicle_type": "轻型厢式货车", "gross_mass_kg": 4495},
]
LIGHT_ONLY = [{"plate_no": "粤J·F1126", "vehicle_type": "轻型厢式货车", "gross_mass_kg": 4495},
              {"plate_no": "粤J·F1127", "vehicle_type": "轻型封闭货车", "gross_mass_kg": 4500}]


def day_end(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=CST)


@pytest.fixture
def clock(clock):
    """The shared application clock, starting at MONDAY."""
    clock.set(MONDAY)
    return clock


@pytest.fixture
def ot(seeded, app, clock):
    """The lane groups, one user each, and the process deployed again so its lanes resolve to them."""
    from app.auth.services import create_or_update_user, ensure_group
    from app.extensions import db
    from app.processes.deploy import deploy_file
    for name, title in GROUPS:
        group = ensure_group(name, title, "lane")
        create_or_update_user(USER[name], "demo12345", f"{title} 测试用户", [group])
    db.session.commit()
    outcomes = deploy_file(PROJECT / "bpmn" / "one_thing_transport.bpmn")
    assert all(not o.problems for o in outcomes), [str(p) for o in outcomes for p in o.problems]
    assert all(not o.warnings for o in outcomes), [o.warnings for o in outcomes]
    return outcomes


class Case:
    def __init__(self, api, data, user="applicant1"):
        self.api = api
        resp = api.post("/api/v1/process-definitions/one_thing_transport/start", user=user, json={"data": data})
        assert resp.status_code == 201, resp.get_json()
        self.id = resp.get_json()["instance"]["id"]

    def inst(self):
        resp = self.api.get(f"/api/v1/process-instances/{self.id}", user="admin")
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def open(self, bpmn_id=None):
        tasks = self.inst()["open_tasks"]
        return [t for t in tasks if bpmn_id is None or t["bpmn_id"] == bpmn_id]

    def open_ids(self):
        return sorted(t["bpmn_id"] for t in self.open())

    def complete(self, bpmn_id, data, task=None, due=None, due_step=None):
        """Complete the one open task with this bpmn id as a member of its lane's group."""
        if task is None:
            found = self.open(bpmn_id)
            assert len(found) == 1, (bpmn_id, self.open_ids())
            task = found[0]
        group = LANE_GROUP[bpmn_id]
        assert task["candidate_groups"] == [group], (bpmn_id, task["candidate_groups"])
        row = db_task(task["id"])
        if due_step is None:
            assert row.due_at is None and row.deadline is None, (bpmn_id, row.deadline)
        else:
            assert row.deadline["steps"] == [due_step], (bpmn_id, row.deadline)
            assert row.due_at == due, (bpmn_id, row.due_at)
        # nobody outside the group may complete it
        outsider = "onething_window1" if group != "onething_window" else "transport1"
        refused = self.api.post(f"/api/v1/tasks/{task['id']}/complete", user=outsider, json={"data": data})
        assert refused.status_code in (403, 404), refused.get_json()
        resp = self.api.post(f"/api/v1/tasks/{task['id']}/complete", user=USER[group], json={"data": data})
        assert resp.status_code == 200, (bpmn_id, resp.get_json())
        return task

    def completions(self):
        return [h["bpmn_id"] for h in self.inst()["history"] if h["action"] == "complete"]


def db_task(task_id):
    from app.extensions import db
    from app.tasks.models import HumanTask
    db.session.expire_all()
    return db.session.get(HumanTask, task_id)


def _accept(case, commitment=True):
    case.complete("accept", {"acceptance_no": "HS-YSQY-20251103-001", "commitment_signed": commitment})


def _finish_common(case, certificates, rating="满意", comment=None):
    case.complete("handout", {"certificates": certificates})
    case.complete("delivery", {"delivery_method": "邮寄送达", "tracking_no": "EMS1234567890"},
                  due=day_end(2025, 11, 17), due_step="10WD")
    data = {"rating": rating} | ({"rating_comment": comment} if comment else {})
    case.complete("rating", data)


# --- G-B1: scope ---------------------------------------------------------------------------

@pytest.mark.parametrize("scope", [["普通货运", "危险货物运输"], ["危险货物运输"], ["大型物件运输", "危险货物运输"]])
def test_dangerous_goods_are_refused_by_the_form_saying_where_to_apply(ot, api, scope):
    """Issue #12: ticking 危险货物运输 (with 普通货运 or alone) made a case that ended at once, green
    已办结, the applicant told nothing. It is outside the bundle (city level, 道路运输条例 §24): the
    start form refuses it at the field, saying where to apply, and no case is made."""
    from app.cases.models import Case as CaseRow
    from app.extensions import db
    from app.processes.models import ProcessInstance
    resp = api.post("/api/v1/process-definitions/one_thing_transport/start", user="applicant1",
                    json={"data": {**SAMPLE, "freight_scope": scope}})
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    fields = body["fields"] if "fields" in body else body["error"]["fields"]
    assert list(fields) == ["freight_scope"], fields
    [message] = fields["freight_scope"]
    assert message.startswith("申请经营范围：") and "危险货物运输" in message and "市级交通运输主管部门" in message
    assert db.session.query(ProcessInstance).count() == 0 and db.session.query(CaseRow).count() == 0


@pytest.mark.parametrize("scope", [["普通货运"], ["货物专用运输（冷藏保鲜）", "大型物件运输"],
                                   ["普通货运", "货物专用运输（罐式）", "货物专用运输（集装箱）"]])
def test_every_scope_the_form_accepts_goes_to_a_person_first(ot, api, scope):
    """Whatever the form accepts, the window's 收件预审 has the case next: no path ends unseen."""
    case = Case(api, {**SAMPLE, "freight_scope": scope})
    inst = case.inst()
    assert inst["status"] == "running" and case.open_ids() == ["precheck"]
    assert inst["data"]["freight_scope"] == scope


def test_all_vehicles_up_to_4500_kg_need_registration_only(ot, api):
    case = Case(api, {**SAMPLE, "vehicles": LIGHT_ONLY, "bundle_options": {}})
    assert case.open_ids() == ["precheck"]
    case.complete("precheck", {"materials_complete": True}, due=day_end(2025, 11, 10), due_step="5WD")
    _accept(case)
    case.complete("registration", {"uscc": "91440784MA9QK8KL7L"}, due=day_end(2025, 11, 6), due_step="3WD")
    # no licence, no vehicle certificates, no bundled items: straight to the hand-out
    assert case.open_ids() == ["handout"]
    _finish_common(case, ["营业执照"])
    inst = case.inst()
    assert inst["status"] == "completed"
    data = inst["data"]
    assert data["needs_permit"] is False and data["heavy_vehicles"] == [] and data["bundle_items"] == []
    assert "licence_no" not in data and "vehicle_certificates" not in data and "findings" not in data
    assert data["bundle_limit"] == "5WD" and data["bundle_started_at"] and data["certificates_issued_at"]
    assert case.completions() == ["precheck", "accept", "registration", "handout", "delivery", "rating"]


# --- fast path: 补正 loop, 告知承诺, multi-instance, two bundled items, bad rating, post-check ---------

def test_fast_path_with_supplement_per_vehicle_certificates_bundle_rectification_and_post_check(ot, api):
    case = Case(api, {**SAMPLE, "agent_name": "何家豪", "agent_mobile": "13800000001"})
    case.complete("precheck", {"materials_complete": False, "missing_items": "缺少车辆 粤J·E3307 的行驶证和技术等级评定结论。"},
                  due=day_end(2025, 11, 10), due_step="5WD")
    assert case.open_ids() == ["supplement"]
    detail = api.get(f"/api/v1/tasks/{case.open('supplement')[0]['id']}", user="applicant1").get_json()
    assert "粤J·E3307" in detail["instructions"]
    case.complete("supplement", {"supplement_note": "补充第二辆车及行驶证、技术等级评定结论。",
                                 "vehicles": TWO_HEAVY_ONE_LIGHT})
    # back through classification: the new vehicle list is re-read
    assert case.open_ids() == ["precheck"]
    case.complete("precheck", {"materials_complete": True}, due=day_end(2025, 11, 10), due_step="5WD")
    _accept(case, commitment=True)
    case.complete("registration", {"uscc": "91440784MA9QK8KL7L"}, due=day_end(2025, 11, 6), due_step="3WD")
    # the licence chain and the two chosen bundled items run in parallel; no normal review
    assert case.open_ids() == ["freight_licence", "invoice", "seal"]
    case.complete("seal", {"seal_filing_no": "JM-YZ-2025-1103"}, due=day_end(2025, 11, 4), due_step="1WD")
    case.complete("freight_licence", {"licence_no": "粤交运管许可江字440784000123号"},
                  due=day_end(2025, 11, 10), due_step="5WD")
    # one certificate task per heavy vehicle, each with its own vehicle
    certs = case.open("vehicle_certificate")
    assert len(certs) == 2
    by_plate = {}
    for task in certs:
        detail = api.get(f"/api/v1/tasks/{task['id']}", user="transport1").get_json()
        by_plate[detail["data"]["vehicle"]["plate_no"]] = (task, detail)
    assert sorted(by_plate) == ["粤J·D5821", "粤J·E3307"]
    assert by_plate["粤J·E3307"][1]["data"]["vehicle"]["gross_mass_kg"] == 9800
    assert "粤J·E3307" in by_plate["粤J·E3307"][1]["instructions"]
    # complete in reverse order; one is refused
    case.complete("vehicle_certificate", {"approved": False, "deny_reason": "技术等级评定结论已过期。"},
                  task=by_plate["粤J·E3307"][0], due=day_end(2025, 11, 10), due_step="5WD")
    assert case.open_ids() == ["invoice", "vehicle_certificate"]
    case.complete("vehicle_certificate", {"approved": True, "certificate_no": "粤交运管江字440784100001号"},
                  task=by_plate["粤J·D5821"][0], due=day_end(2025, 11, 10), due_step="5WD")
    assert case.open_ids() == ["invoice"]       # the parallel join waits for the bundled items
    case.complete("invoice", {"invoice_type": "数电发票（普通发票）"}, due=day_end(2025, 11, 4), due_step="1WD")
    assert case.open_ids() == ["handout"]
    _finish_common(case, ["营业执照", "道路运输经营许可证", "道路运输证（粤J·D5821）", "印章", "发票"],
                   rating="不满意", comment="现场领取时排队时间过长。")
    # bad rating → 整改 (15 WD); the fast path → post-check (60 CD), in parallel
    assert case.open_ids() == ["post_check", "rectify"]
    case.complete("rectify", {"rectification": "增设“一件事”专窗取件通道，已电话致歉。"},
                  due=day_end(2025, 11, 24), due_step="15WD")
    case.complete("recheck", {"recheck_satisfied": True})
    post = db_task(case.open("post_check")[0]["id"])
    assert post.deadline["steps"] == ["60CD"]
    assert post.due_at.astimezone(CST).date() >= (MONDAY + timedelta(days=60)).date()
    case.complete("post_check", {"commitment_fulfilled": True, "findings": "现场核查安全生产管理制度已建立。",
                                 "post_check_action": "无需处理"}, due=post.due_at, due_step="60CD")
    inst = case.inst()
    assert inst["status"] == "completed" and inst["open_tasks"] == []
    data = inst["data"]
    assert [v["plate_no"] for v in data["heavy_vehicles"]] == ["粤J·D5821", "粤J·E3307"]
    assert sorted(data["vehicle_certificates"], key=lambda c: c["plate_no"]) == [
        {"plate_no": "粤J·D5821", "approved": True, "certificate_no": "粤交运管江字440784100001号", "deny_reason": None},
        {"plate_no": "粤J·E3307", "approved": False, "certificate_no": None, "deny_reason": "技术等级评定结论已过期。"}]
    assert "vehicle" not in data and "vehicle_result" not in data
    assert data["bundle_items"] == ["seal", "invoice"]
    assert data["seal_filing_no"] == "JM-YZ-2025-1103" and data["invoice_type"] == "数电发票（普通发票）"
    assert "social_security_no" not in data and "bank_name" not in data
    assert data["licence_no"] == "粤交运管许可江字440784000123号" and "review_opinion" not in data
    assert data["rating"] == "不满意" and data["recheck_satisfied"] is True
    assert data["commitment_fulfilled"] is True
    done = case.completions()
    assert done[:5] == ["precheck", "supplement", "precheck", "accept", "registration"]
    assert done.count("vehicle_certificate") == 2 and "substantive_review" not in done
    assert done[-4:] == ["rating", "rectify", "recheck", "post_check"]


# --- normal path: no commitment, review, no bundled items, good rating, no post-check ---------------

def test_normal_path_reviews_before_the_licence_and_skips_the_post_check(ot, api):
    case = Case(api, {**SAMPLE, "commitment_signed": False, "bundle_options": {}})
    case.complete("precheck", {"materials_complete": True}, due=day_end(2025, 11, 10), due_step="5WD")
    _accept(case, commitment=False)
    case.complete("registration", {"uscc": "91440784MA9QK8KL7L"}, due=day_end(2025, 11, 6), due_step="3WD")
    assert case.open_ids() == ["substantive_review"]     # inclusive gateway took its default: nothing bundled
    case.complete("substantive_review", {"review_opinion": "材料齐全，符合许可条件。", "site_inspection": True},
                  due=day_end(2025, 11, 10), due_step="5WD")
    case.complete("freight_licence", {"licence_no": "粤交运管许可江字440784000124号"},
                  due=day_end(2025, 11, 10), due_step="5WD")
    task = case.open("vehicle_certificate")
    assert len(task) == 1
    case.complete("vehicle_certificate", {"approved": True, "certificate_no": "粤交运管江字440784100002号"},
                  due=day_end(2025, 11, 10), due_step="5WD")
    _finish_common(case, ["营业执照", "道路运输经营许可证", "道路运输证（粤J·D5821）"], rating="非常满意")
    inst = case.inst()
    assert inst["status"] == "completed" and inst["open_tasks"] == []
    data = inst["data"]
    assert data["vehicle_certificates"] == [{"plate_no": "粤J·D5821", "approved": True,
                                             "certificate_no": "粤交运管江字440784100002号", "deny_reason": None}]
    assert data["bundle_items"] == [] and data["review_opinion"] == "材料齐全，符合许可条件。"
    assert "findings" not in data and "rectification" not in data
    assert case.completions() == ["precheck", "accept", "registration", "substantive_review", "freight_licence",
                                  "vehicle_certificate", "handout", "delivery", "rating"]


def test_the_start_form_checks_ids_and_driver_age(ot, api):
    bad = {**SAMPLE, "uscc": "91440784MA9QK8KL7X",
           "drivers": [{"name": "何家豪", "id_number": "440784198405193571", "age": 61}]}
    resp = api.post("/api/v1/process-definitions/one_thing_transport/start", user="applicant1", json={"data": bad})
    assert resp.status_code == 422
    fields = resp.get_json()["fields"] if "fields" in resp.get_json() else resp.get_json()["error"]["fields"]
    assert "uscc" in fields and any("id_number" in k for k in fields) and any("age" in k for k in fields)


def case_row(instance_id):
    from app.cases.models import Case as CaseRow
    from app.extensions import db
    from app.processes.models import ProcessInstance
    db.session.expire_all()
    return db.session.get(CaseRow, db.session.get(ProcessInstance, instance_id).case_id)


def test_the_case_row_follows_the_application_and_the_registration(ot, api):
    # a company still to be registered has no USCC yet
    case = Case(api, {**{k: v for k, v in SAMPLE.items() if k != "uscc"}, "vehicles": LIGHT_ONLY, "bundle_options": {}})
    row = case_row(case.id)
    assert (row.company_name, row.district, row.uscc) == (SAMPLE["company_name"], SAMPLE["district"], None)
    assert row.title == f"{SAMPLE['company_name']}：开办运输企业"
    case.complete("precheck", {"materials_complete": True}, due=day_end(2025, 11, 10), due_step="5WD")
    _accept(case)
    case.complete("registration", {"uscc": "91440784MA9QK8KL7L"}, due=day_end(2025, 11, 6), due_step="3WD")
    assert case_row(case.id).uscc == "91440784MA9QK8KL7L"   # the new company's USCC, from 营业执照登记
