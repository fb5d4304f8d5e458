"""我的申请 for API clients: the caller's own applications, what each asks of them and by when."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields

from app.api.common import paginate, require_user
from app.api.instance_list import CurrentStepSchema, PageQuerySchema, one_of
from app.api.schemas import PaginationSchema, StrictSchema
from app.processes import applications

PREFIX = "/applications"
blp = Blueprint("api_applications", __name__, description="我的申请 My applications")


class ApplicationQuerySchema(PageQuerySchema):
    state = fields.String(load_default="", validate=one_of({c: t for c, t in applications.STATES.items() if c}),
                          metadata={"description": "todo（待我办理）/ running / completed / cancelled；缺省为全部"})
    sort = fields.String(load_default="-started_at", validate=one_of(applications.SORTS))


class ApplicationSchema(StrictSchema):
    id = fields.Integer(metadata={"description": "流程实例 id"})
    status = fields.String()
    status_title = fields.String()
    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    case_title = fields.String(allow_none=True)
    company_name = fields.String(allow_none=True)
    process_name = fields.String()
    version = fields.Integer()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    current_steps = fields.List(fields.Nested(CurrentStepSchema))
    asked = fields.List(fields.Nested(CurrentStepSchema), metadata={"description": "需要我办理的环节（如补正）"})
    due_at = fields.DateTime(allow_none=True, metadata={"description": "当前环节最近的办理期限"})


class ApplicationPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ApplicationSchema))
    pagination = fields.Nested(PaginationSchema)


@blp.get("")
@blp.arguments(ApplicationQuerySchema, location="query")
@blp.response(200, ApplicationPageSchema)
def list_applications(query):
    """The process instances the caller started, newest first, each with what is asked of them."""
    user = require_user()
    filters = applications.ApplicationFilters(query["state"], query["sort"], query["page"])
    return paginate(applications.list_applications(user, filters, per_page=query["per_page"]))
