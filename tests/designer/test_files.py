"""What the designer pages read: diagrams of bpmn/, uploads, form files of forms/ (read only), and
the workbench's form check (JSON, schema rules, sample data validated like a task submission)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES
from tests.designer.conftest import linear


def test_bpmn_files_are_listed_and_read_by_name_only(app, tmp_path, monkeypatch):
    from app.designer import services
    from app.errors import NotFound
    (tmp_path / "a.bpmn").write_text("<a/>", encoding="utf-8")
    (tmp_path / "table.dmn").write_text("<d/>", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bpmn").write_text("<b/>", encoding="utf-8")
    monkeypatch.setitem(app.config, "BPMN_DIR", str(tmp_path))
    assert services.list_bpmn_files() == ["a.bpmn"]
    assert services.read_bpmn_file("a.bpmn") == "<a/>"
    for name in ("sub/b.bpmn", "../a.bpmn", "table.dmn", "missing.bpmn"):
        with pytest.raises(NotFound):
            services.read_bpmn_file(name)


def test_form_files_are_listed_relative_to_forms_and_nothing_outside_is_read(app, monkeypatch):
    from app.designer import services
    from app.errors import NotFound
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FIXTURES / "forms"))
    assert services.list_form_files() == ["note.schema.json"]
    assert json.loads(services.read_form_text("note.schema.json"))["title"] == "办理意见"
    for path in ("../bpmn/timer_2s.bpmn", "/etc/passwd", "note.uischema.json"):
        with pytest.raises(NotFound):
            services.read_form_text(path)
    assert services.ui_schema_path("complaint/handle.schema.json") == "complaint/handle.uischema.json"


def test_the_shipped_forms_are_listed_with_their_folders(app):
    from app.designer import services
    files = services.list_form_files()
    assert "complaint/handle.schema.json" in files and "complaint/handle.uischema.json" in files


@pytest.mark.parametrize("content, message", [
    (b"", "流程图内容为空"),
    (b"<bpmn:definitions", "XML 格式错误"),
    (b"<definitions/>", "不是 BPMN 2.0 流程图"),
    (b"\xff\xfe<x/>", "不是 UTF-8"),
])
def test_an_uploaded_diagram_must_be_bpmn_xml(app, content, message):
    from app.designer import services
    from app.errors import FormInvalid
    with pytest.raises(FormInvalid) as refused:
        services.read_uploaded_diagram(content)
    assert message in refused.value.message


def test_an_uploaded_diagram_is_returned_as_text_and_its_key_found(app):
    from app.designer import services
    xml = linear("uploaded", [("a", "甲")])
    assert services.read_uploaded_diagram(b"\xef\xbb\xbf" + xml.encode("utf-8")) == xml   # a BOM is dropped
    assert services.process_key_of(xml) == "uploaded"
    assert services.process_key_of("<not xml") is None
    assert services.process_key_of(xml.replace('isExecutable="true"', 'isExecutable="false"')) is None


SCHEMA = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "title": "姓名"}, "count": {"type": "integer", "title": "数量", "default": 1}}}


def test_check_form_parses_the_three_texts_and_reports_every_problem_at_once(app):
    from app.designer import services
    check = services.check_form('{"type": "object",}', "[1]", "{oops", validate=True)
    assert set(check.problems) == {"schema", "ui", "data"}
    assert "第 1 行第 19 列" in check.problems["schema"][0]
    assert check.problems["ui"] == ["UI schema顶层必须是 JSON 对象"]
    assert check.errors is None and not check.is_valid
    assert services.check_form("", "", "").problems == {"schema": ["JSON Schema不能为空"]}


def test_check_form_reports_what_deploy_refuses_in_a_schema(app):
    from app.designer import services
    from app.taskforms.validation import check_schema
    bad = {"type": "object", "properties": {"a": {"type": "strin"}}}
    check = services.check_form(json.dumps(bad), validate=True)
    assert check.problems["schema"] == check_schema(bad) and check.problems["schema"]
    assert check.errors is None   # no data check against a broken schema


def test_sample_data_is_validated_like_a_task_submission(app):
    from app.designer import services
    from app.errors import FormInvalid
    from app.processes.versions import Bundle, validate_form
    data = {"count": "x", "other": 1, "_private": 2}
    check = services.check_form(json.dumps(SCHEMA), "{}", json.dumps(data), validate=True)
    bundle = Bundle(id=1, key="k", version=1, name="n", meta={}, forms={"f.schema.json": SCHEMA}, process=None)
    with pytest.raises(FormInvalid) as submitted:
        validate_form(bundle, "f.schema.json", data)
    assert check.errors == submitted.value.fields
    assert set(check.errors) == {"name", "count", "other", "_private"}
    valid = services.check_form(json.dumps(SCHEMA), None, '{"name": "李明"}', validate=True)
    assert valid.errors == {} and valid.is_valid and valid.ui == {}


def test_open_form_gives_the_schema_its_ui_schema_or_a_blank_form(app, monkeypatch):
    from app.designer import services
    from app.errors import NotFound
    schema, ui_path, ui = services.open_form("complaint/handle.schema.json")
    assert json.loads(schema)["title"] == "调查处置" and ui_path == "complaint/handle.uischema.json"
    assert "ui:order" in json.loads(ui)
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FIXTURES / "forms"))
    assert services.open_form("note.schema.json")[1:] == ("note.uischema.json", "{}\n")   # no UI schema file
    assert json.loads(services.open_form("")[0]) == {"type": "object", "properties": {}}
    with pytest.raises(NotFound):
        services.open_form("missing.schema.json")


def test_open_form_walks_forms_once(app, monkeypatch):
    from app.designer import services
    calls = []
    real = services.list_form_files
    monkeypatch.setattr(services, "list_form_files", lambda: calls.append(1) or real())
    services.open_form("complaint/handle.schema.json")
    assert len(calls) == 1
