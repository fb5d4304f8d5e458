"""Task due dates at creation, the escalation ladder driven with an injected clock, pause/extend."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.conftest import deploy_fixture
from tests.samples import ASSESS, REGISTER, START

CST = timezone(timedelta(hours=8))


def _start(api, key, user="intake1", data=None):
    resp = api.post(f"/api/v1/process-definitions/{key}/start", user=user, json={"data": data or {}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _task(task_id):
    from app.extensions import db
    from app.tasks.models import HumanTask
    db.session.expire_all()
    return db.session.get(HumanTask, task_id)


def test_due_in_property_gives_due_and_warn_in_working_days(seeded, api, clock):
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2025, 9, 29, 10, 0, tzinfo=CST))                 # Monday before National Day
    task = _task(_start(api, "sla_task")["tasks"][0]["id"])
    # 3 WD after 09-29: 09-30, then the holiday 10-01..10-08 is skipped, 10-09, 10-10
    assert task.due_at == datetime(2025, 10, 10, 23, 59, 59, tzinfo=CST)
    assert task.warn_at == datetime(2025, 10, 9, 23, 59, 59, tzinfo=CST) or task.warn_at < task.due_at
    assert task.deadline["steps"] == ["3WD"] and task.due_provisional is False
    body = api.get(f"/api/v1/tasks/{task.id}", user="intake1").get_json()
    assert body["due_at"].startswith("2025-10-10T15:59:59")             # stored and shown in UTC


def test_the_case_limit_in_data_sets_the_due_date_of_the_handling_task(seeded, api, clock):
    clock.set(datetime(2025, 9, 26, 15, 40, tzinfo=CST))
    started = _start(api, "complaint", data={**START, "channel": "hotline_12345", "appeal_type": "consult"})
    api.post(f"/api/v1/tasks/{started['tasks'][0]['id']}/complete", user="intake1",
             json={"data": {**REGISTER, "channel": "hotline_12345", "appeal_type": "consult"}})
    steps = [("dispatch1", {**ASSESS, "appeal_type": "consult"}), ("dispatch1", {"handler_org": "pj_gov"}),
             ("handler_pj", {"sign_action": "sign", "signer": "区经办"}),
             ("handler_pj", {"contact_time": "2025-09-26T15:40:00+08:00", "contact_method": "电话",
                             "initial_opinion": "已联系。"})]
    for user, data in steps:   # assess, dispatch, sign_in, first_contact
        inst = api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="admin").get_json()
        done = api.post(f"/api/v1/tasks/{inst['open_tasks'][0]['id']}/complete", user=user, json={"data": data})
        assert done.status_code == 200, done.get_json()
    inst = api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="admin").get_json()
    handle = _task(inst["open_tasks"][0]["id"])
    assert handle.bpmn_id == "handle" and handle.deadline["steps"] == ["2WD"]
    # DOMAIN §1.2: 2025-09-26 (Fri) + 2 WD = 2025-09-29 (Sun 09-28 is a 调休 working day)
    assert handle.due_at == datetime(2025, 9, 29, 23, 59, 59, tzinfo=CST)


def test_a_year_without_official_data_gives_a_provisional_date_not_an_error(seeded, api, clock):
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2026, 12, 29, 9, 0, tzinfo=CST))
    task = _task(_start(api, "sla_task")["tasks"][0]["id"])
    assert task.due_at is not None and task.due_provisional is True


def test_the_ladder_climbs_once_per_rung_with_notifications_and_audit(seeded, api, clock):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.models import TimerJob
    from app.extensions import db
    from app.notifications.models import Notification
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2025, 11, 3, 10, 0, tzinfo=CST))                  # Monday
    started = _start(api, "sla_task")
    task_id = started["tasks"][0]["id"]
    task = _task(task_id)
    assert task.due_at == datetime(2025, 11, 6, 23, 59, 59, tzinfo=CST)

    def notes(kind):
        return db.session.execute(sa.select(sa.func.count()).select_from(Notification)
                                  .where(Notification.kind == kind)).scalar_one()

    assert dispatch_due_jobs(now=task.warn_at - timedelta(seconds=1)).claimed == 0
    dispatch_due_jobs(now=task.warn_at + timedelta(seconds=1))
    assert _task(task_id).sla_state == "yellow" and notes("remind") == 1
    dispatch_due_jobs(now=task.warn_at + timedelta(minutes=5))          # nothing new
    assert notes("remind") == 1
    dispatch_due_jobs(now=task.due_at + timedelta(seconds=1))
    assert _task(task_id).sla_state == "red" and notes("overdue") == 1
    notice = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == "notice")).scalar_one()
    assert notice.due_at == datetime(2025, 11, 7, 9, 0, tzinfo=CST)     # next working day, office opens
    dispatch_due_jobs(now=notice.due_at + timedelta(seconds=1))
    assert _task(task_id).escalation_step == "notice"
    from app.notifications.services import users_in_groups
    supervisors = len(users_in_groups(["supervisor"]))
    assert notes("notice") == 1 + supervisors                            # the handler + a copy to each supervisor
    later = db.session.execute(sa.select(TimerJob.kind, TimerJob.due_at).where(
        TimerJob.kind.in_(["supervise", "criticise"])).order_by(TimerJob.due_at)).all()
    assert [k for k, _ in later] == ["supervise", "criticise"]
    assert later[1][1] == datetime(2025, 11, 14, 23, 59, 59, tzinfo=CST)  # 5 WD after the notice
    dispatch_due_jobs(now=later[1][1] + timedelta(seconds=1))
    assert _task(task_id).escalation_step == "criticise"
    assert notes("supervise") == 1 + supervisors and notes("criticise") == 1 + supervisors
    inst = api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="admin").get_json()
    rungs = [h["data"]["rung"] for h in inst["history"] if h["action"] == "escalate"]
    assert rungs == ["remind", "overdue", "notice", "supervise", "criticise"]
    unread = api.get("/api/v1/tasks", user="intake1")   # the handler group still sees the task
    assert unread.status_code == 200


def test_completing_the_task_cancels_its_deadline_jobs(seeded, api, clock):
    from app.deadlines.models import TimerJob
    from app.extensions import db
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2025, 11, 3, 10, 0, tzinfo=CST))
    task_id = _start(api, "sla_task")["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": {}}).status_code == 200
    db.session.expire_all()
    statuses = {j.kind: j.status for j in db.session.execute(sa.select(TimerJob).where(
        TimerJob.human_task_id == task_id)).scalars()}
    assert statuses == {"sla_warn": "cancelled", "overdue": "cancelled"}


def test_pause_stops_the_clock_and_resume_carries_the_rest_over(seeded, api, clock):
    from app.auth.services import get_user_by_username
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.services import extend_deadline, pause_clock, resume_clock
    from app.errors import AppError, Conflict
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2025, 11, 3, 10, 0, tzinfo=CST))                  # due Thu 11-06 end of day
    task_id = _start(api, "sla_task")["tasks"][0]["id"]
    admin = get_user_by_username("admin")
    with pytest.raises(AppError):
        pause_clock(task_id, admin, " ")
    pause_clock(task_id, admin, "等待申请人补正", now=datetime(2025, 11, 4, 10, 0, tzinfo=CST))  # Tue
    with pytest.raises(Conflict):
        pause_clock(task_id, admin, "again", now=datetime(2025, 11, 4, 11, 0, tzinfo=CST))
    assert dispatch_due_jobs(now=datetime(2025, 11, 20, tzinfo=CST)).claimed == 0   # no jobs while paused
    resume_clock(task_id, admin, now=datetime(2025, 11, 10, 10, 0, tzinfo=CST))     # next Monday
    # 2 working days were left at the pause (Wed, Thu): from Mon 11-10 that is Wed 11-12
    task = _task(task_id)
    assert task.due_at == datetime(2025, 11, 12, 23, 59, 59, tzinfo=CST) and task.paused_at is None
    extend_deadline(task_id, admin, "需现场核查", "5WD", now=datetime(2025, 11, 11, 10, 0, tzinfo=CST))
    assert _task(task_id).due_at == datetime(2025, 11, 19, 23, 59, 59, tzinfo=CST)
    with pytest.raises(AppError) as bad:
        extend_deadline(task_id, admin, "", "15XD")
    assert set(bad.value.fields) == {"reason", "duration"} and "WD" in bad.value.fields["duration"][0]
    from app.audit.models import AuditEvent
    from app.extensions import db
    actions = [e.action for e in db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.human_task_id == task_id).order_by(AuditEvent.id)).scalars()]
    assert actions == ["pause", "resume", "extend"]


def test_loading_the_official_year_recomputes_provisional_due_dates(seeded, api, clock, tmp_path):
    import json
    from app.calendar.schedule import schedule_from_library
    from app.deadlines.services import load_year
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2026, 12, 29, 9, 0, tzinfo=CST))
    task_id = _start(api, "sla_task")["tasks"][0]["id"]
    before = _task(task_id)
    assert before.due_provisional
    due_before = before.due_at
    assert due_before == datetime(2027, 1, 4, 23, 59, 59, tzinfo=CST)   # by the statutory rules
    # pretend the State Council made Mon 2027-01-04 a day off (and nothing else changed)
    schedule = schedule_from_library(2026, "test")
    data = json.loads(schedule.to_json())
    data.update({"year": 2027, "holidays": [["2027-01-01", "2027-01-04"]], "workdays": []})
    from app.calendar.schedule import parse_schedule
    days, recomputed = load_year(parse_schedule(json.dumps(data), "2027.json"))
    after = _task(task_id)
    assert days == 365 and recomputed == 1 and after.due_provisional is False
    assert after.due_at == datetime(2027, 1, 5, 23, 59, 59, tzinfo=CST)


def test_the_handler_sees_the_reminder_in_their_notifications(seeded, api, clock):
    from app.deadlines.dispatcher import dispatch_due_jobs
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2025, 11, 3, 10, 0, tzinfo=CST))
    task = _task(_start(api, "sla_task")["tasks"][0]["id"])
    dispatch_due_jobs(now=task.warn_at + timedelta(seconds=1))
    box = api.get("/api/v1/notifications?unread=1", user="intake1").get_json()
    assert box["unread_count"] == 1 and box["items"][0]["kind"] == "remind"
    assert box["items"][0]["task_id"] == task.id
    assert api.get("/api/v1/notifications", user="dispatch1").get_json()["unread_count"] == 0   # not theirs
    marked = api.post("/api/v1/notifications/read", user="intake1", json={}).get_json()
    assert marked["marked"] == 1
    assert api.get("/api/v1/notifications", user="intake1").get_json()["unread_count"] == 0
    detail = api.get(f"/api/v1/tasks/{task.id}", user="intake1").get_json()
    assert detail["escalation_step"] == "remind" and detail["paused"] is False


def test_the_notice_is_copied_to_the_supervisors_of_the_tasks_unit_only(seeded, api, clock):
    """催办通知书 goes to the unit's deputy head: the city 督办员 (all units) gets a copy, the
    市场监管局's 督办员 does not get one for a 人社局 task."""
    from app.auth.models import User
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.models import TimerJob
    from app.extensions import db
    from app.notifications.models import Notification
    clock.set(datetime(2025, 11, 3, 10, 0, tzinfo=CST))
    started = _start(api, "complaint", data=START)
    iid = started["instance"]["id"]
    steps = [("intake1", REGISTER), ("dispatch1", ASSESS), ("dispatch1", {"handler_org": "jm_rsj"})]
    for user, data in steps:
        inst = api.get(f"/api/v1/process-instances/{iid}", user="admin").get_json()
        done = api.post(f"/api/v1/tasks/{inst['open_tasks'][0]['id']}/complete", user=user, json={"data": data})
        assert done.status_code == 200, done.get_json()
    sign_in = _task(api.get(f"/api/v1/process-instances/{iid}", user="admin").get_json()["open_tasks"][0]["id"])
    assert sign_in.bpmn_id == "sign_in" and sign_in.candidate_groups == ["jm_rsj"]
    dispatch_due_jobs(now=sign_in.due_at + timedelta(seconds=1))          # overdue
    notice = db.session.execute(sa.select(TimerJob).where(
        TimerJob.kind == "notice", TimerJob.human_task_id == sign_in.id)).scalar_one()
    dispatch_due_jobs(now=notice.due_at + timedelta(seconds=1))
    copied = set(db.session.execute(sa.select(User.username).join(Notification, Notification.user_id == User.id)
                                    .where(Notification.kind == "notice")).scalars())
    assert copied == {"handler2", "supervisor"}
