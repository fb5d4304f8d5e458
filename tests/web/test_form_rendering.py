"""The server-side form renderer and the posted-string coercion, without a process: every shipped
form renders, and what a browser would post from a rendered form reads back to the same data."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import render_template_string
from werkzeug.datastructures import MultiDict

from app.web.formdata import apply_row_action, parse_submission, set_path
from app.web.formschema import FormView

FORMS = Path(__file__).resolve().parent.parent.parent / "forms"
TEMPLATE = '{% import "web/_form.html" as forms with context %}<form>{{ forms.fields(form) }}</form>'


class _FormSerializer(HTMLParser):
    """What a browser posts from a form: named inputs (checked boxes only), selected options, textareas."""

    def __init__(self):
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self._select = None
        self._textarea = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("file", "submit"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a and "disabled" not in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            else:
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = [a.get("name"), None, None]
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select[2] is None:
                self._select[2] = value
            if "selected" in a:
                self._select[1] = value
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            name, chosen, first = self._select
            self.pairs.append((name, chosen if chosen is not None else first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.pairs.append((self._textarea, self._text[1:] if self._text.startswith("\n") else self._text))
            self._textarea = None


def _render(view: FormView) -> str:
    return render_template_string(TEMPLATE, form=view)


def _post_back(app, schema, ui, values) -> dict:
    with app.test_request_context("/tasks/1"):
        html = _render(FormView(schema, ui, values))
    parser = _FormSerializer()
    parser.feed(html)
    sub = parse_submission(schema, ui, MultiDict(parser.pairs))
    assert sub.errors == {}
    return sub.data


def _shipped_forms():
    for path in sorted(FORMS.glob("*/*.schema.json")):
        ui_path = path.with_name(path.name.replace(".schema.json", ".uischema.json"))
        ui = json.loads(ui_path.read_text(encoding="utf-8")) if ui_path.exists() else {}
        yield pytest.param(json.loads(path.read_text(encoding="utf-8")), ui, id=str(path.relative_to(FORMS)))


@pytest.mark.parametrize("schema,ui", list(_shipped_forms()))
def test_every_shipped_form_renders_and_an_empty_post_reads_back(app, schema, ui):
    with app.test_request_context("/tasks/1"):
        view = FormView(schema, ui, {}, defaults=True)
        html = _render(view)
    for name in schema.get("properties", {}):
        assert f'name="{name}' in html or f'name="__rows__:{name}"' in html, name
    parse_submission(schema, ui, MultiDict())


def test_one_thing_start_form_round_trips_arrays_objects_and_types(app):
    schema = json.loads((FORMS / "one_thing_transport/start.schema.json").read_text(encoding="utf-8"))
    ui = json.loads((FORMS / "one_thing_transport/start.uischema.json").read_text(encoding="utf-8"))
    values = {
        "notice_read": True, "company_name": "鹤山市示例顺达物流有限公司", "district": "鹤山市",
        "registered_capital": 120.5, "business_scope": "道路货物运输（不含危险货物）\n仓储服务",
        "freight_scope": ["普通货运", "大型物件运输"],
        "vehicles": [{"plate_no": "粤J·D5821", "vehicle_type": "重型厢式货车", "gross_mass_kg": 18000, "tech_grade": "一级"},
                     {"plate_no": "待购1", "vehicle_type": "轻型货车", "gross_mass_kg": 4490}],
        "drivers": [{"name": "何家豪", "id_number": "440784199001011234", "age": 35}],
        "commitment_signed": True, "safety_commitment": False,
        "bundle_options": {"seal": True, "invoice": False, "social_security": True, "housing_fund": False,
                           "bank_account": False},
        "delivery": "邮寄送达",
    }
    assert _post_back(app, schema, ui, values) == values


def test_order_widgets_conditions_and_messages():
    schema = {
        "type": "object", "required": ["a"],
        "properties": {
            "a": {"type": "string", "title": "甲"}, "b": {"type": "integer", "title": "乙"},
            "c": {"type": "string", "title": "丙", "format": "date-time"},
            "d": {"type": "boolean", "title": "丁"}, "e": {"type": "string", "title": "戊"},
            "f": {"type": "number", "title": "己", "enum": [1, 2.5]},
        },
        "dependentRequired": {"a": ["e"]},
        "if": {"properties": {"d": {"const": True}}}, "then": {"required": ["b"]}, "else": {"required": ["c"]},
    }
    ui = {"ui:order": ["d", "*", "a"], "e": {"ui:widget": "textarea"}, "f": {"ui:widget": "radio"}}
    view = FormView(schema, ui, {"c": "2026-03-01T01:30:00Z", "f": 2.5},
                    errors={"b": ["乙：应为整数"], "zz": ["此表单没有该字段"]})
    kinds = {f.name: f.kind for f in view.fields}
    assert [f.name for f in view.fields] == ["d", "b", "c", "e", "f", "a"]
    assert kinds == {"d": "checkbox", "b": "integer", "c": "datetime", "e": "textarea", "f": "radio", "a": "text"}
    fields = {f.name: f for f in view.fields}
    assert fields["c"].value == "2026-03-01T09:30"                    # shown in Asia/Shanghai
    assert fields["f"].value == "2.5" and [o.label for o in fields["f"].options] == ["1", "2.5"]
    assert fields["b"].errors == ["应为整数"]                         # without the label in front
    assert fields["b"].condition == "当“丁”为“是”时必填" and fields["b"].show_if == {"field": "d", "values": ["true"]}
    assert fields["c"].condition == "除非“丁”为“是”，否则必填"
    assert fields["e"].condition == "填写“甲”后必填"
    assert view.other_errors == [("zz", ["此表单没有该字段"])]


def test_posted_strings_are_converted_by_type_and_bad_ones_kept_raw():
    schema = {"type": "object", "properties": {
        "n": {"type": "integer"}, "x": {"type": "number"}, "ok": {"type": "boolean"},
        "when": {"type": "string", "format": "date-time"}, "pick": {"type": "integer", "enum": [1, 2]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        "ages": {"type": "array", "items": {"type": "integer"}},
        "blob": {"type": "object"},
        "text": {"type": "string"}}}
    form = MultiDict([("n", " 42 "), ("x", "1e3"), ("ok", "true"), ("when", "2026-03-01T09:30"), ("pick", "2"),
                      ("tags", "b"), ("__rows__:ages", "3"), ("ages[0]", "7"), ("ages[1]", "八"), ("ages[2]", ""),
                      ("blob", '{"k": [1]}'), ("text", "  ")])
    sub = parse_submission(schema, {}, form)
    assert sub.data == {"n": 42, "x": 1000.0, "ok": True, "when": "2026-03-01T09:30:00+08:00", "pick": 2,
                        "tags": ["b"], "ages": [7, None], "blob": {"k": [1]}}
    assert sub.raw == {"ages[1]": "八"} and sub.errors == {"ages[1]": ["请填写整数，如 42"]}
    assert sub.draft()["ages"] == [7, "八"]
    bad = parse_submission(schema, {}, MultiDict([("n", "4.5"), ("x", "abc"), ("when", "2026-02-30T10:00"),
                                                  ("blob", "{oops")]))
    assert set(bad.errors) == {"n", "x", "when", "blob"} and bad.raw["x"] == "abc"
    assert "日期时间不存在" in bad.errors["when"][0]
    unchecked = parse_submission(schema, {}, MultiDict())
    assert unchecked.data == {"ok": False, "tags": []}


def test_row_actions_and_paths():
    data = {"rows": [{"a": 1}, {"a": 2}]}
    assert apply_row_action(data, "add:rows") == "rows" and data["rows"][-1] is None
    assert apply_row_action(data, "remove:rows:0") == "rows" and data["rows"] == [{"a": 2}, None]
    assert apply_row_action(data, "remove:rows:9") is None and apply_row_action(data, "explode") is None
    target: dict = {}
    set_path(target, "x[1].y", "v")
    assert target == {"x": [None, {"y": "v"}]}
