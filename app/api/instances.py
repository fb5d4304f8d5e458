"""Process instances: status, data, open tasks and history."""
from flask_smorest import Blueprint

from app.api.common import require_user
from app.api.schemas import InstanceSchema
from app.api.views import instance_payload
from app.errors import Forbidden
from app.processes import instances

PREFIX = "/process-instances"
blp = Blueprint("api_instances", __name__, description="流程实例 Process instances")


@blp.get("/<int:instance_id>")
@blp.response(200, InstanceSchema)
def get_instance(instance_id):
    """Status, visible data, open tasks and the full history with actor and time."""
    user = require_user()
    instance = instances.get_instance(instance_id)
    if not instances.can_read_instance(user, instance):
        raise Forbidden("您无权查看该流程实例")
    return instance_payload(instances.instance_details(instance, user))
