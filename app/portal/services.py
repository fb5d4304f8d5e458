"""The public intake portal's business actions: file a 诉求/投诉/举报 (the complaint start form's public
subset, started exactly as a staff start through app/processes/running.start_process and its
validate_form), look a case up by its number and 查询码, add 补充材料, give the 好差评 rating.

Who files through the portal is nobody the system knows: the start is the system's (actor None),
the comments and attachments the reporter adds have no author. A rating given while the 回访 step
waits completes that step with the call-back form's data through the same form validation and engine
step as a 回访员's completion, so an unsatisfied rating takes the diagram's own 重办并提级督办 path.

What the public sees (public_view) is built from a fixed list of facts, never from the case data as a
whole: the status, the stage in words, the due date, and the texts written *for* the reporter (the
不予受理 reason and channel, the reply, a 延期 notice). Each public action is one transaction and commits.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import FileStorage

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.cases.models import Case, CaseStatus
from app.cases.records import Attachment, Comment
from app.cases.uploads import ALLOWED_TEXT, UploadRefused, check_upload
from app.db import utcnow
from app.deadlines import due
from app.errors import AppError, Conflict, FormInvalid, ProcessDefinitionError
from app.extensions import db
from app.notifications.models import NotificationKind
from app.notifications.services import notify, users_in_groups
from app.numbers import whole_number
from app.portal.models import PortalTicket
from app.processes import running
from app.processes.models import InstanceStatus, ProcessInstance
from app.processes.versions import get_bundle, get_latest_definition, validate_form
from app.tasks.models import HumanTask, TaskStatus

PROCESS_KEY = "complaint"
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # 32 symbols, no 0/O or 1/I
CODE_LENGTH = 12                                      # 60 bits: not guessable within any rate limit
SUPPLEMENT_MAX = 2000
SUPPLEMENT_TIMES = 10
RATING_COMMENT_MAX = 500
NOT_FOUND = "案件编号或查询码不正确，请核对后重试"   # the same answer for an unknown case and a wrong code


@dataclass(frozen=True)
class Entry:
    name: str          # the URL part: /portal/<name>
    channel: str       # the complaint start form's channel
    title: str
    intro: str
    appeal_types: tuple[str, ...]


ENTRIES = {
    "lianzheng": Entry("lianzheng", "lianzheng_web", "廉政网网上举报",
                       "反映公职人员在服务企业中吃拿卡要、推诿扯皮、故意刁难等问题，由纪委监委信访室受理。",
                       ("report", "complaint")),
    "ndrc": Entry("ndrc", "ndrc_bizenv", "营商环境投诉",
                  "反映涉企政策兑现、审批服务、执法检查、涉企收费等营商环境问题，由发改局营商环境投诉平台受理。",
                  ("complaint", "report", "consult", "help", "suggestion")),
}
# the form fields a member of the public fills in (the start form's public subset), in order
TEXT_FIELDS = ("complainant_name", "phone", "id_type", "id_number", "company_name", "uscc", "district", "town",
               "title", "content", "respondent_org", "respondent_person")
RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
_SATISFACTION = {5: "satisfied", 4: "satisfied", 3: "basically_satisfied", 2: "dissatisfied", 1: "dissatisfied"}

# the current step in words for the public: never a person, a unit's note or an internal term
STAGES = {
    "register": "已收到，等待受理登记",
    "assess": "已受理，正在研判",
    "kb_answer": "已受理，正在答复",
    "dispatch": "已受理，正在确定承办单位",
    "return_review": "已受理，正在确定承办单位",
    "joint_meeting": "已受理，正在确定承办单位",
    "sign_in": "已转交承办单位，等待签收",
    "first_contact": "承办单位正在办理",
    "handle": "承办单位正在办理",
    "extension_unit": "承办单位正在办理",
    "extension_center": "承办单位正在办理",
    "reply": "承办单位正在答复",
    "sign_off": "答复正在审核",
    "qa": "答复正在审核",
    "callback": "已答复，等待回访评价",
    "jw_register": "已收到，纪检监察机关正在登记",
    "jw_feedback": "已办理完毕，正在反馈",
}
JW_STAGE = "纪检监察机关正在办理"


class PortalRefused(AppError):
    """A portal submission refused, with a message per form field (kept for the re-shown form)."""

    status, code, default_message = 422, "validation_failed", "提交的内容需要修改"


# --- codes --------------------------------------------------------------------------------------------

def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str | None) -> str:
    """What a person typed, as stored: upper case, spaces and dashes dropped."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def shown_code(code: str) -> str:
    """The code as printed for people: groups of four (ABCD-EFGH-JKLM)."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


# --- submitting ------------------------------------------------------------------------------------

@dataclass
class Receipt:
    case_number: str
    code: str


def read_submission(entry: Entry, form) -> dict:
    """The start data a posted portal form gives: the entry's channel, the public fields typed (empty
    ones left out), 匿名 only as asked, 保密 as ticked."""
    data: dict = {"channel": entry.channel}
    appeal_type = (form.get("appeal_type") or "").strip()
    if appeal_type:
        data["appeal_type"] = appeal_type
    for name in TEXT_FIELDS:
        value = (form.get(name) or "").strip()
        if name in ("uscc", "id_number"):   # typed on a phone in lower case: the codes are upper case
            value = value.replace(" ", "").upper()
        if value:
            data[name] = value
    categories = [c for c in form.getlist("category") if c]
    if categories:
        data["category"] = categories
    data["anonymous"] = form.get("anonymous") in ("1", "on", "true")
    data["hide_identity"] = form.get("hide_identity") in ("1", "on", "true")
    if data["anonymous"]:   # an anonymous report keeps no identity, whatever was typed before ticking it
        for name in ("complainant_name", "id_type", "id_number"):
            data.pop(name, None)
    elif not data.get("id_number"):
        data.pop("id_type", None)   # a type without a number says nothing
    return data


def portal_problems(entry: Entry, data: dict) -> dict[str, list[str]]:
    """The portal's own rules over the start form's: the entry's types only, 匿名 only for 举报, a phone
    for everyone who gives a name (the handling unit must be able to answer)."""
    fields: dict[str, list[str]] = {}
    if data.get("appeal_type") and data["appeal_type"] not in entry.appeal_types:
        fields["appeal_type"] = ["请从列出的诉求类型中选择"]
    if data.get("anonymous") and data.get("appeal_type") != "report":
        fields["anonymous"] = ["只有举报可以匿名；投诉、咨询等诉求需要留下姓名和联系电话以便答复"]
    if not data.get("anonymous") and not data.get("phone"):
        fields["phone"] = ["请填写联系电话，以便承办单位联系和答复您"]
    if data.get("id_number") and not data.get("id_type"):
        fields["id_type"] = ["填写证件号码时请选择证件类型"]
    return fields


def check_files(files: list[FileStorage]) -> tuple[list, list[str]]:
    """The uploads checked by content and size (app/cases/uploads.py): (checked, problems in Chinese)."""
    chosen = [f for f in files if f is not None and f.filename]
    limit = current_app.config["PORTAL_MAX_FILES"]
    if len(chosen) > limit:
        return [], [f"最多上传 {limit} 个附件（您选择了 {len(chosen)} 个）"]
    checked, problems = [], []
    for upload in chosen:
        try:
            checked.append(check_upload(upload, current_app.config["PORTAL_MAX_FILE_BYTES"]))
        except UploadRefused as exc:
            problems.append(f"“{upload.filename}”：{exc.message}")
    return checked, problems


def validate_submission(entry: Entry, data: dict) -> dict[str, list[str]]:
    """Every problem of the data at once: the portal's rules and the start form's validation (the same
    validate_form a staff start runs)."""
    fields = portal_problems(entry, data)
    bundle = get_bundle(get_latest_definition(PROCESS_KEY).id)
    try:
        validate_form(bundle, bundle.meta.get("start_form"), data)
    except FormInvalid as exc:
        for path, messages in (exc.fields or {}).items():
            fields.setdefault(path.split("/")[0] or "content", []).extend(messages)
    return fields


def submit(entry: Entry, data: dict, checked_files: list) -> Receipt:
    """Start the complaint process with `data` as a staff start does, keep the checked uploads on the
    case, answer the case number and a new 查询码 (only its hash is kept). Raises PortalRefused,
    ProcessDefinitionError. Commits (the start commits the case; the ticket and the files follow)."""
    try:
        _, case = running.start_process(PROCESS_KEY, data, None)
    except FormInvalid as exc:
        raise PortalRefused(exc.message, fields=exc.fields) from None
    code = new_code()
    now = utcnow()
    db.session.add(PortalTicket(case_id=case.id, code_hash=code_hash(code), entry=entry.name, created_at=now))
    for upload in checked_files:
        db.session.add(_attachment(case.id, upload, now))
    db.session.commit()
    return Receipt(case.number, code)


def _attachment(case_id: int, upload, now: datetime) -> Attachment:
    return Attachment(case_id=case_id, filename=upload.filename, content_type=upload.content_type,
                      size=upload.size, sha256=upload.sha256, content=upload.content, uploaded_by_id=None,
                      uploaded_at=now)


# --- finding a case --------------------------------------------------------------------------------

def find_ticket(case_number: str | None, code: str | None) -> PortalTicket | None:
    """The portal ticket of this case number if the code is its code; None otherwise (the same None for
    a case that does not exist, one not filed through the portal, and a wrong code)."""
    number = (case_number or "").strip().upper()
    typed = code_hash(code or "")
    row = None
    if number and len(number) <= 40:
        row = db.session.execute(
            sa.select(PortalTicket).join(Case, Case.id == PortalTicket.case_id).where(Case.number == number)
        ).scalar_one_or_none()
    stored = row.code_hash if row is not None else "0" * 64
    matches = hmac.compare_digest(stored, typed)   # compared either way: the same work for a miss
    return row if row is not None and matches and normalize_code(code) else None


def get_ticket(ticket_id: int) -> PortalTicket | None:
    return db.session.get(PortalTicket, ticket_id)


# --- the public view -------------------------------------------------------------------------------

@dataclass
class PublicView:
    case_number: str
    entry_title: str
    received_at: datetime
    status: str                       # 已收到 / 已受理 / 不予受理 / 已办结 / 已撤销
    stage: str
    due_at: datetime | None = None
    due_label: str = "办理期限"      # the case limit; before it is set, the current step's: 本环节期限
    refusal_reason: str | None = None
    refusal_advice: str | None = None
    reply: str | None = None
    result: str | None = None
    notices: list[str] = field(default_factory=list)
    is_open: bool = True
    can_rate: bool = False
    rating: int | None = None
    rating_text: str | None = None
    supplements: int = 0


def _instance(case_id: int) -> ProcessInstance:
    return db.session.execute(sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id)
                              .order_by(ProcessInstance.id.desc()).limit(1)).scalar_one()


def _data(instance: ProcessInstance) -> dict:
    if instance.status == InstanceStatus.CANCELLED:
        return {}
    bundle = get_bundle(instance.definition_id)
    return engine.read(bundle.process, instance.id, instance.rev, running.state_loader(instance))["data"]


def _open_tasks(instance_id: int) -> list[HumanTask]:
    """The instance's READY tasks as the database has them now (a claim since may have changed a row)."""
    return list(db.session.execute(sa.select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY).order_by(HumanTask.id)
        .execution_options(populate_existing=True)).scalars())


