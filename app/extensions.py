"""Unbound extension singletons; bound in create_app with init_app."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.db import Base

# expire_on_commit=False: a committed action's objects are dumped as they were written, without a refetch.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Rate limits are set per route (the portal, the login); storage from RATELIMIT_STORAGE_URI
# (memory:// on one node; the database-backed or Redis storage when several nodes share limits).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
class WuyiApi(Api):
    """flask-smorest documents its default error responses with this schema: our error shape."""

    from app.api.schemas import ErrorSchema as ERROR_SCHEMA  # noqa: N811


api = WuyiApi()
