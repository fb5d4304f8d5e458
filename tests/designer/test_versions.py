"""Deploying from the designer and listing versions with author, message and running instances."""
from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from tests.designer.conftest import linear, user

V1 = linear("ver", [("register", "登记")])
V2 = linear("ver", [("register", "登记"), ("review", "审核")])


def start(key="ver"):
    from app.processes.running import start_process
    return start_process(key, {}, user("intake1"))[0]


def test_versions_list_author_time_message_and_running_instances(users, fixture_forms):
    from app.designer import services
    from app.extensions import db
    from app.processes.models import InstanceStatus
    first = services.deploy_xml(V1, "第一版", user("designer"))
    assert [(o.key, o.version, o.created) for o in first] == [("ver", 1, True)]
    start(), start()
    broken = start()
    services.deploy_xml(V2, "增加审核", user("admin"))
    start()
    broken.status = InstanceStatus.ERROR
    db.session.commit()

    rows = services.list_versions("ver")
    assert [(r["version"], r["deployed_by"], r["message"], r["running_instances"], r["error_instances"],
             r["is_latest"]) for r in rows] == [(2, "admin", "增加审核", 1, 0, True),
                                                (1, "designer", "第一版", 2, 1, False)]
    assert rows[0]["deployed_at"] >= rows[1]["deployed_at"] and rows[0]["deployed_at"].tzinfo is not None
    assert rows[0]["source_file"] == "ver.bpmn" and rows[0]["deployed_by_name"] == "系统管理员"


def test_an_unchanged_diagram_makes_no_new_version(users, fixture_forms):
    from app.designer import services
    services.deploy_xml(V1, "第一版", user("designer"))
    again = services.deploy_xml(V1, "再次部署", user("designer"))
    assert [(o.version, o.created) for o in again] == [(1, False)]
    assert [r["version"] for r in services.list_versions("ver")] == [1]


def test_a_diagram_with_problems_is_refused_with_all_of_them_and_deploys_nothing(users, fixture_forms):
    from app.designer import services
    from app.errors import NotFound
    xml = (FIXTURES / "bpmn" / "designer_five_problems.bpmn").read_text(encoding="utf-8")
    with pytest.raises(services.DiagramInvalid) as refused:
        services.deploy_xml(xml, "试试", user("designer"))
    assert len(refused.value.problems) == 5
    body = refused.value.payload()["error"]
    assert body["code"] == "bpmn_invalid" and len(body["problems"]) == 5
    assert {p["element_id"] for p in body["problems"]} == {
        "approve_deadline", "approve_no_form", "calc", "f_no", "review_no_group"}
    with pytest.raises(NotFound):
        services.list_versions("designer_five_problems")


def test_a_deploy_needs_a_message(users, fixture_forms):
    from app.designer import services
    from app.errors import FormInvalid
    with pytest.raises(FormInvalid, match="部署说明"):
        services.deploy_xml(V1, "  ", user("designer"))


def test_export_returns_the_stored_xml_of_each_version(users, fixture_forms):
    from app.designer import services
    from app.errors import NotFound
    services.deploy_xml(V1, "第一版", user("designer"))
    services.deploy_xml(V2, "第二版", user("designer"))
    assert services.export_xml("ver", 1) == V1
    assert services.export_xml("ver") == V2
    with pytest.raises(NotFound, match="没有版本 7"):
        services.export_xml("ver", 7)
    with pytest.raises(NotFound, match="没有已部署的流程"):
        services.export_xml("nope")
