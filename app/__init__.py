"""Application factory: reads like a table of contents; no side effects beyond wiring."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, redirect, render_template, url_for
from sqlalchemy import event

from app.config import Config, config_for_env
# (not `api`: importing the app.api package would rebind that name in this namespace)
from app.extensions import api as smorest_api
from app.extensions import csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None, config_class: type[Config] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    configure(app, config_class or config_for_env(), test_config)
    register_extensions(app)
    register_engine(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def configure(app: Flask, config_class: type[Config], test_config: dict | None) -> None:
    app.config.from_object(config_class)
    if test_config:
        app.config.update(test_config)
    if app.config["ENV_NAME"] == "production":
        missing = [k for k in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI") if not app.config.get(k)]
        if missing:
            raise RuntimeError(
                "production refuses to start without " + " and ".join(
                    "SECRET_KEY" if k == "SECRET_KEY" else "DATABASE_URL" for k in missing))
    app.json.ensure_ascii = False   # readable Chinese in JSON answers
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "wuyi.sqlite")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):  # the form some hosts hand out
        uri = app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len("postgres://"):]
    elif uri.startswith("postgresql://"):
        uri = app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len("postgresql://"):]
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.setdefault("connect_args", {}).setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT"])
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    app.config.setdefault("BPMN_DIR", None)
    app.config["BPMN_DIR"] = app.config["BPMN_DIR"] or str(PROJECT_ROOT / "bpmn")
    app.config["FORMS_DIR"] = app.config["FORMS_DIR"] or str(PROJECT_ROOT / "forms")


def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers work while one writer commits; synchronous=FULL makes every commit durable
    (state must never be lost, even on power failure); foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    from app import models  # noqa: F401  (every table on the metadata, for migrations)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True,
                     render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    smorest_api.init_app(app)
    from app.security import register_security
    register_security(app, smorest_api)   # before the blueprints: their <int:...> ids take its converter
    from app.auth import services as auth_services  # noqa: F401  (registers the user loaders)


def register_engine(app: Flask) -> None:
    from app import engine
    from app.connectors import build_registry, make_caller
    from app.deadlines.due import add_business_duration
    from app.engine.helpers import script_helpers
    connectors = build_registry(app.config)
    engine.configure(helpers=script_helpers(add_business_duration), time_limit=app.config["SCRIPT_TIME_LIMIT"],
                     services=make_caller(connectors, app.config), service_names=connectors)


def register_blueprints(app: Flask) -> None:
    from app.api import register_api
    from app.health import bp as health_bp
    from app.metrics import register_metrics
    from app.web import register_web

    register_metrics(app)   # first: the request id and the timer wrap every other hook
    app.register_blueprint(health_bp)
    register_api(smorest_api, csrf)
    register_web(app)
    from app.portal.views import bp as portal_bp   # #13: the public intake portal, no staff login
    app.register_blueprint(portal_bp)
    from app.integration.api import bp as integration_bp   # issue #13: signed platform requests, no CSRF
    csrf.exempt(integration_bp)
    app.register_blueprint(integration_bp)
    from app.admin.views import bp as admin_bp   # issue #15: /admin, the forced password change
    from app.web.oidc import bp as oidc_bp
    from app.web.password import bp as password_bp
    app.register_blueprint(admin_bp)
    app.register_blueprint(password_bp)
    app.register_blueprint(oidc_bp)
    app.add_template_global(oidc_enabled)

    @app.get("/")
    def home():
        return render_template("home.html")

    @app.get("/favicon.ico")   # browsers ask for it on their own, whatever the page links
    def favicon():
        return redirect(url_for("static", filename="favicon.svg"), code=301)


def oidc_enabled() -> bool:
    from app.auth.oidc import enabled
    return enabled()


def register_error_handlers(app: Flask) -> None:
    from app.errors import register_error_handlers as register
    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register_cli
    register_cli(app)
