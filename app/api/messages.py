"""POST /api/v1/messages: deliver a message to the instance it correlates with."""
from flask_smorest import Blueprint

from app.api.common import require_user
from app.api.schemas import InstanceSchema, MessageSchema
from app.api.views import instance_payload
from app.processes.instances import instance_details
from app.processes.messages import deliver_message

PREFIX = "/messages"
blp = Blueprint("api_messages", __name__, description="消息 Messages")


@blp.post("")
@blp.arguments(MessageSchema)
@blp.response(200, InstanceSchema)
def deliver(body):
    """Deliver {name, correlation: {instance_id | case_number}, payload}; 409 when nothing waits for it."""
    user = require_user()
    instance = deliver_message(body["name"], body["correlation"], body["payload"], user)
    return instance_payload(instance_details(instance, user))
