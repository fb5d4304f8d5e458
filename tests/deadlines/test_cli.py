"""flask calendar add / load-year, and the scheduler never starts by itself."""
from __future__ import annotations

import json

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