def _option_title(instance: ProcessInstance, form: str, key: str, value) -> str | None:
    schema = get_bundle(instance.definition_id).forms.get(form) or {}
    prop = (schema.get("properties") or {}).get(key) or {}
    for option in prop.get("oneOf") or []:
        if isinstance(option, dict) and option.get("const") == value:
            return option.get("title")
    return None


def _case_due(data: dict, tasks: list[HumanTask]) -> tuple[datetime | None, str]:
    """The case's due date: its limit (with any granted 延期) from receipt; else the current step's."""
    value, unit = data.get("limit_value"), data.get("limit_unit")
    if isinstance(value, int) and isinstance(unit, str) and data.get("received_at"):
        limit = f"{value}{unit}"
        start = datetime.fromisoformat(str(data.get("limit_start") or data["received_at"]))
        recipe = due.deadline_for({}, limit, start)
        if recipe is not None:
            return due.compute(recipe, due.get_calendar()).due_at, "办理期限"
    dues = [t.due_at for t in tasks if t.due_at is not None]
    return (max(dues) if dues else None), "本环节期限"


def public_view(ticket: PortalTicket) -> PublicView:
    """What the reporter may see of their case: status, stage in words, due date, the texts written for
    them. Built from named facts only (see the module docstring)."""
    case = db.session.get(Case, ticket.case_id)
    instance = _instance(case.id)
    data = _data(instance)
    tasks = _open_tasks(instance.id)
    ended = instance.status in (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED)
    view = PublicView(case.number, ENTRIES[ticket.entry].title if ticket.entry in ENTRIES else "公众门户",
                      case.created_at, "已收到", "已收到，等待受理", is_open=not ended,
                      rating=ticket.rating, rating_text=RATING_LEVELS.get(ticket.rating),
                      supplements=ticket.supplement_count)
    screening = data.get("jw_screening")
    if instance.status == InstanceStatus.CANCELLED:
        view.status, view.stage = "已撤销", "本件已撤销"
        return view
    if data.get("in_scope") is False:
        view.status, view.stage = "不予受理", "不予受理，已告知理由和反映渠道"
        view.refusal_reason = data.get("out_of_scope_reason")
        view.refusal_advice = data.get("out_of_scope_advice")
        return view
    if screening == "no_content":
        view.status, view.stage = "不予受理", "经登记审查，已存档备查"
        view.refusal_reason = "无实质内容或重复举报"
        return view
    if screening == "higher_level":
        view.status, view.stage = "已转送", "属上级纪检监察机关管辖，已转送上级办理"
        return view
    if data.get("in_scope") is True or screening == "accept":
        view.status = "已受理"
    stages = [STAGES.get(t.bpmn_id) or (JW_STAGE if t.bpmn_id.startswith("jw_") else "正在办理") for t in tasks]
    if stages:
        view.stage = stages[0]
    elif ended:
        view.status, view.stage = "已办结", "已办结"
    if not ended:
        view.due_at, view.due_label = _case_due(data, tasks)
    reply_out = ended or any(t.bpmn_id == "callback" for t in tasks)
    if reply_out:
        view.reply = data.get("reply_text") or data.get("answer_text") or data.get("feedback_text")
        if data.get("result_code"):
            view.result = _option_title(instance, "complaint/reply.schema.json", "result_code", data["result_code"])
    view.notices = [str(n.get("text")) for n in data.get("applicant_notices") or []
                    if isinstance(n, dict) and n.get("text")]
    view.can_rate = ticket.rating is None and any(t.bpmn_id == "callback" for t in tasks)
    return view


