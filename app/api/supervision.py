"""Supervision (督办): overdue and due-soon lists, counts, KPIs, incidents, and the supervisor's actions.

Lists answer JSON, or a file with ?format=csv|xlsx. The numbers are those of the supervisor pages:
both call app/supervision's services.
"""
from __future__ import annotations

from datetime import datetime

from flask import Response
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, fields, validate

from app.api.common import paginate, require_user
from app.api.schemas import PaginationSchema, StrictSchema
from app.supervision import actions, export, kpis, queries

PREFIX = "/supervision"
blp = Blueprint("api_supervision", __name__, description="督办 Supervision")

_FORMATS = ("json", "csv", "xlsx")
_CHOICE = "取值无效，可选：{choices}"


# --- schemas -------------------------------------------------------------------------------------

class _Query(StrictSchema):
    class Meta:
        unknown = EXCLUDE


class SupervisionListQuerySchema(_Query):
    unit = fields.String(load_default=None, metadata={"description": "承办单位（用户组名）"})
    district = fields.String(load_default=None)
    process = fields.String(load_default=None, metadata={"description": "流程 key"})
    channel = fields.String(load_default=None)
    step = fields.String(load_default=None, metadata={"description": "环节（BPMN 任务 id）"})
    escalation = fields.String(load_default=None, metadata={
        "description": "已到督办环节：remind / overdue / notice / supervise / criticise / none"})
    assignee = fields.String(load_default=None, metadata={"description": "办理人用户名"})
    provisional = fields.Boolean(load_default=None, error_messages={"invalid": "应为 true 或 false"})
    sort = fields.String(load_default="due_at", validate=validate.OneOf(list(queries.SORTS), error=_CHOICE))
    within = fields.String(load_default=None, metadata={"description": "临期范围（仅临期列表），如 1WD、8WH、24H"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, error="应不小于 {min}"),
                          error_messages={"invalid": "应为整数"})
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="应在 {min} 至 {max} 之间"),
                              error_messages={"invalid": "应为整数"})
    format = fields.String(load_default="json", validate=validate.OneOf(_FORMATS, error=_CHOICE),
                           metadata={"description": "json（默认）、csv（UTF-8 BOM）或 xlsx"})


class SummaryQuerySchema(SupervisionListQuerySchema):
    kind = fields.String(load_default="overdue", validate=validate.OneOf(queries.KINDS, error=_CHOICE))
    by = fields.String(load_default="unit", validate=validate.OneOf(queries.DIMENSIONS, error=_CHOICE))


class KpiQuerySchema(_Query):
    start = fields.String(load_default=None, metadata={"description": "起始日期（含），YYYY-MM-DD 或带时区的 ISO 时间"})
    end = fields.String(load_default=None, metadata={"description": "结束日期（不含）"})
    process = fields.String(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(_FORMATS, error=_CHOICE))


class TrendQuerySchema(_Query):
    start = fields.String(load_default=None, metadata={"description": "起始日期（含），YYYY-MM-DD"})
    end = fields.String(load_default=None, metadata={"description": "结束日期（不含）"})
    unit = fields.String(load_default=None)
    district = fields.String(load_default=None)
    process = fields.String(load_default=None)
    channel = fields.String(load_default=None)


class HeatmapQuerySchema(_Query):
    process = fields.String(load_default=None, metadata={"description": "流程 key（必填）"})
    unit = fields.String(load_default=None)
    district = fields.String(load_default=None)
    channel = fields.String(load_default=None)
    within = fields.String(load_default=None, metadata={"description": "临期范围，如 1WD、8WH、24H"})


class IncidentQuerySchema(_Query):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, error="应不小于 {min}"),
                          error_messages={"invalid": "应为整数"})
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="应在 {min} 至 {max} 之间"),
                              error_messages={"invalid": "应为整数"})
    format = fields.String(load_default="json", validate=validate.OneOf(_FORMATS, error=_CHOICE))


