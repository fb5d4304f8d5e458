"""The process-instance list (administrators and supervisors) and cancelling an instance with a reason.

GET /api/v1/process-instances and POST /api/v1/process-instances/{id}/cancel, beside the single
instance of app/api/instances.py. The page /instances loads its query with the same schema.
"""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import EXCLUDE, ValidationError, fields, validate, validates_schema

from app.api.common import paginate, require_user
from app.api.schemas import InstanceSchema, PaginationSchema, StrictSchema
from app.api.views import instance_payload
from app.processes.instances import instance_details
from app.processes.cancel import REASON_MAX, cancel_instance
from app.supervision import instances
from app.supervision.queries import MAX_YEAR, MIN_YEAR, YEAR_RANGE_MESSAGE

PREFIX = "/process-instances"
blp = Blueprint("api_instance_list", __name__, description="流程实例列表与撤销 Process instance list")

_CHOICE = "取值无效，可选：{labels}"
_DATE = {"invalid": "日期格式应为 YYYY-MM-DD"}


def one_of(titles: dict) -> validate.OneOf:
    """A choice among the codes of `titles`, refused with each code and its Chinese title."""
    return validate.OneOf(list(titles), labels=[f"{code}（{title}）" for code, title in titles.items()], error=_CHOICE)


class PageQuerySchema(StrictSchema):
    """page and per_page of a list's query string, refused in Chinese; other parameters ignored."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000, error="应在 {min} 至 {max} 之间"),
                          error_messages={"invalid": "应为整数"})
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="应在 {min} 至 {max} 之间"),
                              error_messages={"invalid": "应为整数"})


class InstanceQuerySchema(PageQuerySchema):
    process = fields.String(load_default=None, validate=validate.Length(max=100, error="不超过 {max} 个字符"),
                            metadata={"description": "流程 key"})
    version = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, error="应为正整数"),
                             error_messages={"invalid": "应为整数"},
                             metadata={"description": "流程版本号（须同时指定 process）"})
    status = fields.String(load_default=None, validate=one_of(instances.STATUS_TITLES),
                           metadata={"description": "running / completed / cancelled / incident（脚本出错或有未处理异常）"
                                                    " / error / suspended"})
    started_from = fields.Date(load_default=None, error_messages=_DATE,
                               metadata={"description": "发起日期起（含，北京时间）YYYY-MM-DD"})
    started_to = fields.Date(load_default=None, error_messages=_DATE,
                             metadata={"description": "发起日期止（含，北京时间）YYYY-MM-DD"})
    q = fields.String(load_default=None, validate=validate.Length(max=40, error="不超过 {max} 个字符"),
                      metadata={"description": "案件编号（部分匹配）"})
    sort = fields.String(load_default="-started_at", validate=one_of(instances.SORT_TITLES))

    @validates_schema
    def coherent(self, data, **kwargs):
        errors = {}
        if data.get("version") is not None and not data.get("process"):
            errors["version"] = ["按版本筛选须同时选择流程"]
        for name in ("started_from", "started_to"):
            day = data.get(name)
            if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
                errors[name] = [YEAR_RANGE_MESSAGE]
        start, end = data.get("started_from"), data.get("started_to")
        if start and end and end < start and "started_to" not in errors:
            errors["started_to"] = ["结束日期不能早于开始日期"]
        if errors:
            raise ValidationError(errors)


class CurrentStepSchema(StrictSchema):
    id = fields.Integer(metadata={"description": "任务 id"})
    name = fields.String(metadata={"description": "环节名称"})
    due_at = fields.DateTime(allow_none=True)


class InstanceRowSchema(StrictSchema):
    id = fields.Integer()
    status = fields.String()
    status_title = fields.String()
    has_incident = fields.Boolean(metadata={"description": "脚本出错或有未处理的异常"})
    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    case_title = fields.String(allow_none=True)
    unit_title = fields.String(allow_none=True, metadata={"description": "承办单位（派单后）"})
    process_key = fields.String()
    process_name = fields.String()
    version = fields.Integer()
    current_steps = fields.List(fields.Nested(CurrentStepSchema))
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    started_by_name = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)


class InstancePageSchema(StrictSchema):
    items = fields.List(fields.Nested(InstanceRowSchema))
    pagination = fields.Nested(PaginationSchema)


class CancelSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(max=REASON_MAX, error="不超过 {max} 个字"),
                           error_messages={"required": "必填：请说明撤销该流程实例的理由"},
                           metadata={"description": "撤销理由（必填）"})


@blp.get("")
@blp.arguments(InstanceQuerySchema, location="query")
@blp.response(200, InstancePageSchema)
def list_instances(query):
    """Instances the caller supervises (all for an administrator), filtered, sorted and paged; 403 for others."""
    user = require_user()
    page = instances.list_instances(user, instances.InstanceFilters.from_mapping(query), page=query["page"],
                                    per_page=query["per_page"])
    return paginate(page)


@blp.post("/<int:instance_id>/cancel")
@blp.arguments(CancelSchema)
@blp.response(200, InstanceSchema)
def cancel(body, instance_id):
    """Cancel a running instance with a reason (audited); its open tasks and their deadline jobs are
    cancelled. 403 outside the caller's units, 409 when it has already ended, 422 without a reason."""
    user = require_user()
    instance = cancel_instance(instance_id, user, body["reason"]).instance
    return instance_payload(instance_details(instance, user))
