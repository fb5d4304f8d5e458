"""/api/v1/admin (role admin, #15): the user list with each account's state, and unlocking an account."""
from flask_smorest import Blueprint
from marshmallow import fields, validate

from app.admin import users
from app.api.common import require_user
from app.api.schemas import ErrorSchema, StrictSchema
from app.errors import Forbidden

PREFIX = "/admin"
blp = Blueprint("api_admin", __name__, description="系统管理 Administration (role admin)")


class AdminUserSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    is_active = fields.Boolean(attribute="is_active_user")
    locked = fields.Boolean()
    locked_until = fields.DateTime(allow_none=True)
    failed_login_count = fields.Integer()
    must_change_password = fields.Boolean()
    groups = fields.List(fields.String(), metadata={"description": "group titles"})


class AdminUserListSchema(StrictSchema):
    items = fields.List(fields.Nested(AdminUserSchema))


class AdminUserQuerySchema(StrictSchema):
    q = fields.String(load_default="", validate=validate.Length(max=100))


class ReasonSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=users.REASON_MAX))


def _admin():
    user = require_user()
    if not user.is_admin:
        raise Forbidden("只有系统管理员可以使用管理接口")
    return user


def _dump(user) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "email": user.email,
            "phone": user.phone, "is_active_user": user.is_active_user, "locked": users.is_locked(user),
            "locked_until": user.locked_until, "failed_login_count": user.failed_login_count or 0,
            "must_change_password": bool(user.must_change_password), "groups": sorted(g.title for g in user.groups)}


@blp.get("/users")
@blp.arguments(AdminUserQuerySchema, location="query")
@blp.response(200, AdminUserListSchema)
@blp.alt_response(401, schema=ErrorSchema, description="not logged in")
@blp.alt_response(403, schema=ErrorSchema, description="not an administrator")
def list_users(query):
    """Every account (or those matching q), with its lockout and password-change state."""
    _admin()
    return {"items": [_dump(u) for u in users.list_users(query["q"].strip())]}


@blp.post("/users/<int:user_id>/unlock")
@blp.arguments(ReasonSchema)
@blp.response(200, AdminUserSchema)
@blp.alt_response(401, schema=ErrorSchema, description="not logged in")
@blp.alt_response(403, schema=ErrorSchema, description="not an administrator")
@blp.alt_response(404, schema=ErrorSchema, description="no such user")
@blp.alt_response(409, schema=ErrorSchema, description="the account is not locked")
def unlock_user(body, user_id):
    """Lift an account's temporary lockout (audited with the reason); 409 when it is not locked."""
    actor = _admin()
    return _dump(users.unlock(actor, users.get_user(user_id), body["reason"]))
