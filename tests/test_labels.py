"""app/labels.py: the titles people read for groups, form choices and cases, and the task instructions
that print them (issue #12, defect 4). The scan of every page is tests/web/test_no_internal_codes.py."""
from __future__ import annotations

from app import labels
from app.tasks.services import render_instructions

FORMS = {
    "a.schema.json": {"properties": {
        "channel": {"type": "string", "oneOf": [{"const": "hotline_12345", "title": "12345政务服务便民热线"},
                                                {"const": "walk_in", "title": "窗口来访"}]},
        "co_orgs": {"type": "array", "items": {"type": "string", "oneOf": [{"const": "jm_rsj", "title": "人社局"}]}},
        "risk": {"type": "string", "enum": ["low", "high"], "enumNames": ["低", "高"]},
        "district": {"type": "string", "enum": ["蓬江区", "江海区"]},
        "transfer": {"type": "object", "properties": {
            "receiver": {"type": "string", "oneOf": [{"const": "jw_letters", "title": "信访室"}]}}},
    }},
    "b.schema.json": {"properties": {"channel": {"type": "string", "oneOf": [{"const": "hotline_12345",
                                                                                "title": "另一个标题"}]}}},
}


def test_field_options_reads_choices_at_any_depth_the_first_form_wins():
    found = labels.field_options(FORMS)
    assert found["channel"] == {"hotline_12345": "12345政务服务便民热线", "walk_in": "窗口来访"}
    assert found["co_orgs"] == {"jm_rsj": "人社局"}
    assert found["risk"] == {"low": "低", "high": "高"}
    assert found["receiver"] == {"jw_letters": "信访室"}
    assert "district" not in found   # its values are what people read already


def test_group_titles_and_case_numbers(seeded, db):
    assert labels.group_title("jm_scjgj") == "江门市市场监督管理局"
    assert labels.group_title("no_such_group") == "no_such_group" and labels.group_title(None) == ""
    assert labels.groups_text(["jm_scjgj_head", "intake"]) == "江门市市场监督管理局负责人、受理员"
    assert labels.group_titles([]) == {}
    assert labels.case_number(None) == "—" and labels.case_number(999999) == "—"
    assert labels.latest_field_options("channel")["hotline_12345"] == "12345政务服务便民热线"


def test_instructions_print_titles_while_conditions_see_codes(seeded, db):
    titles = labels.value_titles(FORMS)
    assert titles["jm_scjgj"] == "江门市市场监督管理局" and titles["walk_in"] == "窗口来访"
    assert "蓬江区" not in titles
    text = render_instructions(
        "{{ handler_org }}：请核查{% if handler_org == 'jm_scjgj' %}（市场监管）{% endif %}；协办 {{ co_orgs }}；"
        "{{ note }}；{{ count }} 件；渠道 {{ channel }}",
        {"handler_org": "jm_scjgj", "co_orgs": ["jm_rsj", "pj_gov"], "note": "现场核查", "count": 3,
         "channel": "walk_in"}, titles)
    assert text == ("江门市市场监督管理局：请核查（市场监管）；协办 江门市人力资源和社会保障局、蓬江区人民政府；"
                    "现场核查；3 件；渠道 窗口来访")
    assert render_instructions("{{ handler_org }}", {"handler_org": "jm_scjgj"}) == "jm_scjgj"   # no titles given
