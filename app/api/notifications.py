"""The user's in-app notifications: list (with the unread count) and mark read."""
from flask_smorest import Blueprint

from app.api.common import paginate, require_user
from app.api.schemas import MarkReadSchema, NotificationPageSchema, NotificationQuerySchema
from app.notifications import services

PREFIX = "/notifications"
blp = Blueprint("api_notifications", __name__, description="通知 Notifications")


@blp.get("")
@blp.arguments(NotificationQuerySchema, location="query")
@blp.response(200, NotificationPageSchema)
def list_notifications(query):
    """My notifications, newest first, and how many are unread."""
    user = require_user()
    page = services.list_notifications(user.id, unread_only=query["unread"], page=query["page"],
                                       per_page=query["per_page"])
    return {**paginate(page), "unread_count": services.unread_count(user.id)}


@blp.post("/read")
@blp.arguments(MarkReadSchema)
@blp.response(200, MarkReadSchema)
def mark_read(body):
    """Mark some (ids) or all of my notifications read."""
    user = require_user()
    changed = services.mark_read(user.id, body.get("ids"))
    return {"ids": body.get("ids"), "marked": changed}