class SupervisionTaskSchema(StrictSchema):
    task_id = fields.Integer()
    task_name = fields.String()
    bpmn_id = fields.String()
    process_key = fields.String()
    process_title = fields.String()
    instance_id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    case_title = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    company_name = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String())
    assignee_id = fields.Integer(allow_none=True)
    assignee_username = fields.String(allow_none=True)
    assignee_name = fields.String(allow_none=True)
    priority = fields.Integer()
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    warn_at = fields.DateTime(allow_none=True)
    sla = fields.String(allow_none=True, metadata={"description": "green / yellow / red / paused"})
    sla_label = fields.String()
    hours_over = fields.Float(allow_none=True, metadata={"description": "超期小时数（负数为剩余）"})
    working_days_over = fields.Integer()
    escalation_step = fields.String(allow_none=True)
    escalation_label = fields.String(allow_none=True, metadata={"description": "催办 / 催办通知书 / 督办 / 通报"})
    provisional = fields.Boolean(metadata={"description": "办理时限按暂定日历计算"})
    paused = fields.Boolean()
    supervise_deadline = fields.DateTime(allow_none=True, metadata={"description": "最近一次督办的期限"})
    supervised_at = fields.DateTime(allow_none=True)


class SupervisionTaskPageSchema(StrictSchema):
    items = fields.List(fields.Nested(SupervisionTaskSchema))
    pagination = fields.Nested(PaginationSchema)
    now = fields.DateTime()
    horizon = fields.DateTime(allow_none=True, metadata={"description": "临期列表的截止时间"})


class SummaryRowSchema(StrictSchema):
    key = fields.String(allow_none=True)
    label = fields.String()
    process_key = fields.String()
    count = fields.Integer()


class SummarySchema(StrictSchema):
    kind = fields.String()
    by = fields.String()
    groups = fields.List(fields.Nested(SummaryRowSchema))


class KpiSchema(StrictSchema):
    id = fields.String()
    process = fields.String()
    process_title = fields.String()
    name = fields.String()
    explanation = fields.String(metadata={"description": "悬停说明"})
    formula = fields.String()
    unit = fields.String()
    value = fields.Raw(allow_none=True, metadata={"description": "比率为 0–1 的小数；时限对比为对象"})
    numerator = fields.Raw(allow_none=True)
    denominator = fields.Raw(allow_none=True)
    display = fields.String()


class KpiResultSchema(StrictSchema):
    start = fields.DateTime()
    end = fields.DateTime()
    as_of = fields.DateTime()
    process = fields.String(allow_none=True)
    kpis = fields.List(fields.Nested(KpiSchema))


