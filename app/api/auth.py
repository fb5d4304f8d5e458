"""POST /api/v1/auth/token."""
from flask_smorest import Blueprint

from app.api.schemas import TokenRequestSchema, TokenSchema
from app.auth import services

PREFIX = "/auth"
blp = Blueprint("api_auth", __name__, description="令牌 Authentication")


@blp.post("/token")
@blp.arguments(TokenRequestSchema)
@blp.response(200, TokenSchema)
def create_token(body):
    """Exchange a username and password for a bearer token."""
    token, row = services.issue_token(body["username"], body["password"])
    return {"token": token, "token_type": "Bearer", "expires_at": row.expires_at, "username": row.user.username}