# --- 补充材料 ---------------------------------------------------------------------------------------

def add_supplement(ticket: PortalTicket, text: str, checked_files: list) -> Comment | None:
    """Add the reporter's text (a comment without author) and files to the open case, and notify the
    holders of its current steps. Raises PortalRefused (closed, empty, too long, too often). Commits."""
    case = db.session.get(Case, ticket.case_id)
    if case.status != CaseStatus.OPEN:
        raise PortalRefused("本件已办结，不能再补充材料；如有新的情况，请重新提交诉求",
                            fields={"text": ["本件已办结，不能再补充材料"]})
    body = (text or "").strip()
    if not body and not checked_files:
        raise PortalRefused("请填写补充说明或选择附件", fields={"text": ["请填写补充说明或选择附件"]})
    if len(body) > SUPPLEMENT_MAX:
        raise PortalRefused(f"补充说明不能超过 {SUPPLEMENT_MAX} 字（当前 {len(body)} 字）",
                            fields={"text": [f"不能超过 {SUPPLEMENT_MAX} 字（当前 {len(body)} 字）"]})
    if ticket.supplement_count >= SUPPLEMENT_TIMES:
        raise PortalRefused(f"每件诉求最多补充 {SUPPLEMENT_TIMES} 次；如有新的情况，请重新提交诉求",
                            fields={"text": [f"已补充 {SUPPLEMENT_TIMES} 次，达到上限"]})
    now = utcnow()
    names = "、".join(f.filename for f in checked_files)
    comment = Comment(case_id=case.id, author_id=None, created_at=now,
                      body="【诉求人通过公众门户补充材料】\n" + (body or "（无文字说明）")
                      + (f"\n附件：{names}" if names else ""))
    db.session.add(comment)
    for upload in checked_files:
        db.session.add(_attachment(case.id, upload, now))
    ticket.supplement_count = (ticket.supplement_count or 0) + 1
    tasks = _open_tasks(_instance(case.id).id)
    for task in tasks:
        holders = [task.assignee_id] if task.assignee_id else users_in_groups(task.candidate_groups or [])
        notify(holders, NotificationKind.INFO, f"案件 {case.number} 收到诉求人补充材料",
               f"诉求人通过公众门户为“{task.name}”环节补充了材料，请到案件页的意见与附件中查看。",
               case_id=case.id, human_task_id=task.id, now=now)
    db.session.commit()
    return comment


