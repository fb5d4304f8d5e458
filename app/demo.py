"""Demo cases for `flask seed demo`: the three processes in every state, from the DOMAIN §6 samples.

Each case is driven through the same services as the pages and the API (start, complete, fire
timers), on an application clock set back in time, so its history, due dates, SLA colours and
deadline jobs are what real work would have produced: some cases are fresh, some due soon, some
overdue, some closed with ratings. Runs once: nothing is created when cases already exist.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app.auth.models import User
from app.cases.models import Case
from app.db import set_clock, utcnow
from app.extensions import db
from app.processes.running import fire_instance_timers, start_process
from app.tasks import services as tasks
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus

# --- DOMAIN §6 samples ------------------------------------------------------------------------------
SME = {"channel": "sme_platform", "appeal_type": "complaint", "urgency": "normal", "complainant_name": "梁志强",
       "id_type": "居民身份证", "id_number": "440703197211142916", "phone": "13800000001",
       "company_name": "江门市蓬江区示例五金制品有限公司", "uscc": "91440703MAKLKB3T82", "district": "蓬江区",
       "town": "棠下镇", "category": ["拖欠账款"], "title": "某镇政府工程尾款逾期未付",
       "content": "2025年6月交付围墙改造工程，合同约定验收后30日付款，至今未付48.6万元。",
       "respondent_org": "某镇人民政府", "amount": 486000.0}
CONSULT = {"channel": "hotline_12345", "appeal_type": "consult", "urgency": "normal", "complainant_name": "陈颖",
           "id_type": "居民身份证", "id_number": "44070419880306182X", "phone": "0750-3271234",
           "company_name": "江门市江海区示例电子科技有限公司", "uscc": "91440704MAMM04DN9H", "district": "江海区",
           "category": ["惠企政策兑现"], "title": "技改补贴申报截止时间", "content": "咨询技改补贴申报截止时间及所需材料。"}
REPORT = {"channel": "lianzheng_web", "appeal_type": "report", "urgency": "normal", "anonymous": False,
          "hide_identity": True, "complainant_name": "黄伟明", "id_type": "居民身份证", "id_number": "440705197407256475",
          "phone": "13900000002", "company_name": "江门市新会区示例陈皮食品有限公司", "uscc": "91440705MAQ6QQN17D",
          "district": "新会区", "category": ["作风效能(吃拿卡要/推诿)"], "title": "执法人员暗示指定检测机构",
          "content": "反映某执法人员在检查中暗示指定检测机构。", "respondent_person": "某执法人员"}
MARKET = {**{k: v for k, v in CONSULT.items() if k not in ("company_name", "uscc")}, "appeal_type": "complaint", "category": ["市场秩序"], "title": "商场经营者强制搭售",
          "content": "某商场经营者在销售家电时强制搭售延保服务。", "complainant_name": "区美玲", "phone": "13712345678",
          "id_number": "440703199001011829", "district": "蓬江区"}
WAGES = {**CONSULT, "appeal_type": "help", "category": ["用工招工"], "title": "招用技术工人的补贴政策",
         "content": "企业扩产需招用 30 名技术工人，咨询招工补贴和用工对接渠道。", "district": "新会区"}

ASSESS = {"urgency": "normal", "appeal_type": "complaint", "primary_category": "拖欠账款", "misconduct": False,
          "kb_answerable": False}
SIGN = {"sign_action": "sign", "signer": "黄经办"}
CONTACT = {"contact_method": "电话", "initial_opinion": "已联系诉求人，了解情况后三日内核查。"}
HANDLE = {"investigation": "已调取合同、验收单和付款审批记录。", "measures": "约谈付款单位，明确付款计划。",
          "on_site": False, "need_extension": False}
REPLY = {"result_code": "resolved", "reply_text": "付款单位已承诺并按计划付清全部款项。", "reply_method": "电话"}
SIGN_OFF = {"sign_off_decision": "approve", "sign_off_opinion": "同意答复。"}

TRANSPORT = {"company_name": "鹤山市示例顺达物流有限公司", "uscc": "91440784MA9QK8KL7L", "district": "鹤山市",
             "freight_scope": ["普通货运"],
             "vehicles": [{"plate_no": "粤J·D5821", "vehicle_type": "重型厢式货车", "gross_mass_kg": 18000}],
             "drivers": [{"name": "何家豪", "id_number": "440784198405193570", "age": 41}],
             "commitment_signed": True, "bundle_options": {"seal": True, "invoice": True}}
DISPUTE = {"source": "综治中心窗口", "dispute_type": "合同", "title": "建材货款纠纷",
           "applicants": [{"type": "企业", "name": "台山市示例建材有限公司", "uscc": "91440781MAHY40XE5Q",
                           "phone": "0750-3271234"}],
           "respondents": [{"type": "企业", "name": "某建筑工程公司"}],
           "amount": 215000, "headcount": 3, "district": "台山市", "town": "冲蒌镇",
           "content": "双方因建材供货合同质量争议，货款 21.5 万元未结清。"}
GRADE = {"risk_level": "蓝", "complexity": "简单", "major_emergency": False}
MEDIATED = {"mediation_org": "冲蒌镇某村人民调解委员会", "mediator": "李调解", "method": "背靠背",
            "mediation_record": "释法说理，双方同意分期结清。", "outcome": "成功"}
AGREEMENT = {"agreement_no": "台冲调字〔2026〕第12号", "agreement_content": "被申请方分两期支付货款 21.5 万元。",
             "performance_method": "银行转账", "performance_deadline": "2026-12-31",
             "judicial_confirmation_wanted": False}


class _Driver:
    """Drive one case through the services as the users of each step, at a chosen time."""

    def __init__(self, key: str, data: dict, starter: str, at: datetime):
        self.key = key
        self.at = at
        self._clock(at)
        instance, case = start_process(key, data, _user(starter))
        self.instance_id, self.case_number = instance.id, case.number

    def _clock(self, at: datetime) -> None:
        self.at = at
        set_clock(lambda: at)

    def step(self, bpmn_id: str, data: dict, after: timedelta = timedelta(minutes=30)) -> _Driver:
        self._clock(self.at + after)
        task = db.session.execute(sa.select(HumanTask).where(
            HumanTask.instance_id == self.instance_id, HumanTask.bpmn_id == bpmn_id,
            HumanTask.status == TaskStatus.READY).order_by(HumanTask.id).limit(1)).scalar_one()
        tasks.complete_task(task.id, data, _member_of(task))
        return self

    def timers(self, after: timedelta) -> _Driver:
        self._clock(self.at + after)
        fire_instance_timers(self.instance_id)
        return self


def _user(username: str) -> User:
    return db.session.execute(sa.select(User).where(User.username == username)).scalar_one()


def _member_of(task: HumanTask) -> User:
    """A caseworker in one of the task's groups (not a supervisor; the admin when none)."""
    groups = set(db.session.execute(sa.select(HumanTaskCandidate.group_name).where(
        HumanTaskCandidate.task_id == task.id)).scalars())
    for user in db.session.execute(sa.select(User).order_by(User.id)).scalars():
        if user.group_names & groups and not user.is_admin and not user.has_role("supervisor"):
            return user
    return _user("admin")


