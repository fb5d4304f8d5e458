"""Comparing two versions element by element: added, removed, changed (and layout ignored)."""
from __future__ import annotations

from tests.designer.conftest import linear, user

V1 = linear("dif", [("register", "登记"), ("review", "审核"), ("archive", "归档")])
V2 = (linear("dif", [("register", "登记建档"), ("check", "复核"), ("archive", "归档")])
      .replace('<spiffworkflow:property name="formJsonSchemaFilename" value="note.schema.json" />\n'
               '      </spiffworkflow:properties></bpmn:extensionElements>\n'
               '    </bpmn:userTask>\n    <bpmn:userTask id="check"',
               '<spiffworkflow:property name="formJsonSchemaFilename" value="note.schema.json" />'
               '<spiffworkflow:property name="dueIn" value="1WD" />\n'
               '      </spiffworkflow:properties></bpmn:extensionElements>\n'
               '    </bpmn:userTask>\n    <bpmn:userTask id="check"', 1))


def test_added_removed_and_changed_elements():
    from app.designer.diff import diff_bpmn
    result = diff_bpmn(V1, V2)
    assert {(e["id"], e["kind"], e["type"]) for e in result["added"]} == {
        ("check", "node", "userTask"), ("f_register_check", "flow", "sequenceFlow"),
        ("f_check_archive", "flow", "sequenceFlow")}
    assert {e["id"] for e in result["removed"]} == {"review", "f_register_review", "f_review_archive"}
    changed = {e["id"]: {c["field"]: (c["from"], c["to"]) for c in e["changes"]} for e in result["changed"]}
    assert set(changed) == {"register", "archive"}
    assert changed["register"]["name"] == ("登记", "登记建档")
    assert changed["register"]["properties.dueIn"] == (None, "1WD")
    assert changed["register"]["outgoing"] == (["f_register_review"], ["f_register_check"])
    assert changed["archive"] == {"incoming": (["f_review_archive"], ["f_check_archive"])}
    assert result["summary"] == {"added": 3, "removed": 3, "changed": 2}
    titles = {c["field"]: c["title"] for e in result["changed"] for c in e["changes"]}
    assert titles["name"] == "名称" and titles["properties.dueIn"] == "属性 dueIn"


def test_conditions_defaults_scripts_and_timers_are_compared():
    from app.designer.diff import diff_bpmn
    old = linear("dif", [("a", "登记")], timer_on="a", timer='"P3D"')
    new = old.replace('"P3D"', '"P5D"').replace(
        '<bpmn:sequenceFlow id="f_a_end" sourceRef="a" targetRef="end" />',
        '<bpmn:sequenceFlow id="f_a_end" sourceRef="a" targetRef="end">'
        '<bpmn:conditionExpression>ok</bpmn:conditionExpression></bpmn:sequenceFlow>')
    changed = {e["id"]: {c["field"]: (c["from"], c["to"]) for c in e["changes"]}
               for e in diff_bpmn(old, new)["changed"]}
    assert changed["a_deadline"] == {"timerEventDefinition": ("timerEventDefinition {timeDuration: \"P3D\"}",
                                                              "timerEventDefinition {timeDuration: \"P5D\"}")}
    assert changed["f_a_end"] == {"condition": (None, "ok")}


def test_moving_shapes_is_not_a_change():
    from app.designer.diff import diff_bpmn
    shapes = ('  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="p" bpmnElement="dif">'
              '<bpmndi:BPMNShape id="s" bpmnElement="a"><dc:Bounds x="{x}" y="10" width="100" height="80" />'
              '</bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n')
    old = linear("dif", [("a", "登记")], shapes=shapes.format(x=10))
    new = linear("dif", [("a", "登记")], shapes=shapes.format(x=300))
    assert diff_bpmn(old, new) == {"added": [], "removed": [], "changed": [],
                                   "summary": {"added": 0, "removed": 0, "changed": 0}}


def test_attributes_written_with_their_default_value_are_not_a_change():
    """bpmn-js drops cancelActivity="true", isSequential="false", ... on save: the same process."""
    from app.designer.diff import diff_bpmn
    old = linear("dif", [("a", "登记")], timer_on="a").replace(
        '<bpmn:userTask id="a" name="登记">',
        '<bpmn:userTask id="a" name="登记" startQuantity="1"><bpmn:multiInstanceLoopCharacteristics '
        'isSequential="false"><bpmn:loopCardinality>2</bpmn:loopCardinality>'
        '</bpmn:multiInstanceLoopCharacteristics>')
    new = old.replace(' cancelActivity="true"', "").replace(' isSequential="false"', "").replace(
        ' startQuantity="1"', "")
    assert ' cancelActivity="true"' in old and new != old
    assert diff_bpmn(old, new)["summary"] == {"added": 0, "removed": 0, "changed": 0}
    other = old.replace('cancelActivity="true"', 'cancelActivity="false"').replace(
        'isSequential="false"', 'isSequential="true"')
    changed = {c["field"]: (c["from"], c["to"]) for e in diff_bpmn(new, other)["changed"] for c in e["changes"]}
    assert changed["@cancelActivity"] == (None, "false")
    assert 'isSequential="true"' in changed["multiInstanceLoopCharacteristics"][1]


def test_diff_between_deployed_versions(users, fixture_forms):
    import pytest

    from app.designer import services
    from app.errors import NotFound
    services.deploy_xml(V1, "第一版", user("designer"))
    services.deploy_xml(V2, "删除审核，增加复核", user("designer"))
    result = services.diff_versions("dif", 1, 2)
    assert (result["key"], result["from_version"], result["to_version"]) == ("dif", 1, 2)
    assert {e["id"] for e in result["removed"]} >= {"review"}
    with pytest.raises(NotFound, match="没有版本 3"):
        services.diff_versions("dif", 1, 3)


def test_the_process_itself_is_compared():
    from app.designer.diff import diff_bpmn
    old = linear("dif", [("a", "登记")], name="旧名称")
    new = linear("dif", [("a", "登记")], name="新名称").replace(
        'isExecutable="true">', 'isExecutable="true"><bpmn:documentation>第二版</bpmn:documentation>')
    [process] = diff_bpmn(old, new)["changed"]
    assert (process["id"], process["kind"]) == ("dif", "process")
    assert {c["field"]: (c["from"], c["to"]) for c in process["changes"]} == {
        "name": ("旧名称", "新名称"), "documentation": (None, "第二版")}
