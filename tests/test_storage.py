"""What a completed instance stores, compactly (issue #16: bytes per completed instance): UTC datetimes on
SQLite as integer microseconds since the epoch (app.db.UTCDateTime), 8 bytes where SQLAlchemy's text took 26
in the row and in every index holding the column; task ids as 16 bytes; states with a preset dictionary."""
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest
import sqlalchemy as sa

WHEN = datetime(2026, 3, 2, 1, 30, 5, 123456, tzinfo=timezone.utc)
STATE_DICTIONARY_ADLER32 = 436661105   # app.engine.runtime._STATE_DICTIONARY: stored states name it


def _sqlite_only(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores timestamptz")


def test_a_datetime_is_stored_as_microseconds_and_read_back_exactly(app, db):
    _sqlite_only(db)
    from app.audit.models import AuditEvent
    shanghai = timezone(timedelta(hours=8))
    event = AuditEvent(at=WHEN.astimezone(shanghai), action="comment")
    db.session.add(event)
    db.session.commit()
    kind, raw = db.session.execute(sa.text("SELECT typeof(at), at FROM audit_event WHERE id = :id"),
                                   {"id": event.id}).one()
    assert (kind, raw) == ("integer", 1772415005123456)
    db.session.expire_all()
    again = db.session.get(AuditEvent, event.id).at
    assert again == WHEN and again.tzinfo == timezone.utc and again.microsecond == 123456
    # compared, ordered and aggregated in SQL as datetimes
    assert db.session.execute(sa.select(sa.func.max(AuditEvent.at))).scalar_one() == WHEN
    assert db.session.execute(sa.select(sa.func.count()).where(
        AuditEvent.at > WHEN - timedelta(microseconds=1), AuditEvent.at <= WHEN)).scalar_one() == 1


def test_a_naive_datetime_is_refused(app, db):
    from app.audit.models import AuditEvent
    db.session.add(AuditEvent(at=datetime(2026, 3, 2, 1, 30), action="comment"))
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.flush()
    db.session.rollback()


def test_the_migration_turns_text_into_microseconds_and_back(app, db):
    """Revision d4a7e1c0f017 on a database written before it (text), then down again."""
    _sqlite_only(db)
    from flask_migrate import downgrade, upgrade

    from app.audit.models import AuditEvent
    downgrade(revision="c17b0f0e0016")
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO audit_event (id, at, action) VALUES "
                                 "(901, '2026-03-02 01:30:05.123456', 'comment'), "
                                 "(902, '1999-12-31 23:59:59', 'comment')")
    finally:
        upgrade()
    rows = dict(db.session.execute(sa.text(
        "SELECT id, typeof(at) FROM audit_event WHERE id IN (901, 902)")).all())
    assert rows == {901: "integer", 902: "integer"}
    assert db.session.get(AuditEvent, 901).at == WHEN
    assert db.session.get(AuditEvent, 902).at == datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    db.session.remove()
    downgrade(revision="c17b0f0e0016")
    try:
        with db.engine.connect() as conn:
            back = dict(conn.exec_driver_sql("SELECT id, at FROM audit_event WHERE id IN (901, 902)").all())
        assert back == {901: "2026-03-02 01:30:05.123456", 902: "1999-12-31 23:59:59.000000"}
    finally:
        upgrade()


def test_a_state_is_compressed_with_the_preset_dictionary_and_older_states_still_load():
    import json
    import zlib

    from app.engine import runtime
    summary = {"final": True, "success": True, "data": {"case_number": "JM-2026-0302-000001"},
               "completed_steps": ["EndEvent_1", "StartEvent_1", "Task_A"]}
    text = json.dumps(summary, separators=(",", ":")).encode()
    before = zlib.compress(text, 6)                       # how states were written before issue #16
    assert runtime._decode(before) == summary
    compressor = zlib.compressobj(6, zdict=runtime._STATE_DICTIONARY)
    now = compressor.compress(text) + compressor.flush()
    assert now[1] & 0x20 and len(now) < len(before) - 30    # FDICT set, and it pays
    assert runtime._decode(now) == summary
    # the dictionary is named by its checksum in every stored state: it must never change
    assert zlib.adler32(runtime._STATE_DICTIONARY) in runtime._DICTIONARIES
    assert zlib.adler32(runtime._STATE_DICTIONARY) == STATE_DICTIONARY_ADLER32


def test_a_task_row_keeps_its_spiff_id_in_16_bytes_and_no_json_null(app, db, api):
    """Through the real start: the task id is read back as the engine's text (and completes), the
    empty deadline and draft are SQL NULL, the datetimes integers; the migration converts rows written
    before it and leaves a task id that is not a UUID as it was."""
    from flask_migrate import downgrade, upgrade

    from app.seed import seed_demo_users
    from app.tasks.models import HumanTask
    from tests.conftest import deploy_fixture
    seed_demo_users(app.config["DEMO_PASSWORD"])
    deploy_fixture("timer_2s.bpmn")
    resp = api.post("/api/v1/process-definitions/timer_2s/start", "intake1", json={"data": {}})
    assert resp.status_code == 201, resp.get_json()
    task_id = resp.get_json()["instance"]["open_tasks"][0]["id"]
    task = db.session.get(HumanTask, task_id)
    assert str(UUID(task.spiff_task_id)) == task.spiff_task_id
    sqlite = db.engine.dialect.name == "sqlite"
    kinds = db.session.execute(sa.text(
        "SELECT typeof(spiff_task_id), typeof(deadline), typeof(draft), typeof(created_at) FROM human_task "
        "WHERE id = :id") if sqlite else sa.text(
        "SELECT pg_typeof(spiff_task_id)::text, (deadline IS NULL)::text, (draft IS NULL)::text, 'x' "
        "FROM human_task WHERE id = :id"), {"id": task_id}).one()
    assert tuple(kinds) == (("blob", "null", "null", "integer") if sqlite else
                            ("character varying", "true", "true", "x"))
    # found by its text id, as the projection looks tasks up
    assert db.session.execute(sa.select(HumanTask.id).where(
        HumanTask.spiff_task_id == task.spiff_task_id)).scalar_one() == task_id
    spiff_id = task.spiff_task_id
    db.session.remove()

    downgrade(revision="e5b8f2d1a018")
    try:
        with db.engine.begin() as conn:
            if sqlite:
                conn.exec_driver_sql("UPDATE human_task SET spiff_task_id = ?, draft = 'null' WHERE id = ?",
                                     (spiff_id, task_id))
                assert conn.exec_driver_sql("SELECT typeof(spiff_task_id) FROM human_task WHERE id = ?",
                                            (task_id,)).scalar_one() == "text"
            else:
                conn.exec_driver_sql("UPDATE human_task SET draft = 'null'::jsonb WHERE id = %s", (task_id,))
    finally:
        upgrade()
    again = db.session.get(HumanTask, task_id)
    assert again.spiff_task_id == spiff_id and again.draft is None
    assert db.session.execute(sa.select(sa.func.count()).where(
        HumanTask.id == task_id, HumanTask.draft.is_(None))).scalar_one() == 1
    done = api.post(f"/api/v1/tasks/{task_id}/complete", "intake1", json={"data": {}})
    assert done.status_code == 200, done.get_json()
