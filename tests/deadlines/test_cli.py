"""flask calendar add / load-year, and the scheduler never starts by itself."""
from __future__ import annotations

import json

import pytest

from tests.conftest import PROJECT


def test_calendar_add_prints_the_due_time(app):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["calendar", "add", "2025-09-29T10:00:00+08:00", "15WD"])
    assert out.exit_code == 0 and out.output.strip() == "2025-10-27T23:59:59+08:00"
    out = runner.invoke(args=["calendar", "add", "2026-12-20T09:00:00+08:00", "15WD", "--json"])
    assert out.exit_code == 0
    body = json.loads(out.output)
    assert body["provisional"] is True and body["due"].endswith("+08:00")


def test_calendar_add_names_the_accepted_units_on_a_bad_duration(app):
    runner = app.test_cli_runner()
    for bad in ("15XD", "-3WD", ""):
        out = runner.invoke(args=["calendar", "add", "2025-09-29T10:00:00+08:00", bad])
        assert out.exit_code != 0, bad
        assert all(unit in out.output for unit in ("WD", "CD", "WH", "MIN")), out.output


def test_load_year_reads_the_file_and_reports(app, tmp_path):
    runner = app.test_cli_runner()
    example = PROJECT / "app" / "calendar" / "examples" / "2026.json"
    out = runner.invoke(args=["calendar", "load-year", str(example)])
    assert out.exit_code == 0 and "loaded 2026: 365 days" in out.output, out.output
    broken = tmp_path / "2027.json"
    broken.write_text('{"year": 2027, "notice": "x", "holidays": [["2027-02-30", "2027-03-01"]], "workdays": []}')
    out = runner.invoke(args=["calendar", "load-year", str(broken)])
    assert out.exit_code != 0 and "2027-02-30" in out.output


def test_the_scheduler_is_not_started_by_create_app(app, client):
    from app.deadlines import scheduler
    assert scheduler._scheduler is None
    assert client.get("/healthz").get_json()["scheduler"] == "off"


def test_the_scheduler_starts_once_per_process(app):
    from app.deadlines.scheduler import start_scheduler, stop_scheduler
    try:
        first = start_scheduler(app)
        assert start_scheduler(app) is first and first.running
        assert {job.id for job in first.get_jobs()} >= {"dispatch_due_jobs_job", "send_pending_emails_job"}
    finally:
        stop_scheduler(app)
    assert app.extensions["wuyi_scheduler_state"] == "off"


def test_a_bad_due_in_property_is_refused_at_deploy(app, tmp_path):
    from app.processes.deploy import deploy_file
    from tests.processes.test_deploy import PROC
    text = PROC.format(key="bad_due", script="x = 1", task_name="审核").replace(
        '<spiffworkflow:property name="candidateGroups" value="intake" />',
        '<spiffworkflow:property name="candidateGroups" value="intake" />'
        '<spiffworkflow:property name="dueIn" value="15XD" />')
    (tmp_path / "bad_due.bpmn").write_text(text, encoding="utf-8")
    problems = deploy_file(tmp_path / "bad_due.bpmn", forms_dir=str(tmp_path))[0].problems
    assert [p.element_id for p in problems] == ["review"] and "dueIn" in problems[0].message
    # for the designer's Chinese pages: the Chinese half of the message, and the task's line in the file
    assert "无法识别的时限“15XD”" in problems[0].message and "unrecognised" not in problems[0].message
    from app.calendar import DurationError, parse_duration
    with pytest.raises(DurationError) as raised:   # text with " / " in it: the Chinese message is not cut there
        parse_duration("3 / 天")
    assert raised.value.chinese.startswith("无法识别的时限“3 / 天”：应为正整数加单位")
    assert "unrecognised" not in raised.value.chinese
    assert problems[0].line == text[:text.index('id="review"')].count("\n") + 1


def test_scripts_can_compute_business_deadlines(app, tmp_path):
    from app import engine
    from app.extensions import db
    from app.processes.deploy import deploy_file
    from app.processes.models import ProcessDefinition
    from app.processes.versions import get_bundle
    from tests.processes.test_deploy import PROC
    (tmp_path / "due.bpmn").write_text(PROC.format(
        key="due_script", script='deadline = due_in("15WD")\nnext_day = add_duration("2025-09-26", "2WD")',
        task_name="审核"), encoding="utf-8")
    assert deploy_file(tmp_path / "due.bpmn", forms_dir=str(tmp_path))[0].created
    row = db.session.execute(db.select(ProcessDefinition)).scalar_one()
    result = engine.start(get_bundle(row.id).process, {})
    assert result.data["next_day"] == "2025-09-29T23:59:59+08:00"
    assert result.data["deadline"].endswith("+08:00")
