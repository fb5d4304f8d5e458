"""flask bpmn validate / export / versions / migrate."""
from __future__ import annotations

import shutil

from tests.conftest import FIXTURES
from tests.designer.conftest import linear, user

V1 = linear("cli", [("register", "登记"), ("review", "审核")])
V2 = linear("cli", [("register", "登记"), ("check", "复核")])


def run(app, *args):
    return app.test_cli_runner().invoke(args=["bpmn", *args])


def test_validate_passes_every_shipped_diagram(app):
    result = run(app, "validate")
    assert result.exit_code == 0, result.output
    assert "✓ complaint.bpmn" in result.output and "✗" not in result.output


def test_validate_lists_every_problem_and_exits_non_zero(app, fixture_forms, tmp_path):
    broken = tmp_path / "designer_five_problems.bpmn"
    shutil.copy(FIXTURES / "bpmn" / "designer_five_problems.bpmn", broken)
    result = run(app, "validate", str(broken))
    assert result.exit_code == 1
    assert "✗ designer_five_problems.bpmn: 5 problem(s)" in result.stderr
    for element in ("calc", "f_no", "review_no_group", "approve_no_form", "approve_deadline"):
        assert f"元素 {element}：" in result.stderr


def test_export_prints_the_stored_xml_and_refuses_unknown_ones(app, users, fixture_forms):
    from app.designer import services
    services.deploy_xml(V1, "第一版", user("designer"))
    services.deploy_xml(V2, "第二版", user("designer"))
    assert run(app, "export", "cli").output == V2
    assert run(app, "export", "cli", "--version", "1").output == V1
    missing = run(app, "export", "cli", "--version", "9")
    assert missing.exit_code != 0 and "流程 cli 没有版本 9" in missing.output
    unknown = run(app, "export", "nope")
    assert unknown.exit_code != 0 and "没有已部署的流程：nope" in unknown.output


def test_versions_and_migrate(app, users, fixture_forms):
    from app.designer import services
    from app.processes.running import start_process
    services.deploy_xml(V1, "第一版", user("designer"))
    instance, _ = start_process("cli", {}, user("intake1"))
    services.deploy_xml(V2, "删除审核", user("admin"))

    listing = run(app, "versions", "cli")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[1].startswith("*v2") and "admin" in lines[1] and "删除审核" in lines[1]
    assert lines[2].startswith(" v1") and "designer" in lines[2] and " 1 " in lines[2]

    dry = run(app, "migrate", "cli", "--dry-run")
    assert dry.exit_code == 0 and f"instance {instance.id} v1 → v2: would migrate" in dry.output
    done = run(app, "migrate", "cli", "--instance", str(instance.id))
    assert done.exit_code == 0 and f"instance {instance.id} v1 → v2: migrated" in done.output
    assert "1 migrated" in done.output
    assert run(app, "versions", "nope").exit_code != 0


def test_migrate_prints_the_reasons_of_a_refusal(app, users, fixture_forms, api):
    from app.designer import services
    from app.processes.running import start_process
    services.deploy_xml(V1, "第一版", user("designer"))
    instance, _ = start_process("cli", {}, user("intake1"))
    task_id = api.get("/api/v1/tasks?scope=group", user="intake1").get_json()["items"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1",
                    json={"data": {"note": "好"}}).status_code == 200
    services.deploy_xml(V2, "删除审核", user("designer"))
    result = run(app, "migrate", "cli", "--from-version", "1")
    assert result.exit_code == 1
    assert f"✗ instance {instance.id} v1 → v2: refused" in result.stderr
    assert "review（审核）" in result.stderr and "已删除" in result.stderr
    missing = run(app, "migrate", "cli", "--from-version", "5")
    assert missing.exit_code != 0 and "没有版本 5" in missing.output
