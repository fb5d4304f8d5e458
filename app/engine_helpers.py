"""The functions BPMN scripts and expressions may call, given to the engine's sandbox."""
from __future__ import annotations

from datetime import timedelta, timezone

from app.db import utcnow

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def now_iso() -> str:
    """The current time as an aware ISO string in Asia/Shanghai."""
    return utcnow().astimezone(SHANGHAI).isoformat(timespec="seconds")


def today_iso() -> str:
    return utcnow().astimezone(SHANGHAI).date().isoformat()


def script_helpers() -> dict:
    return {"now": now_iso, "today": today_iso}
