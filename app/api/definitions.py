"""Deployed processes: list, start."""
from flask_smorest import Blueprint

from app.api.common import require_user
from app.api.schemas import ProcessDefinitionSchema, StartResultSchema, StartSchema
from app.api.views import instance_payload
from app.processes.instances import instance_details
from app.processes.running import start_process
from app.processes.versions import list_definitions_for

PREFIX = "/process-definitions"
blp = Blueprint("api_definitions", __name__, description="流程定义 Process definitions")


@blp.get("")
@blp.response(200, ProcessDefinitionSchema(many=True))
def list_definitions():
    """Deployed processes, latest version of each, newest first."""
    return [{"id": row.id, "key": row.key, "name": row.name, "version": row.version,
             "deployed_at": row.deployed_at, "source_file": row.source_file,
             "start_form": row.meta.get("start_form"), "can_start": can_start}
            for row, can_start in list_definitions_for(require_user())]


@blp.post("/<string:key>/start")
@blp.arguments(StartSchema)
@blp.response(201, StartResultSchema)
def start(body, key):
    """Start the latest version with the start form's data (through the channel's message start
    event when the process has one per channel)."""
    user = require_user()
    instance, case = start_process(key, body["data"], user, body.get("message"))
    details = instance_details(instance, user)
    return {"instance": instance_payload(details), "case": case, "tasks": details["open_tasks"]}