# --- 好差评 -------------------------------------------------------------------------------------------

def rating_problems(level_text: str | None, comment: str | None) -> tuple[int | None, str, dict]:
    level = whole_number(level_text)
    text = (comment or "").strip()
    fields: dict[str, list[str]] = {}
    if level not in RATING_LEVELS:
        fields["rating"] = ["请选择评价等级（1 至 5 星）"]
    if len(text) > RATING_COMMENT_MAX:
        fields["comment"] = [f"评价意见不能超过 {RATING_COMMENT_MAX} 字（当前 {len(text)} 字）"]
    elif level in (1, 2) and len(text) < 5:
        fields["comment"] = ["不满意时请写明原因（至少 5 个字），以便重新办理"]
    return level, text, fields


def rate(ticket: PortalTicket, level_text: str | None, comment: str | None) -> int:
    """The reporter's 好差评, once, while the 回访 step waits: it completes that step with the call-back
    form's data (validated as the 回访员's would be), so 不满意 takes the diagram's 重办并提级督办 path.
    Raises PortalRefused (bad input, rated already, not now), Conflict (the step moved meanwhile),
    ProcessDefinitionError. Commits."""
    level, text, fields = rating_problems(level_text, comment)
    if ticket.rating is not None:
        raise PortalRefused("您已评价过本件诉求，每件只能评价一次", fields={"rating": ["已评价，不能重复评价"]})
    if fields:
        raise PortalRefused("评价需要修改", fields=fields)
    instance_id = _instance(ticket.case_id).id
    task = next((t for t in _open_tasks(instance_id) if t.bpmn_id == "callback"), None)
    if task is None:
        raise PortalRefused("答复送达后、回访完成前才能评价", fields={"rating": ["当前不在评价阶段"]})
    satisfaction = _SATISFACTION[level]
    note = f"诉求人在公众门户评价：{RATING_LEVELS[level]}（{level} 星）" + (f"。意见：{text}" if text else "")
    data = {"contacted": True, "resolved": level >= 3, "satisfaction": satisfaction, "callback_note": note[:2000]}
    if satisfaction == "dissatisfied":
        data.update(dissatisfaction_reason=text, complaint_reasonable=True)
    holder = task.assignee_id
    instance = running.lock_instance(instance_id)
    bundle = get_bundle(instance.definition_id)
    data = validate_form(bundle, task.form, data)
    if holder is not None:   # a 回访员 had claimed the call: the reporter's own rating answers it
        db.session.execute(sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY)
                           .values(assignee_id=None).execution_options(synchronize_session=False))
        task.assignee_id = None
    try:
        result = engine.complete_task(bundle.process, instance.id, instance.rev, running.state_loader(instance),
                                      task.spiff_task_id, data)
    except (engine.TaskNotReady, engine.UnknownTask):
        db.session.rollback()
        raise Conflict("回访刚已完成，评价未记录；请刷新页面查看", code="task_not_ready") from None
    except engine.ScriptError as exc:
        running.record_script_error(instance_id, exc, None, task, draft=data)
        raise running.script_error_response(exc) from None
    now = utcnow()
    ctx = running.ActionContext(instance, bundle, None, now)
    running.apply_result(ctx, result, completed=task, submitted=data, audit=[AuditEvent(
        at=now, actor_id=None, action=AuditAction.COMPLETE, case_id=task.case_id, instance_id=task.instance_id,
        human_task_id=task.id, bpmn_id=task.bpmn_id, label=task.name, data=data)])
    ticket.rating, ticket.rating_comment, ticket.rated_at = level, text or None, now
    if holder is not None:
        case = db.session.get(Case, ticket.case_id)
        notify(holder, NotificationKind.INFO, f"案件 {case.number} 的诉求人已在公众门户评价",
               f"诉求人评价：{RATING_LEVELS[level]}。回访环节已据此完成。", case_id=case.id, now=now)
    new_rev = instance.rev
    db.session.commit()
    engine.remember(instance_id, new_rev, result)
    return level


__all__ = ["ALLOWED_TEXT", "ENTRIES", "NOT_FOUND", "PortalRefused", "ProcessDefinitionError", "Receipt",
           "add_supplement", "check_files", "find_ticket", "get_ticket", "public_view", "rate", "read_submission",
           "shown_code", "submit", "validate_submission"]
