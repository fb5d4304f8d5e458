"""What the caseworker pages add to the services of app/tasks and app/processes: drafts, comments,
attachments, and the assembly of the task and case pages. Each public action is one transaction and
commits. Masking a reporter's identity, and auditing who saw it, is the reading services' job
(app.cases.privacy via task_details / instance_details with the viewer): pages never mask on their own."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import FileStorage

from app import engine
from app.auth.models import User
from app.auth.services import user_names
from app.cases import privacy
from app.cases.models import Case
from app.cases.records import Attachment, Comment
from app.db import utcnow
from app.deadlines.sla import current_sla_state
from app.errors import AppError, Conflict, Forbidden, NotFound
from app.extensions import db
from app.numbers import whole_number
from app.processes.instances import instance_access, instance_details
from app.processes.running import state_loader
from app.processes.versions import get_bundle
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.tasks import services as task_services
from app.tasks.models import HumanTask, TaskStatus
from app.web import labels
from app.cases.uploads import check_upload
from app.web.filters import local_time
from app.web.formschema import options_of

COMMENT_MAX = 5000


# --- tasks ----------------------------------------------------------------------------------------

def save_draft(task_id: int, user: User, draft: dict) -> HumanTask:
    """Keep unfinished form input on the task. Raises NotFound, Forbidden, Conflict. Commits."""
    task = task_services.get_task(task_id)
    task_services.check_can_act(user, task)
    changed = db.session.execute(
        sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY)
        .values(draft=draft).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        raise Conflict("任务状态已变化，请刷新", code="task_not_ready")
    db.session.commit()
    db.session.refresh(task)
    return task


@dataclass
class TaskPage:
    task: HumanTask
    instance: ProcessInstance
    definition: Any
    case: Case | None
    schema: dict | None
    ui: dict | None
    instructions: str | None     # Markdown, filled from the (masked) task data
    values: dict                 # what the form shows first
    from_draft: bool
    can_act: bool
    assignee: str | None
    sla: str | None


def task_page(task_id: int, user: User) -> TaskPage:
    """A task with its form, instructions and first values (the saved draft, else the task's data),
    as this user may see them (tasks.services.task_details masks a reporter's identity and audits a
    view of it). Raises NotFound, Forbidden."""
    task = task_services.get_visible_task(task_id, user)
    details = task_services.task_details(task, user)
    case = db.session.get(Case, task.case_id) if task.case_id else None
    data = details["data"]
    schema = details["form_schema"]
    props = (schema or {}).get("properties") or {}
    hidden = set() if privacy.can_see_identity(user, case, data) else privacy.IDENTITY_FIELDS
    # masked identity values are never put in a form: submitted back, they would overwrite the real ones
    values, from_draft = (task.draft, True) if task.draft else (
        {k: v for k, v in data.items() if k in props and k not in hidden}, False)
    return TaskPage(task=task, instance=details["instance"], definition=details["definition"], case=case,
                    schema=schema, ui=details["ui_schema"], instructions=details["instructions"],
                    values=values, from_draft=from_draft, can_act=task_services.can_act(user, task),
                    assignee=user_names([task.assignee_id]).get(task.assignee_id), sla=current_sla_state(task))


# --- cases ----------------------------------------------------------------------------------------

def get_case(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("找不到该案件")
    return case


def case_instance(case_id: int) -> ProcessInstance:
    instance = db.session.execute(
        sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id)
        .order_by(ProcessInstance.id.desc()).limit(1)).scalar_one_or_none()
    if instance is None:
        raise NotFound("找不到该案件的流程实例")
    return instance


def get_visible_case(case_id: int, user: User, *, writing: bool = False) -> tuple[Case, ProcessInstance]:
    """The case and its instance if the user may see them (`writing`: add comments or files to it,
    which a supervisor who only watches the case may not). Raises NotFound, Forbidden."""
    case, instance, access = _case_access(case_id, user)
    if writing and access != "write":
        raise Forbidden("督办查看的案件为只读，意见和附件由办理人员添加")
    return case, instance


def _case_access(case_id: int, user: User) -> tuple[Case, ProcessInstance, str]:
    """The case, its instance and the user's access ("write" or "read"). Raises NotFound, Forbidden."""
    case = get_case(case_id)
    instance = case_instance(case_id)
    access = instance_access(user, instance)
    if access is None:
        raise Forbidden("您无权查看此案件")
    return case, instance, access


@dataclass
class TimelineEntry:
    at: Any
    action: str
    title: str
    actor: str | None
    details: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class OpenTask:
    task: HumanTask
    assignee: str | None
    sla: str | None
    visible: bool


@dataclass
class CasePage:
    case: Case
    instance: ProcessInstance
    definition: Any
    data: dict
    confidential: bool
    identity_visible: bool
    open_tasks: list[OpenTask]
    timeline: list[TimelineEntry]
    comments: list[tuple[Comment, str | None]]
    attachments: list[tuple[Attachment, str | None]]
    fields: dict                                   # data key -> (title, {code: label})
    can_write: bool = True                         # may add comments and files (not a watching supervisor)
    summary: list[tuple[str, str]] = field(default_factory=list)


def case_page(case_id: int, user: User) -> CasePage:
    """Everything the case page shows, as this user may see it: instance_details masks a
    reporter's identity (data and history) for those without the right and audits a view of it by
    those with it. Raises NotFound, Forbidden."""
    case, instance, access = _case_access(case_id, user)
    details = instance_details(instance, user)
    data = details["data"] or {}
    fields = form_fields(details["definition"])
    history = details["history"]
    page = CasePage(case=case, instance=instance, definition=details["definition"], data=data,
                    confidential=privacy.is_confidential(data, case),
                    identity_visible=privacy.can_see_identity(user, case, data),
                    open_tasks=_open_tasks(details["open_tasks"], user),
                    timeline=_timeline(history, instance, fields),
                    comments=list_comments(case.id), attachments=list_attachments(case.id), fields=fields,
                    can_write=access == "write")
    page.summary = _summary(page)
    return page


def _open_tasks(tasks: list[HumanTask], user: User) -> list[OpenTask]:
    names = user_names({t.assignee_id for t in tasks})
    return [OpenTask(t, names.get(t.assignee_id), current_sla_state(t), task_services.can_see(user, t)) for t in tasks]


def form_fields(bundle) -> dict[str, tuple[str, dict]]:
    """Titles and option labels of every top-level field of a version's forms: data key -> (title, options)."""
    found: dict[str, tuple[str, dict]] = {}
    for schema in (bundle.forms or {}).values():
        for name, prop in ((schema or {}).get("properties") or {}).items():
            if name in found or not isinstance(prop, dict):
                continue
            items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
            options = {o.value: o.label for o in options_of(items or prop, {}) if isinstance(o.const, str)}
            found[name] = (str(prop.get("title") or name), options)
    return found


def _details(data: Any, fields: dict) -> list[tuple[str, str]]:
    if not isinstance(data, dict):
        return []
    out = []
    for key, value in data.items():
        title, options = fields.get(key, (key, {}))
        out.append((title, labels.value_text(value, options)))
    return out


def _action_details(data: Any) -> list[tuple[str, str]]:
    """A supervisor's 催办/督办/改派/延期 record: its note, deadline, people, in Chinese."""
    if not isinstance(data, dict):
        return []
    out = []
    for key, title in labels.ACTION_DETAILS.items():
        value = data.get(key)
        if value in (None, ""):
            continue
        if key == "deadline":
            try:
                value = local_time(datetime.fromisoformat(str(value)))
            except ValueError:
                pass
        out.append((title, labels.value_text(value)))
    return out


def _timeline(history: list, instance: ProcessInstance, fields: dict) -> list[TimelineEntry]:
    names = user_names({e.actor_id for e in history})
    entries = []
    for event in history:
        title = event.label or ""
        details = (_action_details(event.data) if event.action in labels.SUPERVISION_ACTIONS
                   else _details(event.data, fields))
        entries.append(TimelineEntry(event.at, event.action, title,
                                     names.get(event.actor_id) if event.actor_id else "系统", details))
    if instance.ended_at is not None:
        ended = "流程结束" if instance.status == InstanceStatus.COMPLETED else "流程撤销"
        entries.append(TimelineEntry(instance.ended_at, "end", ended, "系统"))
    return entries


def _summary(page: CasePage) -> list[tuple[str, str]]:
    """The case summary: who, what, where; the applicant's identity already masked in page.data."""
    data, case, fields = page.data, page.case, page.fields

    def shown(key: str, value: Any = None) -> str:
        value = data.get(key) if value is None else value
        return labels.value_text(value, fields.get(key, ("", {}))[1])
    rows = [("案件编号", case.number or "—"),
            ("流程", f"{page.definition.name}（第 {page.definition.version} 版）"),
            ("状态", labels.INSTANCE_STATUS.get(page.instance.status, page.instance.status)),
            ("来源渠道", shown("channel", case.channel)), ("所属区县", shown("district", case.district)),
            ("企业名称", case.company_name or shown("company_name")), ("统一社会信用代码", case.uscc or "—"),
            ("诉求人/申请人", shown("complainant_name") if "complainant_name" in data else
             shown("applicant_name") if "applicant_name" in data else "—")]
    if "phone" in data:
        rows.append(("联系电话", shown("phone")))
    if "id_number" in data:
        rows.append(("证件号码", shown("id_number")))
    if case.unit:
        rows.append(("承办单位", case.unit))
    return rows


def diagram(case_id: int, user: User) -> dict:
    """The BPMN XML of the case's version, its completed steps and the current ones, for bpmn-js.
    Raises NotFound, Forbidden."""
    _, instance = get_visible_case(case_id, user)
    bundle = get_bundle(instance.definition_id)
    xml = db.session.execute(sa.select(ProcessDefinition.bpmn_xml)
                             .where(ProcessDefinition.id == instance.definition_id)).scalar_one()
    completed: list[str] = []
    if instance.status != InstanceStatus.CANCELLED:
        completed = engine.read(bundle.process, instance.id, instance.rev,
                                state_loader(instance))["completed_steps"]
    current = list(db.session.execute(
        sa.select(HumanTask.bpmn_id).where(HumanTask.instance_id == instance.id,
                                           HumanTask.status == TaskStatus.READY)).scalars())
    return {"xml": xml, "completed": completed, "current": sorted(set(current)),
            "error": instance.error_element if instance.status == InstanceStatus.ERROR else None}


# --- comments -------------------------------------------------------------------------------------

def list_comments(case_id: int) -> list[tuple[Comment, str | None]]:
    rows = list(db.session.execute(sa.select(Comment).where(Comment.case_id == case_id)
                                   .order_by(Comment.created_at, Comment.id)).scalars())
    names = user_names({c.author_id for c in rows})
    return [(c, names.get(c.author_id)) for c in rows]


def add_comment(case_id: int, user: User, body: str) -> Comment:
    """Add a comment to a case the user may see. Raises NotFound, Forbidden, AppError (empty/too long). Commits."""
    get_visible_case(case_id, user, writing=True)
    text = (body or "").strip()
    if not text:
        raise AppError("请填写意见内容", fields={"body": ["不能为空"]})
    if len(text) > COMMENT_MAX:
        raise AppError(f"意见不能超过 {COMMENT_MAX} 字", fields={"body": [f"不能超过 {COMMENT_MAX} 字"]})
    comment = Comment(case_id=case_id, author_id=user.id, body=text, created_at=utcnow())
    db.session.add(comment)
    db.session.commit()
    return comment


# --- attachments ----------------------------------------------------------------------------------

def list_attachments(case_id: int) -> list[tuple[Attachment, str | None]]:
    rows = list(db.session.execute(sa.select(Attachment).where(Attachment.case_id == case_id)
                                   .order_by(Attachment.uploaded_at, Attachment.id)).scalars())
    names = user_names({a.uploaded_by_id for a in rows})
    return [(a, names.get(a.uploaded_by_id)) for a in rows]


def add_attachment(user: User, upload: FileStorage, *, case_id: int | None, task_id: int | None = None,
                   field_path: str | None = None) -> Attachment:
    """Store one upload (checked by size and content) on a case, or, from a start form, pending for its
    uploader until the case exists. Raises UploadRefused, NotFound, Forbidden. Commits."""
    if case_id is not None:
        get_visible_case(case_id, user, writing=True)
    checked = check_upload(upload, current_app.config["MAX_ATTACHMENT_BYTES"])
    row = Attachment(case_id=case_id, human_task_id=task_id, field=field_path, filename=checked.filename,
                     content_type=checked.content_type, size=checked.size, sha256=checked.sha256,
                     content=checked.content, uploaded_by_id=user.id, uploaded_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def link_pending_attachments(user: User, ids: list[int], case_id: int) -> int:
    """Attach the user's pending uploads (made on a start form) to the case just started. Commits."""
    if not ids:
        return 0
    changed = db.session.execute(
        sa.update(Attachment).where(Attachment.id.in_(ids), Attachment.uploaded_by_id == user.id,
                                    Attachment.case_id.is_(None))
        .values(case_id=case_id).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed


def get_attachment_for(user: User, attachment_id: int) -> Attachment:
    """An attachment the user may read: of a case they may see, or their own pending upload.
    Raises NotFound, Forbidden."""
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("找不到该附件")
    if row.case_id is not None:
        get_visible_case(row.case_id, user)
    elif row.uploaded_by_id != user.id:
        raise Forbidden("您无权下载此附件")
    return row


def attachment_refs(user: User, ids: set[str], case_id: int | None) -> dict[str, dict]:
    """id (as a form keeps it) -> {"id", "filename"} for the attachments a form refers to that belong to
    its case (or are the user's own pending uploads, on a start form); any other number stays a number."""
    numbers = [n for n in map(whole_number, ids) if n is not None]
    if not numbers:
        return {}
    rows = db.session.execute(sa.select(Attachment.id, Attachment.filename, Attachment.case_id,
                                        Attachment.uploaded_by_id).where(Attachment.id.in_(numbers))).all()
    return {str(r.id): {"id": r.id, "filename": r.filename} for r in rows
            if (case_id is not None and r.case_id == case_id)
            or (r.case_id is None and r.uploaded_by_id == user.id)}
