"""Deployed processes: list, start."""
from flask_smorest import Blueprint

from app.api.common import require_user
from app.api.schemas import DataSchema, ProcessDefinitionSchema, StartResultSchema
from app.api.views import instance_payload
from app.processes import services

PREFIX = "/process-definitions"
blp = Blueprint("api_definitions", __name__, description="流程定义 Process definitions")


@blp.get("")
@blp.response(200, ProcessDefinitionSchema(many=True))
def list_definitions():
    """Deployed processes, latest version of each, newest first."""
    user = require_user()
    rows = services.list_latest_definitions()
    for row in rows:
        row.can_start = services.can_start(user, services.get_bundle(row.id))
    return rows


@blp.post("/<string:key>/start")
@blp.arguments(DataSchema)
@blp.response(201, StartResultSchema)
def start(body, key):
    """Start the latest version with the start form's data."""
    user = require_user()
    instance, case = services.start_process(key, body["data"], user)
    details = services.instance_details(instance)
    return {"instance": instance_payload(details), "case": case, "tasks": details["open_tasks"]}
