"""GET /healthz: is the process up, can it reach its database, is the scheduler running."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - health reports, never raises
        database = "unavailable"
    finally:
        db.session.rollback()
    scheduler = current_app.extensions.get("wuyi_scheduler_state", "off")
    status = "ok" if database == "ok" else "degraded"
    return jsonify(status=status, database=database, scheduler=scheduler), 200 if status == "ok" else 503