def _complaint_to_unit(data, at, unit="jm_scjgj", assess=None) -> _Driver:
    d = _Driver("complaint", data, "intake1", at)
    d.step("register", {**data, "in_scope": True}).step("assess", {**ASSESS, **(assess or {})})
    return d.step("dispatch", {"handler_org": unit})


def _contact(d: _Driver) -> dict:
    return {**CONTACT, "contact_time": d.at.isoformat(timespec="seconds")}


def _complaints(now: datetime) -> list[_Driver]:
    made = []
    # 1. fresh from the 12345 hotline, waiting for registration
    made.append(_Driver("complaint", CONSULT, "intake1", now - timedelta(minutes=40)))
    # 2. SME demand, six and a half days in: being handled, due in half a day (orange)
    d = _complaint_to_unit(SME, now - timedelta(days=6, hours=12))
    d.step("sign_in", SIGN, timedelta(minutes=20)).step("first_contact", _contact(d), timedelta(minutes=20))
    made.append(d)
    # 3. dispatched four working days ago and never signed in: the sign-in is overdue (red)
    made.append(_complaint_to_unit({**MARKET}, now - timedelta(days=6), unit="pj_gov",
                                   assess={"appeal_type": "complaint", "primary_category": "市场秩序"}))
    # 4. an extension waiting for the unit head's approval
    d = _complaint_to_unit({**SME, "title": "厂区用电增容审批迟迟未办", "category": ["水电气网"],
                            "content": "申请用电增容三个月未获答复，影响新生产线投产。", "channel": "hotline_12345"},
                           now - timedelta(days=9), assess={"primary_category": "水电气网"})
    d.step("sign_in", SIGN).step("first_contact", _contact(d))
    d.step("handle", {**HANDLE, "need_extension": True, "extension_reason": "需供电部门现场勘查线路容量。",
                      "extension_days": 5, "work_done": "已调取申请材料并联系供电局。"}, timedelta(days=2))
    made.append(d)
    # 5. a returned ticket waiting for the dispatcher's review
    d = _complaint_to_unit(WAGES, now - timedelta(hours=20), unit="jm_rsj",
                           assess={"appeal_type": "help", "primary_category": "用工招工"})
    d.step("sign_in", {"sign_action": "return", "signer": "谢经办", "return_reason": "职能不符",
                       "return_basis": "招工补贴由发改部门牵头兑现（惠企政策）。", "suggested_org": "jm_fgj"})
    made.append(d)
    # 6. the reporter's complaint at the discipline commission, under assessment
    d = _Driver("complaint", REPORT, "intake1", now - timedelta(days=5))
    d.step("jw_register", {"jw_screening": "accept", "real_name": True, "jw_register_note": "首次举报，转监督检查室。"})
    d.step("jw_accept_notice", {"notice_method": "电话", "notice_text": "您的举报已受理。"}, timedelta(days=1))
    made.append(d)
    # 7-8. closed with ratings: satisfied, and dissatisfied but lawfully explained
    for satisfaction, extra, days in (("satisfied", {}, 20), ("dissatisfied", {
            "dissatisfaction_reason": "希望全额利息补偿", "complaint_reasonable": False}, 14)):
        d = _complaint_to_unit({**SME, "title": f"工程款拖欠（{'已解决' if satisfaction == 'satisfied' else '依法解释'}）"},
                               now - timedelta(days=days))
        d.step("sign_in", SIGN).step("first_contact", _contact(d)).step("handle", HANDLE, timedelta(days=1))
        d.step("reply", REPLY).step("sign_off", SIGN_OFF).step("qa", {"qa_result": "pass"})
        d.step("callback", {"contacted": True, "resolved": satisfaction == "satisfied", "satisfaction": satisfaction,
                            **extra}, timedelta(days=1))
        made.append(d)
    # 9. out of scope: already in court
    d = _Driver("complaint", {**CONSULT, "title": "合同纠纷已起诉"}, "intake1", now - timedelta(days=3))
    d.step("register", {**CONSULT, "title": "合同纠纷已起诉", "in_scope": False,
                        "out_of_scope_reason": "已进入诉讼、仲裁、行政复议或信访程序",
                        "out_of_scope_advice": "该纠纷已由法院受理，请向审理法院反映。"})
    made.append(d)
    return made


