"""The factory, configuration, health, OpenAPI, error pages, migrations and CLI verbs."""
from __future__ import annotations

import pytest

from app import create_app
from app.config import Config, ProductionConfig, TestConfig


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    class Cfg(Config):
        SQLALCHEMY_DATABASE_URI = None
    app = create_app(config_class=Cfg)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith("instance/wuyi.sqlite")


def test_database_url_is_normalised_for_psycopg():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://u:p@localhost/db"}, config_class=TestConfig)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@localhost/db"


def test_production_refuses_to_start_without_secret_key():
    class Prod(ProductionConfig):
        SECRET_KEY = None
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://u@localhost/db"
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config_class=Prod)


def test_production_refuses_to_start_without_database_url():
    class Prod(ProductionConfig):
        SECRET_KEY = "s3cret"
        SQLALCHEMY_DATABASE_URI = None
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        create_app(config_class=Prod)


def test_production_starts_with_both():
    class Prod(ProductionConfig):
        SECRET_KEY = "s3cret"
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://u@localhost/db"
    assert create_app(config_class=Prod).config["ENV_NAME"] == "production"


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and "scheduler" in body


def test_openapi_is_served_and_describes_the_core_calls(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    for path in ("/api/v1/auth/token", "/api/v1/process-definitions", "/api/v1/process-definitions/{key}/start",
                 "/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}/claim",
                 "/api/v1/tasks/{task_id}/unclaim", "/api/v1/tasks/{task_id}/delegate",
                 "/api/v1/tasks/{task_id}/complete", "/api/v1/process-instances/{instance_id}",
                 "/api/v1/messages"):
        assert path in paths, path


def test_errors_outside_the_api_are_a_chinese_page_without_a_trace(client):
    resp = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    text = resp.get_data(as_text=True)
    assert "页面或记录不存在" in text and "Traceback" not in text and resp.mimetype == "text/html"


def test_unexpected_errors_never_show_a_trace():
    fresh = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, config_class=TestConfig)

    @fresh.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    @fresh.get("/api/v1/boom-for-test")
    def api_boom():
        raise RuntimeError("secret internals")
    client = fresh.test_client()
    html = client.get("/boom-for-test", headers={"Accept": "text/html"})
    assert html.status_code == 500 and "secret internals" not in html.get_data(as_text=True)
    assert "服务器内部错误" in html.get_data(as_text=True)
    api = client.get("/api/v1/boom-for-test")
    assert api.status_code == 500
    assert api.get_json() == {"error": {"code": "internal_error", "message": "服务器内部错误"}}


def test_migrations_build_everything_and_match_the_models(app):
    """`flask db upgrade` ran on an empty database in the app fixture; `flask db check` finds nothing."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from app.cases.models import include_in_autogenerate
    from app.extensions import db
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": include_in_autogenerate}), db.metadata)
    assert diff == []
    tables = set(db.inspect(db.engine).get_table_names())
    for table in ("process_definition", "process_instance", "human_task", "timer_job", "audit_event", "case",
                  "user", "group", "user_group", "api_token"):
        assert table in tables


def test_seed_demo_is_idempotent_and_covers_every_lane_group(app):
    from app.auth.models import User
    from app.extensions import db
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["seed", "demo"])
    assert second.exit_code == 0 and "created" not in second.output and "demo case" not in second.output
    # demo cases of the three processes, open and closed, some overdue (DOMAIN §6 samples)
    from datetime import datetime, timezone

    from app.cases.models import Case
    from app.tasks.models import HumanTask
    cases = db.session.execute(db.select(Case.process_key, Case.status)).all()
    assert {k for k, _ in cases} == {"complaint", "one_thing_transport", "dispute_escalation"}
    assert {s for k, s in cases if k == "complaint"} == {"open", "closed"}
    assert "closed" in {s for k, s in cases if k == "dispute_escalation"}
    now = datetime.now(timezone.utc)
    dues = [d if d.tzinfo else d.replace(tzinfo=timezone.utc) for d in db.session.execute(
        db.select(HumanTask.due_at).where(HumanTask.status == "ready", HumanTask.due_at.is_not(None))).scalars()]
    assert any(d < now for d in dues) and any(d > now for d in dues)
    assert "demo case" in first.output
    from app.seed import DEMO_USERS
    assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one() == len(DEMO_USERS)
    deployed = runner.invoke(args=["bpmn", "deploy"])
    assert deployed.exit_code == 0, deployed.output
    from app.processes.models import ProcessDefinition
    from app.processes.versions import get_bundle
    users_groups = set().union(*(u.group_names for u in db.session.execute(db.select(User)).scalars()))
    for definition in db.session.execute(db.select(ProcessDefinition)).scalars():
        for meta in get_bundle(definition.id).meta["tasks"].values():
            assert set(meta["candidate_groups"]) <= users_groups, meta


def test_seed_demo_is_refused_in_production(app):
    app.config["ENV_NAME"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["seed", "demo"])
    finally:
        app.config["ENV_NAME"] = "testing"
    assert result.exit_code != 0 and "生产环境" in result.output


def test_users_create(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed", "demo"])
    ok = runner.invoke(args=["users", "create", "handler9", "--name", "经办人 九", "--group", "江门市市场监督管理局",
                             "--password", "longenough1"])
    assert ok.exit_code == 0 and "groups=['jm_scjgj']" in ok.output, ok.output
    bad = runner.invoke(args=["users", "create", "x", "--group", "nope", "--password", "longenough1"])
    assert bad.exit_code != 0 and "未知的用户组" in bad.output
    short = runner.invoke(args=["users", "create", "y", "--password", "short"])
    assert short.exit_code != 0 and "至少 8 位" in short.output


def test_roles_exist_on_first_use_and_groups_can_be_created(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "create", "root", "--group", "admin", "--password", "longenough1"]).exit_code == 0
    made = runner.invoke(args=["users", "create-group", "taishan_gov", "--title", "台山市人民政府", "--kind", "unit"])
    assert made.exit_code == 0 and "taishan_gov" in made.output
    ok = runner.invoke(args=["users", "create", "ts1", "--group", "台山市人民政府", "--password", "longenough1"])
    assert ok.exit_code == 0 and "taishan_gov" in ok.output


def test_bpmn_deploy_and_validate_exit_non_zero_on_a_broken_file(app, tmp_path):
    (tmp_path / "broken.bpmn").write_text("<bpmn:definitions xmlns:bpmn='x'><oops></bpmn:definitions>")
    runner = app.test_cli_runner()
    for verb in ("deploy", "validate"):
        result = runner.invoke(args=["bpmn", verb, str(tmp_path / "broken.bpmn")])
        assert result.exit_code == 1, result.output
        assert "broken.bpmn" in result.output and "第 1 行" in result.output
    good = runner.invoke(args=["bpmn", "validate"])
    assert good.exit_code == 0 and "✓ complaint.bpmn" in good.output
