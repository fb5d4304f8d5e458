"""跟进日期 (Camunda's followUp): a local day a caseworker picks to come back to a task, before its due
date. Whoever may act on the task (tasks.services.can_act) sets or clears it; it changes neither the
process nor the deadline, so it leaves no audit event.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.auth.models import User
from app.db import set_committed
from app.errors import Conflict, FormInvalid
from app.extensions import db
from app.tasks.models import HumanTask, TaskStatus
from app.tasks.queries import local_today
from app.tasks.services import check_can_act, get_task

FIELD = "follow_up_on"
MAX_AHEAD = timedelta(days=366)


def parse_follow_up(text, *, today: date | None = None) -> date | None:
    """The follow-up day typed (YYYY-MM-DD), None for an empty one (clear it). Raises FormInvalid
    with a Chinese message on the field for anything else, a past day or one more than a year ahead."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, date):
        day = text
    else:
        try:
            day = date.fromisoformat(str(text).strip()) if len(str(text).strip()) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise FormInvalid("跟进日期填写有误", fields={FIELD: ["请按“年-月-日”填写有效日期，例如 2026-12-05"]})
    today = today or local_today()
    if day < today:
        raise FormInvalid("跟进日期填写有误", fields={FIELD: ["跟进日期不能早于今天"]})
    if day > today + MAX_AHEAD:
        raise FormInvalid("跟进日期填写有误", fields={FIELD: ["跟进日期不能晚于一年之后"]})
    return day


def set_follow_up(task_id: int, user: User, day: date | None) -> HumanTask:
    """Set (or, with None, clear) the task's follow-up day. Raises NotFound, Forbidden, Conflict
    (done, cancelled or held by another: tasks.services.check_can_act). Commits."""
    task = get_task(task_id)
    check_can_act(user, task)
    result = db.session.execute(
        sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY)
        .values(follow_up_on=day).execution_options(synchronize_session=False))
    if result.rowcount != 1:   # completed or cancelled since it was read
        db.session.rollback()
        raise Conflict("任务已办理完毕或已取消", code="task_not_ready")
    db.session.commit()
    set_committed(task, follow_up_on=day)
    return task