def _transport(now: datetime) -> list[_Driver]:
    made = [_Driver("one_thing_transport", TRANSPORT, "applicant1", now - timedelta(hours=3))]   # at pre-check
    d = _Driver("one_thing_transport", {**TRANSPORT, "company_name": "开平市示例通达货运有限公司",
                                        "uscc": "91440783MA4UJ2XX1B"}, "applicant1", now - timedelta(days=2))
    d.step("precheck", {"materials_complete": True}).step("accept", {
        "acceptance_no": "KP-YSQY-001", "commitment_signed": True})
    made.append(d)   # registration and the bundled items in parallel
    return made


def _disputes(now: datetime) -> list[_Driver]:
    made = []
    d = _Driver("dispute_escalation", DISPUTE, "dispute1", now - timedelta(days=2))
    d.step("grade", GRADE)
    made.append(d)   # at the village level, due in five days
    d = _Driver("dispute_escalation", {**DISPUTE, "title": "厂房租金纠纷", "dispute_type": "相邻"}, "dispute1",
                now - timedelta(days=10))
    d.step("grade", GRADE).timers(timedelta(days=8))
    made.append(d)   # the village let its seven days lapse: escalated to the town automatically
    d = _Driver("dispute_escalation", {**DISPUTE, "title": "装修款纠纷（已调解）"}, "dispute1", now - timedelta(days=12))
    d.step("grade", GRADE).step("mediate_village", MEDIATED, timedelta(days=2)).step("agreement", AGREEMENT)
    d.step("follow_up", {"performance": "已履行", "follow_up_note": "已全额支付。"}, timedelta(days=5))
    made.append(d)
    return made


def seed_demo_cases() -> list[str]:
    """Create the demo cases once. Returns a line per case; none when cases exist already."""
    if db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one():
        return []
    now = utcnow()
    made = []
    try:
        for build in (_complaints, _transport, _disputes):
            made.extend(build(now))
    finally:
        set_clock(None)
    lines = []
    for d in made:
        case = db.session.execute(sa.select(Case).where(Case.number == d.case_number)).scalar_one()
        open_steps = db.session.execute(sa.select(HumanTask.name).where(
            HumanTask.instance_id == d.instance_id, HumanTask.status == TaskStatus.READY)).scalars().all()
        lines.append(f"{case.number}  {d.key:<20} {case.status:<6} {'、'.join(open_steps) or '（已办结）'}")
    return lines
