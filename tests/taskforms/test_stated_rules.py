"""Rules a form's help text states are enforced by the server with a message at the field (issue #12,
defect 8): 住所 within Jiangmen, no contact time in the future, no main unit among the 协办单位."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.taskforms.validation import FormValidator, check_schema

FORMS = Path(__file__).resolve().parents[2] / "forms"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)   # 10:00 in Jiangmen


def form(name: str) -> FormValidator:
    return FormValidator(json.loads((FORMS / name).read_text(encoding="utf-8")))


# --- x-withinJiangmen / format jiangmen-address ------------------------------------------------------

@pytest.mark.parametrize("address", ["广州市越秀区东风中路 1 号", "广东省佛山市顺德区大良街道", "北京市朝阳区"])
def test_a_domicile_outside_jiangmen_is_refused(address):
    errors = form("one_thing_transport/start.schema.json").errors({"domicile": address})
    assert errors["domicile"] == ["住所：须在江门市辖区内（应写明江门市或蓬江区、江海区、新会区、台山市、开平市、鹤山市、恩平市）"]


@pytest.mark.parametrize("address", ["江门市蓬江区棠下镇堡棠路 8 号", "广东省鹤山市沙坪街道", "台山市台城街道环北大道",
                                     "恩平市恩城街道", "江门高新区（江海区）金瓯路"])
def test_a_domicile_in_jiangmen_is_accepted(address):
    errors = form("one_thing_transport/start.schema.json").errors({"domicile": address})
    assert "domicile" not in errors


# --- x-notFuture --------------------------------------------------------------------------------------

def test_a_first_contact_in_the_future_is_refused(clock):
    clock.set(NOW)
    errors = form("complaint/first_contact.schema.json").errors(
        {"contact_time": "2030-01-01T09:00:00+08:00", "contact_method": "电话", "initial_opinion": "已联系"})
    assert errors == {"contact_time": ["联系时间：不能晚于当前时间（现在是 2026-03-02 10:00）"]}


def test_a_first_contact_now_or_earlier_is_accepted(clock):
    clock.set(NOW)
    validator = form("complaint/first_contact.schema.json")
    for moment in ("2026-03-02T10:00:00+08:00", "2026-03-02T10:03:00+08:00", "2026-03-01T16:00:00+08:00",
                   "2026-03-02T01:59:00Z"):
        assert validator.errors({"contact_time": moment, "contact_method": "电话", "initial_opinion": "已联系"}) == {}


def test_a_date_not_in_the_future_compares_local_dates(clock):
    clock.set(datetime(2026, 3, 1, 17, 0, tzinfo=timezone.utc))   # already 2026-03-02 01:00 in Jiangmen
    validator = FormValidator({"type": "object", "properties": {
        "day": {"type": "string", "title": "核查日期", "format": "date", "x-notFuture": True}}})
    assert validator.errors({"day": "2026-03-02"}) == {}
    assert validator.errors({"day": "2026-03-03"}) == {"day": ["核查日期：不能晚于今天（2026-03-02）"]}


def test_not_future_ignores_values_the_format_already_refuses(clock):
    clock.set(NOW)
    validator = FormValidator({"type": "object", "properties": {
        "at": {"type": "string", "title": "时间", "format": "date-time", "x-notFuture": True}}})
    assert validator.errors({"at": "明天"}) == {"at": ["时间：格式不正确（应为日期时间，如 2025-09-29T10:12:00+08:00）"]}


# --- x-distinctFrom -----------------------------------------------------------------------------------

def test_the_main_unit_cannot_also_be_a_co_unit():
    errors = form("complaint/dispatch.schema.json").errors(
        {"handler_org": "jm_scjgj", "co_orgs": ["pj_gov", "jm_scjgj"]})
    assert errors == {"co_orgs": ["协办单位：不能包含主办单位（江门市市场监督管理局）"]}


def test_other_co_units_are_fine():
    validator = form("complaint/dispatch.schema.json")
    assert validator.errors({"handler_org": "jm_scjgj", "co_orgs": ["pj_gov", "jm_rsj"]}) == {}
    assert validator.errors({"handler_org": "jm_scjgj"}) == {}
    assert validator.errors({"co_orgs": ["jm_scjgj"], "handler_org": "pj_gov"}) == {}


def test_distinct_from_on_plain_values():
    validator = FormValidator({"type": "object", "x-distinctFrom": {"deputy": "leader"}, "properties": {
        "leader": {"type": "string", "title": "组长"}, "deputy": {"type": "string", "title": "副组长"}}})
    assert validator.errors({"leader": "张三", "deputy": "张三"}) == {"deputy": ["副组长：不能与组长相同（张三）"]}
    assert validator.errors({"leader": "张三", "deputy": "李四"}) == {}


def test_check_schema_names_misused_rule_keywords():
    problems = check_schema({"type": "object", "x-distinctFrom": {"a": "missing"}, "properties": {
        "a": {"type": "string", "x-notFuture": "yes"}}})
    assert "x-notFuture 应为 true 或 false（位置 #/properties/a/x-notFuture）" in problems
    assert "x-distinctFrom 引用了不存在的字段 missing（位置 #/x-distinctFrom/a）" in problems


# --- rules found by the audit of every form's help texts ---------------------------------------------

ASSESS = {"urgency": "normal", "appeal_type": "complaint", "primary_category": "拖欠账款", "misconduct": False}


def test_only_a_consultation_can_be_answered_from_the_knowledge_base():
    validator = form("complaint/assess.schema.json")
    assert validator.errors({**ASSESS, "kb_answerable": True}) == {
        "kb_answerable": ["能否依据知识库当场答复：仅限诉求类型为“咨询”的诉求，其他诉求请选“不能，派单办理”"]}
    assert validator.errors({**ASSESS, "appeal_type": "consult", "kb_answerable": True}) == {}
    assert validator.errors({**ASSESS, "kb_answerable": False}) == {}


def test_a_callback_that_reached_nobody_needs_its_note():
    validator = form("complaint/callback.schema.json")
    assert validator.errors({"contacted": False}).get("callback_note") == ["回访记录：必填"]
    assert "callback_note" not in validator.errors({"contacted": False, "callback_note": "9:00、15:00 两次未接"})


def test_a_business_scope_without_road_freight_is_refused_in_words():
    errors = form("one_thing_transport/start.schema.json").errors({"business_scope": "普通货物仓储"})
    assert errors["business_scope"] == ["经营范围：须包含“道路货物运输（不含危险货物）”"]


def test_check_schema_names_a_misused_error_message():
    problems = check_schema({"type": "object", "properties": {"a": {"type": "string", "errorMessage": 5}}})
    assert problems == ["errorMessage 应为文字，或键为校验关键字的对象，如 {\"pattern\": \"须包含……\"}（位置 #/properties/a/errorMessage）"]


@pytest.mark.parametrize("name, field, title", [("complaint/handle.schema.json", "site_visit_date", "现场核查日期"),
                                                ("dispute_escalation/court_confirmation.schema.json", "application_date", "申请日期"),
                                                ("dispute_escalation/sme_transfer.schema.json", "accepted_date", "正式受理日期")])
def test_dates_of_what_already_happened_are_not_in_the_future(clock, name, field, title):
    clock.set(NOW)
    validator = form(name)
    assert validator.errors({field: "2030-01-01"}).get(field) == [f"{title}：不能晚于今天（2026-03-02）"]
    assert field not in validator.errors({field: "2026-03-02"})


@pytest.mark.parametrize("address", ["北京市江门路 1 号", "广州市天河区台山路"])
def test_an_address_that_only_mentions_a_jiangmen_name_is_refused(address):
    errors = form("one_thing_transport/start.schema.json").errors({"domicile": address})
    assert errors["domicile"][0].startswith("住所：须在江门市辖区内")


def test_distinct_from_reports_an_overlap_of_two_lists_at_the_field_by_its_own_title():
    from app.taskforms.validation import FormValidator
    schema = {"type": "object", "title": "派单", "x-distinctFrom": {"co": "main"}, "properties": {
        "main": {"type": "array", "title": "主办单位", "items": {"type": "string"}},
        "co": {"type": "array", "items": {"type": "string"}}}}
    assert FormValidator(schema).errors({"main": ["p", "q"], "co": ["q", "r"]}) == {"co": ["co：不能包含主办单位（q）"]}
    untyped = {**schema, "properties": {"main": {"type": "array"}, "co": {"type": "array"}}}
    assert FormValidator(untyped).errors({"main": [True], "co": [1]}) == {}    # true is not 1