class IncidentSchema(StrictSchema):
    source = fields.String(metadata={"description": "job：失败作业（id 为异常 id）；script：脚本错误（id 为实例 id）"})
    id = fields.Integer()
    kind = fields.String()
    kind_label = fields.String()
    message = fields.String(allow_none=True)
    created_at = fields.DateTime(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    process_key = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    task_name = fields.String(allow_none=True)
    job_id = fields.Integer(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    element = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)


class IncidentPageSchema(StrictSchema):
    items = fields.List(fields.Nested(IncidentSchema))
    pagination = fields.Nested(PaginationSchema)


class TrendWeekSchema(StrictSchema):
    start = fields.DateTime(metadata={"description": "本周在区间内的起点"})
    monday = fields.Date(metadata={"description": "本周周一（北京时间）"})
    label = fields.String()
    received = fields.Integer(metadata={"description": "本周受理的案件数"})
    closed = fields.Integer(metadata={"description": "本周办结的案件数"})
    overdue = fields.Integer(metadata={"description": "本周到期且未按时办理的环节数"})


class TrendTotalsSchema(StrictSchema):
    received = fields.Integer()
    closed = fields.Integer()
    overdue = fields.Integer()


class TrendSchema(StrictSchema):
    start = fields.DateTime()
    end = fields.DateTime()
    weeks = fields.List(fields.Nested(TrendWeekSchema))
    totals = fields.Nested(TrendTotalsSchema)


class HeatStepSchema(StrictSchema):
    bpmn_id = fields.String()
    name = fields.String()
    open = fields.Integer(metadata={"description": "在办任务数"})
    overdue = fields.Integer(metadata={"description": "其中超期"})
    due_soon = fields.Integer(metadata={"description": "其中临期"})


class HeatTotalsSchema(StrictSchema):
    open = fields.Integer()
    overdue = fields.Integer()
    due_soon = fields.Integer()


class HeatmapSchema(StrictSchema):
    process = fields.String()
    process_title = fields.String()
    version = fields.Integer(allow_none=True, metadata={"description": "流程图所用的最新版本"})
    now = fields.DateTime()
    steps = fields.List(fields.Nested(HeatStepSchema))
    totals = fields.Nested(HeatTotalsSchema)


class NoteSchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    note = fields.String(load_default=None, allow_none=True, metadata={"description": "说明（必填）"})


class SuperviseSchema(NoteSchema):
    deadline = fields.String(load_default=None, allow_none=True,
                             metadata={"description": "督办期限，ISO 日期时间；不带时区按北京时间"})


class ReassignSchema(NoteSchema):
    username = fields.String(load_default=None, allow_none=True)


class ExtensionSchema(NoteSchema):
    decision = fields.String(load_default=None, allow_none=True, metadata={"description": "approve 或 refuse"})
    days = fields.Integer(load_default=None, allow_none=True, strict=True,
                          error_messages={"invalid": "应为整数"}, metadata={"description": "延期工作日数（批准时必填）"})


class ActionResultSchema(StrictSchema):
    action = fields.String()
    at = fields.DateTime()
    note = fields.String()
    task_id = fields.Integer(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    notified = fields.List(fields.Integer(), metadata={"description": "收到通知的用户 id"})
    data = fields.Method("dump_data")

    def dump_data(self, result):
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in result.data.items()}


# --- views ---------------------------------------------------------------------------------------

# ?format=csv|xlsx answers a file: documented beside the JSON answer (schemathesis checks the types)
def exported(schema) -> dict:
    return {"responses": {"200": {"description": "OK（?format=csv|xlsx 时为文件）", "content": {
        "application/json": {"schema": schema},
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}}}


def _file(result: export.Export) -> Response:
    response = Response(result.content, content_type=result.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


def _task_list(kind: str, query: dict):
    user = require_user()
    filters = queries.Filters.from_mapping(query)
    if query["format"] != "json":
        return _file(export.export_tasks(user, kind, query["format"], filters, sort=query["sort"],
                                         within=query["within"]))
    page = queries.list_tasks(user, kind, filters, sort=query["sort"], page=query["page"],
                              per_page=query["per_page"], within=query["within"])
    return {**paginate(page), "now": page.now, "horizon": page.meta.get("horizon")}


@blp.get("/overdue")
@blp.arguments(SupervisionListQuerySchema, location="query")
@blp.response(200, SupervisionTaskPageSchema)
@blp.doc(**exported(SupervisionTaskPageSchema))
def overdue(query):
    """Open tasks past their due date in my units (all for an administrator); ?format=csv|xlsx exports."""
    return _task_list("overdue", query)


@blp.get("/due-soon")
@blp.arguments(SupervisionListQuerySchema, location="query")
@blp.response(200, SupervisionTaskPageSchema)
@blp.doc(**exported(SupervisionTaskPageSchema))
def due_soon(query):
    """Open tasks turning yellow or due within `within` (default 1 working day); ?format=csv|xlsx exports."""
    return _task_list("due_soon", query)


@blp.get("/summary")
@blp.arguments(SummaryQuerySchema, location="query")
@blp.response(200, SummarySchema)
def summary(query):
    """How many overdue (kind=overdue) or due-soon tasks per unit, district, process, channel or step."""
    groups = queries.summarize(require_user(), query["kind"], query["by"], queries.Filters.from_mapping(query),
                               within=query["within"])
    return {"kind": query["kind"], "by": query["by"], "groups": groups}


@blp.get("/trend")
@blp.arguments(TrendQuerySchema, location="query")
@blp.response(200, TrendSchema)
def trend(query):
    """Per week of [start, end): cases received, cases closed, steps that fell overdue (the dashboard chart)."""
    return queries.weekly_trend(require_user(), query["start"], query["end"], queries.Filters.from_mapping(query))


@blp.get("/heatmap")
@blp.arguments(HeatmapQuerySchema, location="query")
@blp.response(200, HeatmapSchema)
def heatmap(query):
    """Open, overdue and due-soon tasks per step of one process (the diagram heat map)."""
    return queries.step_heat(require_user(), query["process"], queries.Filters.from_mapping(query),
                             within=query["within"])


@blp.get("/kpis")
@blp.arguments(KpiQuerySchema, location="query")
@blp.response(200, KpiResultSchema)
@blp.doc(**exported(KpiResultSchema))
def kpi_tiles(query):
    """The KPIs over [start, end) (dates are Beijing days, end excluded), optionally of one process."""
    user = require_user()
    if query["format"] != "json":
        return _file(export.export_kpis(user, query["format"], query["start"], query["end"], query["process"]))
    return kpis.compute_kpis(user, query["start"], query["end"], query["process"])


@blp.get("/incidents")
@blp.arguments(IncidentQuerySchema, location="query")
@blp.response(200, IncidentPageSchema)
@blp.doc(**exported(IncidentPageSchema))
def incidents(query):
    """Unresolved incidents (failed jobs) and instances stopped by a script error, newest first."""
    user = require_user()
    if query["format"] != "json":
        return _file(export.export_incidents(user, query["format"]))
    return paginate(queries.list_incidents(user, page=query["page"], per_page=query["per_page"]))


@blp.post("/incidents/<int:incident_id>/retry")
@blp.arguments(NoteSchema)
@blp.response(200, ActionResultSchema)
def retry_incident(body, incident_id):
    """Queue the failed job again (the dispatcher runs it on its next tick) and resolve the incident."""
    return actions.retry_incident(incident_id, require_user(), body["note"])


@blp.post("/instances/<int:instance_id>/retry")
@blp.arguments(NoteSchema)
@blp.response(200, ActionResultSchema)
def retry_script_error(body, instance_id):
    """Replay the action whose script failed (a task completion with its saved draft, or due timers)."""
    return actions.retry_script_error(instance_id, require_user(), body["note"])


@blp.post("/tasks/<int:task_id>/remind")
@blp.arguments(NoteSchema)
@blp.response(200, ActionResultSchema)
def remind(body, task_id):
    """催办: notify whoever works on the task."""
    return actions.remind_task(task_id, require_user(), body["note"])


@blp.post("/tasks/<int:task_id>/supervise")
@blp.arguments(SuperviseSchema)
@blp.response(200, ActionResultSchema)
def supervise(body, task_id):
    """督办 with a deadline; the lists show the latest 督办 deadline."""
    return actions.supervise_task(task_id, require_user(), body["note"], body["deadline"])


@blp.post("/tasks/<int:task_id>/reassign")
@blp.arguments(ReassignSchema)
@blp.response(200, ActionResultSchema)
def reassign(body, task_id):
    """Hand the task to another member of its candidate groups; 422 for anyone else."""
    return actions.reassign_task(task_id, require_user(), body["username"], body["note"])


@blp.post("/tasks/<int:task_id>/extension")
@blp.arguments(ExtensionSchema)
@blp.response(200, ActionResultSchema)
def extension(body, task_id):
    """Approve (decision=approve, days working days) or refuse (decision=refuse) an extension."""
    return actions.decide_extension(task_id, require_user(), body["decision"], body["note"], body["days"])
