"""Groups and units: the organisation tree with the `_head` groups, the titles lanes map to, the
warning about deployed lanes without a group; changes audited."""
from __future__ import annotations

import sqlalchemy as sa

from app.auth.models import Group
from app.extensions import db
from tests.admin.conftest import audit_rows


def _group(name):
    return db.session.execute(sa.select(Group).where(Group.name == name)
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def test_the_page_shows_units_with_their_heads_and_the_lane_titles(admin):
    text = admin.get("/admin/groups").get_data(as_text=True)
    assert "江门市市场监督管理局" in text and "江门市市场监督管理局负责人" in text
    assert "受理员" in text and "泳道按名称匹配" in text
    assert "泳道没有对应的用户组" not in text          # the shipped diagrams are all covered


def test_build_the_tree_district_town_village(admin):
    ts = _group("ts_gov")
    assert ts.level == "district" and _group("jm_scjgj").level == "city"     # the demo units' levels
    resp = admin.post("/admin/groups/new", {"kind": "unit", "name": "ts_chonglou_gov", "title": "台山市冲蒌镇人民政府",
                                            "parent_id": str(ts.id), "level": "town", "with_head": "1",
                                            "reason": "纳入镇级承办单位"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    town = _group("ts_chonglou_gov")
    head = _group("ts_chonglou_gov_head")
    assert town.kind == "unit" and town.parent_id == ts.id and town.level == "town"
    assert head.title == "台山市冲蒌镇人民政府负责人" and head.kind == "lane"
    resp = admin.post("/admin/groups/new", {"kind": "unit", "name": "ts_chonglou_village1", "title": "冲蒌镇某村委会",
                                            "parent_id": str(town.id), "level": "village", "reason": "村级"})
    assert resp.status_code == 302
    text = admin.get("/admin/groups").get_data(as_text=True)
    # nested: district > town > village
    at_ts, at_town, at_village = (text.index("台山市人民政府</a>"), text.index("台山市冲蒌镇人民政府</a>"),
                                  text.index("冲蒌镇某村委会</a>"))
    assert at_ts < at_town < at_village and "镇（街）级" in text and "村（社区）级" in text
    event = audit_rows("group_create")[0]
    assert event.data["created"] == ["台山市冲蒌镇人民政府", "台山市冲蒌镇人民政府负责人"]
    assert event.data["reason"] == "纳入镇级承办单位"
    # a unit cannot be put under its own descendant
    village = _group("ts_chonglou_village1")
    moved = admin.post(f"/admin/groups/{village.id}", {"title": village.title, "parent_id": str(ts.id),
                                                        "level": "town", "reason": "调整隶属"})
    assert moved.status_code == 302
    text = admin.get("/admin/audit?action=group_update").get_data(as_text=True)
    assert "上级单位 台山市冲蒌镇人民政府 → 台山市人民政府" in text and "层级 村（社区）级 → 镇（街）级" in text
    assert "village" not in text.split("<tbody>")[1]
    cycle = admin.post(f"/admin/groups/{ts.id}", {"title": ts.title, "parent_id": str(_group("ts_chonglou_village1").id),
                                                  "level": "district", "reason": "误操作"})
    assert cycle.status_code == 422 and "不能是本单位或其下级单位" in cycle.get_data(as_text=True)


def test_each_bad_input_of_a_new_group_is_named(admin):
    base = {"kind": "lane", "name": "new_lane", "title": "新岗位", "reason": "新增岗位"}
    for change, message in [({"name": "Bad Name"}, "代码为 2–100 位小写字母"),
                            ({"name": "intake"}, "该代码已被使用"),
                            ({"name": "admin"}, "系统角色不能在此新建"),
                            ({"title": "受理员"}, "名称必须唯一"),
                            ({"title": ""}, "请填写名称"),
                            ({"kind": "role"}, "请选择类型"),
                            ({"level": "town"}, "只有承办单位有上级单位和层级"),
                            ({"reason": ""}, "请填写操作理由")]:
        resp = admin.post("/admin/groups/new", {**base, **change})
        text = resp.get_data(as_text=True)
        assert resp.status_code == 422 and message in text, change
        assert ('value="' + (change.get("name") or "new_lane") + '"') in text     # what was typed stays
    assert _group("new_lane") is None and audit_rows("group_create") == []


def test_renaming_a_lane_group_is_audited_and_the_warning_names_the_orphan_lane(admin):
    group = _group("callback")
    resp = admin.post(f"/admin/groups/{group.id}", {"title": "回访专员", "reason": "岗位更名"})
    assert resp.status_code == 302
    event, = audit_rows("group_update")
    assert event.data["changes"] == {"title": ["回访员", "回访专员"]} and event.data["reason"] == "岗位更名"
    # the deployed versions resolved the lane 回访员 to the group `callback`, which still exists
    assert "泳道没有对应的用户组" not in admin.get("/admin/groups").get_data(as_text=True)
    # a lane whose group is gone: its tasks are offered to nobody
    db.session.execute(sa.delete(Group).where(Group.name == "callback"))
    db.session.commit()
    text = admin.get("/admin/groups").get_data(as_text=True)
    assert "泳道没有对应的用户组" in text and "泳道“回访员”" in text


def test_roles_cannot_be_edited(admin):
    role = _group("admin")
    resp = admin.post(f"/admin/groups/{role.id}", {"title": "超级管理员", "reason": "改名"})
    assert resp.status_code == 422 and _group("admin").title == "系统管理员"
