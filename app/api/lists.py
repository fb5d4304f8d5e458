"""The lists beside the inbox (issue #12): 已办 (GET /tasks/completed) and the case search (GET /cases).
Same queries, filters and visibility as the pages (app/tasks/queries.py, app/cases/search.py)."""
from __future__ import annotations

from types import SimpleNamespace

from flask_smorest import Blueprint
from marshmallow import EXCLUDE, fields, validate

from app.api.common import paginate, require_user
from app.api.schemas import CaseSchema, PaginationSchema, StrictSchema, TaskSchema
from app.cases import search
from app.tasks import follow_up, queries

PREFIX = ""
blp = Blueprint("api_lists", __name__, description="已办与案件查询 Completed tasks and case search")

# worded here, not by StrictSchema: the case search's schema is the page's own (app.cases.search)
PER_PAGE = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="每页条数应为 1 到 100"),
                          error_messages={"invalid": "每页条数应为整数"})


class CompletedQuerySchema(StrictSchema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=100, error="搜索内容不能超过 {max} 个字"),
                      metadata={"description": "案件编号、企业名称、统一社会信用代码或标题（部分匹配）"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000, error="页码应为正整数"))
    per_page = PER_PAGE


class ListCaseSchema(CaseSchema):
    company_name = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True)
    is_confidential = fields.Boolean()


class CompletedTaskSchema(TaskSchema):
    case = fields.Nested(ListCaseSchema, allow_none=True)
    instance_status = fields.String(metadata={"description": "流程实例当前状态：running/completed/…"})
    current_steps = fields.List(fields.String(), metadata={"description": "案件当前所在环节（待办任务名称）"})


class CompletedPageSchema(StrictSchema):
    items = fields.List(fields.Nested(CompletedTaskSchema))
    pagination = fields.Nested(PaginationSchema)


class CaseQuerySchema(search.CaseSearchSchema):
    per_page = PER_PAGE


class CaseRowSchema(ListCaseSchema):
    unit_title = fields.String(allow_none=True, metadata={"description": "承办单位名称"})
    instance_id = fields.Integer()
    instance_status = fields.String()
    current_steps = fields.List(fields.String())


class CaseSearchPageSchema(StrictSchema):
    items = fields.List(fields.Nested(CaseRowSchema))
    pagination = fields.Nested(PaginationSchema)


def _completed_item(row: queries.DoneRow) -> SimpleNamespace:
    task = row.task   # TaskSchema's methods read attributes (paused_at, due_at...)
    return SimpleNamespace(**{column.key: getattr(task, column.key) for column in task.__table__.columns},
                           case=row.case, instance_status=row.instance_status, current_steps=row.current_steps)


def _case_item(row: search.CaseRow) -> SimpleNamespace:
    case = row.case
    return SimpleNamespace(**{column.key: getattr(case, column.key) for column in case.__table__.columns},
                           unit_title=row.unit_title, instance_id=row.instance_id,
                           instance_status=row.instance_status, current_steps=row.current_steps)


@blp.get("/tasks/completed")
@blp.arguments(CompletedQuerySchema, location="query")
@blp.response(200, CompletedPageSchema)
def list_completed(query):
    """已办: the tasks I completed, newest first, each with its case and the case's current state."""
    user = require_user()
    page = queries.list_completed_tasks(user, queries.DoneFilters(q=query["q"].strip(), page=query["page"]),
                                        per_page=query["per_page"])
    return paginate(_Items(page, [_completed_item(r) for r in page.rows]))


@blp.get("/cases")
@blp.arguments(CaseQuerySchema, location="query")
@blp.response(200, CaseSearchPageSchema)
def search_cases(query):
    """Case search: the cases I may open (the case page's rule), newest first; a reporter's phone
    matches only where I may see the identity."""
    user = require_user()
    per_page = query.pop("per_page")
    filters = search.CaseFilters(**{k: v.strip() if isinstance(v, str) else v for k, v in query.items()})
    page = search.search_cases(user, filters, per_page=per_page)
    return paginate(_Items(page, [_case_item(r) for r in page.rows]))


class FollowUpSchema(StrictSchema):
    follow_up_on = fields.Date(required=True, allow_none=True, error_messages={
        "invalid": "请按“年-月-日”填写有效日期，例如 2026-12-05", "required": "请填写跟进日期（清除时传 null）"},
        metadata={"description": "跟进日期 YYYY-MM-DD；null 清除"})


@blp.post("/tasks/<int:task_id>/follow-up")
@blp.arguments(FollowUpSchema)
@blp.response(200, TaskSchema)
def set_follow_up(body, task_id):
    """Set or clear (null) the task's 跟进日期: whoever may act on it; 422 for a past day or one more
    than a year ahead, 409 when it is done or held by another."""
    user = require_user()
    day = follow_up.parse_follow_up(body["follow_up_on"])
    return follow_up.set_follow_up(task_id, user, day)


class _Items:
    """A ListPage with its rows shaped for the schema."""

    def __init__(self, page, items):
        self.items, self.page, self.per_page, self.total = items, page.page, page.per_page, page.total
