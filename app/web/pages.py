"""The task and case pages as data for their templates: the form's first values, the case summary
and timeline in Chinese. What they show comes from the services of app/tasks, app/processes and
app/cases; masking a reporter's identity, and auditing who saw it, is those reading services' job
(app.cases.privacy via task_details / instance_details with the viewer): pages never mask on their own."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.auth.models import User
from app.auth.services import user_names
from app.cases import privacy
from app.cases import services as case_services
from app.cases.models import Case
from app.cases.records import Attachment, Comment
from app.deadlines.sla import current_sla_state
from app.labels import group_title
from app.processes import casemap
from app.processes import instances as instance_services
from app.processes.models import InstanceStatus, ProcessInstance
from app.supervision.queries import ESCALATION_LABELS
from app.taskforms.schema import options_of, ordered_properties, resolve, ui_of
from app.tasks import services as task_services
from app.tasks.models import HumanTask
from app.web import labels
from app.web.filters import local_time
from app.web.formschema import first_values


# --- tasks ----------------------------------------------------------------------------------------

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
    submitted: list[tuple[str, str]] = field(default_factory=list)   # a completed task's data, for reading
    completed_by: str | None = None


def task_page(task_id: int, user: User) -> TaskPage:
    """A task with its form, instructions and first values (the saved draft, else the task's data),
    as this user may see them (tasks.services.task_details masks a reporter's identity and audits a
    view of it). Raises NotFound, Forbidden."""
    task = task_services.get_visible_task(task_id, user)
    details = task_services.task_details(task, user, fold_long_values=True)
    case = case_services.get_case(task.case_id) if task.case_id else None
    data = details["data"]
    schema = details["form_schema"]
    hidden = set() if privacy.can_see_identity(user, case, data) else privacy.IDENTITY_FIELDS
    # masked identity values are never put in a form: submitted back, they would overwrite the real ones
    values, from_draft = (task.draft, True) if task.draft else (
        first_values(schema, details["ui_schema"], data, hidden), False)
    return TaskPage(task=task, instance=details["instance"], definition=details["definition"], case=case,
                    schema=schema, ui=details["ui_schema"], instructions=details["instructions"],
                    values=values, from_draft=from_draft, can_act=task_services.can_act(user, task),
                    assignee=user_names([task.assignee_id]).get(task.assignee_id), sla=current_sla_state(task),
                    submitted=submitted_rows(schema, details["ui_schema"], data) if task.status != "ready" else [],
                    completed_by=user_names([task.completed_by_id]).get(task.completed_by_id))


def submitted_rows(schema: dict | None, ui: dict | None, data: dict) -> list[tuple[str, str]]:
    """(field title, value in words) for the data a form took, in the form's order: option titles
    instead of codes, the rows of a table as their columns' titles and values."""
    if not isinstance(schema, dict):
        return [(key, labels.value_text(value)) for key, value in data.items()]
    ui = ui if isinstance(ui, dict) else {}
    props = schema.get("properties") or {}
    rows = []
    for name in ordered_properties(schema, ui):
        if name not in data:
            continue
        node = resolve(props.get(name), schema)
        rows.append((str(node.get("title") or name), _value_words(node, ui_of(ui, name), data[name], schema)))
    return rows


def _value_words(node: dict, ui: dict, value: Any, root: dict) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        items = resolve(node.get("items"), root)
        return "；".join(_object_words(items, ui_of(ui, "items"), v, root) for v in value)
    if isinstance(value, dict):
        return _object_words(node, ui, value, root)
    options_node = resolve(node.get("items"), root) if isinstance(value, list) else node
    options = {o.const: o.label for o in options_of(options_node, ui) if isinstance(o.const, (str, int))}
    return labels.value_text(value, options)


def _object_words(node: dict, ui: dict, value: dict, root: dict) -> str:
    props = node.get("properties") or {}
    parts = []
    for name in ordered_properties(node, ui):
        if name in value and value[name] not in (None, "", []):
            child = resolve(props.get(name), root)
            parts.append(f"{child.get('title') or name}：{_value_words(child, ui_of(ui, name), value[name], root)}")
    return "，".join(parts) or "—"


# --- cases ----------------------------------------------------------------------------------------

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
    case, instance, access = case_services.case_access(case_id, user)
    details = instance_services.instance_details(instance, user)
    data = details["data"] or {}
    fields = form_fields(details["definition"])
    history = details["history"]
    page = CasePage(case=case, instance=instance, definition=details["definition"], data=data,
                    confidential=privacy.is_confidential(data, case),
                    identity_visible=privacy.can_see_identity(user, case, data),
                    open_tasks=_open_tasks(details["open_tasks"], user),
                    timeline=_timeline(history, instance, fields),
                    comments=case_services.list_comments(case.id), attachments=case_services.list_attachments(case.id), fields=fields,
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
            # an object (or a list of them): its keys' titles, for labels.value_text
            options = options or labels.key_titles(items or prop)
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


def _action_details(data: Any, names: dict[int, str]) -> list[tuple[str, str]]:
    """A supervisor's 催办/督办/改派/延期 record, or the system's (an escalation, a timer, a migration):
    its note, times, rung, people, in Chinese."""
    if not isinstance(data, dict):
        return []
    out = []
    for key, title in labels.ACTION_DETAILS.items():
        value = data.get(key)
        if value in (None, "", []):
            continue
        if key in labels.ACTION_TIMES:
            try:
                value = local_time(datetime.fromisoformat(str(value)))
            except ValueError:
                pass
        elif key == "rung":
            value = ESCALATION_LABELS.get(value, value)
        elif key == "notified" and isinstance(value, list):
            value = [names.get(user_id, "—") for user_id in value]
        out.append((title, labels.value_text(value)))
    return out


def _notified(event) -> list[int]:
    """Whom an escalation notified (user ids in its data)."""
    data = event.data if isinstance(event.data, dict) else {}
    return [i for i in data.get("notified") or [] if isinstance(i, int)]


def _timeline(history: list, instance: ProcessInstance, fields: dict) -> list[TimelineEntry]:
    names = user_names({e.actor_id for e in history} | {i for e in history for i in _notified(e)})
    entries = []
    for event in history:
        title = event.label or ""
        details = (_action_details(event.data, names) if event.action in labels.RECORD_ACTIONS
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
            *([("来源渠道", shown("channel", case.channel))] if case.channel else []),
            ("所属区县", shown("district", case.district)),
            ("企业名称", case.company_name or shown("company_name")), ("统一社会信用代码", case.uscc or "—"),
            *((title, labels.value_text(value)) for title, value in casemap.parties(case.process_key, data)
              if value not in (None, ""))]
    if "phone" in data:
        rows.append(("联系电话", shown("phone")))
    if "id_number" in data:
        rows.append(("证件号码", shown("id_number")))
    if case.unit:
        rows.append(("承办单位", group_title(case.unit)))
    return rows


def diagram(case_id: int, user: User) -> dict:
    """The case's diagram with its completed and current steps, for bpmn-js. Raises NotFound, Forbidden."""
    _, instance = case_services.get_visible_case(case_id, user)
    return instance_services.diagram_data(instance)
