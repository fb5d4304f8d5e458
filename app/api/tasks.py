"""The inbox and task actions."""
from types import SimpleNamespace

from flask_smorest import Blueprint

from app.api.common import paginate, require_user
from app.api.schemas import DataSchema, DelegateSchema, TaskDetailSchema, TaskPageSchema, TaskQuerySchema, TaskSchema
from app.tasks import services

PREFIX = "/tasks"
blp = Blueprint("api_tasks", __name__, description="任务 Tasks")


@blp.get("")
@blp.arguments(TaskQuerySchema, location="query")
@blp.response(200, TaskPageSchema)
def list_tasks(query):
    """READY tasks: scope=mine (claimed by me), group (offered to my groups), all (both)."""
    user = require_user()
    page = services.list_tasks(user, query["scope"], overdue=query["overdue"], process_key=query["process"],
                               page=query["page"], per_page=query["per_page"])
    return paginate(page)


@blp.get("/<int:task_id>")
@blp.response(200, TaskDetailSchema)
def get_task(task_id):
    """A task with its form schema, UI schema, instructions and current data."""
    user = require_user()
    details = services.task_details(services.get_visible_task(task_id, user), user)
    task = details["task"]
    return SimpleNamespace(**{column.key: getattr(task, column.key) for column in task.__table__.columns},
                           form_schema=details["form_schema"], ui_schema=details["ui_schema"],
                           instructions=details["instructions"], data=details["data"])


@blp.post("/<int:task_id>/claim")
@blp.response(200, TaskSchema)
def claim(task_id):
    """Claim a task offered to one of my groups; 409 when someone else holds it."""
    return services.claim_task(task_id, require_user())


@blp.post("/<int:task_id>/unclaim")
@blp.response(200, TaskSchema)
def unclaim(task_id):
    """Give a claimed task back to its groups."""
    return services.unclaim_task(task_id, require_user())


@blp.post("/<int:task_id>/delegate")
@blp.arguments(DelegateSchema)
@blp.response(200, TaskSchema)
def delegate(body, task_id):
    """Hand the task to another member of its candidate groups."""
    return services.delegate_task(task_id, require_user(), body["username"])


@blp.post("/<int:task_id>/complete")
@blp.arguments(DataSchema)
@blp.response(200, TaskSchema)
def complete(body, task_id):
    """Complete with form data: 422 with per-field errors, 409 when already done or held by another."""
    return services.complete_task(task_id, body["data"], require_user())
