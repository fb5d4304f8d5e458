"""POST /api/v1/auth/token."""
from flask_smorest import Blueprint

from app.api.schemas import ErrorSchema, TokenRequestSchema, TokenSchema
from app.auth import services
from app.auth.throttle import throttled

PREFIX = "/auth"
blp = Blueprint("api_auth", __name__, description="令牌 Authentication")


@blp.post("/token")
@throttled()
@blp.arguments(TokenRequestSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=ErrorSchema, description="用户名或密码不正确，或账户已暂时锁定（同一答复）")
@blp.alt_response(429, schema=ErrorSchema, description="登录失败次数过多（按账户、按 IP 限制）")
def create_token(body):
    """Exchange a username and password for a bearer token."""
    token, row = services.issue_token(body["username"], body["password"])
    return {"token": token, "token_type": "Bearer", "expires_at": row.expires_at, "username": row.user.username}
