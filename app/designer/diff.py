"""Compare two BPMN documents element by element (processes, flow nodes, sequence flows, by id); lxml only.

What counts is what runs and what people see: type, name, lane, properties and other extension
values, scripts, event definitions, incoming/outgoing flows, conditions. Layout (BPMN DI) is not
compared: moving a shape is not a change of the process.
"""
from __future__ import annotations

from lxml import etree

from app.engine.messages import xml_message_in_chinese

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# hardened like the engine's parser: stored diagrams were validated, but never trust XML
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)

_FLOW_NODE_TAGS = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
}
# children compared as facets of their own (or not at all: incoming/outgoing come from the flows)
_OWN_FACETS = {"extensionElements", "incoming", "outgoing", "documentation", "script"}
# attributes compared as facets of their own
_OWN_ATTRIBUTES = {"id", "name"}
# children that are elements of their own (a process's or subprocess's content), or not compared
_NOT_FACETS = {"sequenceFlow", "laneSet", "dataObject", "dataObjectReference", "dataStoreReference",
               "textAnnotation", "association", "group", "category"}

# BPMN attributes written with their default value mean the same as absent ones; modelers (bpmn-js)
# drop them on save, which must not show up as a change.
_DEFAULT_ATTRIBUTES = {
    "cancelActivity": "true", "isInterrupting": "true", "parallelMultiple": "false", "isSequential": "false",
    "isForCompensation": "false", "startQuantity": "1", "completionQuantity": "1", "triggeredByEvent": "false",
    "instantiate": "false", "gatewayDirection": "Unspecified", "eventGatewayType": "Exclusive",
    "behavior": "All", "testBefore": "false", "waitForCompletion": "true", "cancelRemainingInstances": "true",
}

FIELD_TITLES = {
    "type": "类型", "name": "名称", "process": "所属流程", "lane": "泳道", "documentation": "文档说明",
    "script": "脚本", "incoming": "流入", "outgoing": "流出", "source": "起点", "target": "终点",
    "condition": "条件", "is_default": "默认流",
}


class DiffError(ValueError):
    """A stored document that does not parse (should not happen: deployed diagrams were validated)."""


def diff_bpmn(old_xml: str | bytes, new_xml: str | bytes) -> dict:
    """{"added": [...], "removed": [...], "changed": [...], "summary": {...}}.

    Each element is {"id", "kind" ("process" | "node" | "flow"), "type", "name"}; a changed one also has
    "changes": [{"field", "title", "from", "to"}], one per differing facet (a property is the
    facet "properties.<name>", an extension element "extensions.<tag>", an attribute "@<name>").
    """
    old, new = _elements(old_xml), _elements(new_xml)
    added = [_brief(new[i]) for i in new if i not in old]
    removed = [_brief(old[i]) for i in old if i not in new]
    changed = []
    for element_id in old:
        if element_id not in new:
            continue
        changes = _changes(old[element_id]["facets"], new[element_id]["facets"])
        if changes:
            changed.append({**_brief(new[element_id]), "changes": changes})
    return {"added": added, "removed": removed, "changed": changed,
            "summary": {"added": len(added), "removed": len(removed), "changed": len(changed)}}


def _brief(element: dict) -> dict:
    return {"id": element["id"], "kind": element["kind"], "type": element["type"], "name": element["name"]}


def _changes(old: dict, new: dict) -> list[dict]:
    changes = []
    for key in list(old) + [k for k in new if k not in old]:
        before, after = old.get(key), new.get(key)
        if before != after:
            head = key.split(".", 1)[0]
            title = FIELD_TITLES.get(key) or {
                "properties": f"属性 {key.partition('.')[2]}", "extensions": f"扩展 {key.partition('.')[2]}",
            }.get(head) or (f"属性 {key[1:]}" if key.startswith("@") else f"定义 {key}")
            changes.append({"field": key, "title": title, "from": before, "to": after})
    return changes


def parse_document(xml: str | bytes):
    """The root element of a BPMN document, parsed without entities, DTD or network. Raises DiffError."""
    content = xml.encode("utf-8") if isinstance(xml, str) else xml
    if b"<!DOCTYPE" in content[:4096].upper() or b"<!ENTITY" in content.upper():
        raise DiffError("不允许 DOCTYPE/实体声明")
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DiffError(f"XML 格式错误：{xml_message_in_chinese(exc.msg)}") from None
    if root.getroottree().docinfo.doctype:   # the parsed document, not only the head the text check reads
        raise DiffError("不允许 DOCTYPE/实体声明")
    return root


def _local(element) -> str:
    return etree.QName(element).localname


def _elements(xml: str | bytes) -> dict[str, dict]:
    """id -> {"id", "kind", "type", "name", "facets"} for every flow node and sequence flow."""
    root = parse_document(xml)
    lanes = _lanes(root)
    flows = root.xpath("//bpmn:sequenceFlow", namespaces=NS)
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for flow in flows:
        outgoing.setdefault(flow.get("sourceRef"), []).append(flow.get("id"))
        incoming.setdefault(flow.get("targetRef"), []).append(flow.get("id"))
    defaults = {node.get("default") for node in root.iter() if isinstance(node.tag, str) and node.get("default")}

    elements: dict[str, dict] = {}
    for process in root.xpath("//bpmn:process", namespaces=NS):
        if process.get("id"):   # the process itself: its name, executable flag, starter groups, ...
            elements[process.get("id")] = {"id": process.get("id"), "kind": "process", "type": "process",
                                           "name": process.get("name"),
                                           "facets": _node_facets(process, "process", process, {})}
        for node in process.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS or not node.get("id"):
                continue
            tag = _local(node)
            if tag in _FLOW_NODE_TAGS:
                facets = _node_facets(node, tag, process, lanes)
                facets["incoming"] = sorted(incoming.get(node.get("id"), []))
                facets["outgoing"] = sorted(outgoing.get(node.get("id"), []))
                elements[node.get("id")] = {"id": node.get("id"), "kind": "node", "type": tag,
                                            "name": node.get("name"), "facets": facets}
            elif tag == "sequenceFlow":
                condition = node.xpath("./bpmn:conditionExpression", namespaces=NS)
                facets = {"type": tag, "name": node.get("name"), "process": process.get("id"),
                          "source": node.get("sourceRef"), "target": node.get("targetRef"),
                          "condition": (condition[0].text or "").strip() or None if condition else None,
                          "is_default": node.get("id") in defaults}
                elements[node.get("id")] = {"id": node.get("id"), "kind": "flow", "type": tag,
                                            "name": node.get("name"), "facets": facets}
    return elements


def _lanes(root) -> dict[str, str]:
    """flow node id -> name of the innermost lane listing it (document order: outer lanes first)."""
    lanes = {}
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            if ref.text and ref.text.strip():
                lanes[ref.text.strip()] = lane.get("name") or lane.get("id")
    return lanes


def _node_facets(node, tag: str, process, lanes: dict[str, str]) -> dict:
    facets = {"type": tag, "name": node.get("name"), "process": process.get("id"),
              "lane": lanes.get(node.get("id"))}
    documentation = node.xpath("./bpmn:documentation", namespaces=NS)
    facets["documentation"] = _text(documentation[0]) if documentation else None
    script = node.xpath("./bpmn:script", namespaces=NS)
    if script:
        facets["script"] = _text(script[0])
    for attr, value in sorted(node.attrib.items()):
        qname = etree.QName(attr)
        if qname.namespace is None and qname.localname in _OWN_ATTRIBUTES or _is_default(qname, value):
            continue
        facets[f"@{_prefixed(node, qname)}"] = value
    for extension in node.xpath("./bpmn:extensionElements/*", namespaces=NS):
        if etree.QName(extension).namespace == SPIFF_NS and _local(extension) == "properties":
            for prop in extension.xpath("./spiffworkflow:property", namespaces=NS):
                facets[f"properties.{prop.get('name')}"] = prop.get("value")
        else:
            facets[f"extensions.{_prefixed(extension, etree.QName(extension))}"] = _canonical(extension)
    for child in node:   # event definitions, loop characteristics, io specification, ...
        if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN_NS:
            continue
        child_tag = _local(child)
        if child_tag in _OWN_FACETS or child_tag in _FLOW_NODE_TAGS or child_tag in _NOT_FACETS:
            continue   # a subprocess's children are elements of their own
        key = child_tag
        n = 2
        while key in facets:
            key, n = f"{child_tag}#{n}", n + 1
        facets[key] = _canonical(child)
    return facets


def _is_default(qname, value: str) -> bool:
    return qname.namespace is None and _DEFAULT_ATTRIBUTES.get(qname.localname) == (value or "").strip()


def _prefixed(element, qname) -> str:
    if qname.namespace is None:
        return qname.localname
    prefix = next((p for p, uri in (element.nsmap or {}).items() if uri == qname.namespace and p), None)
    return f"{prefix}:{qname.localname}" if prefix else qname.localname


def _text(element) -> str | None:
    text = (element.text or "").strip()
    return text or None


def _canonical(element) -> str:
    """A stable text of an element without ids and insignificant whitespace, for comparison and display."""
    parts = [_local(element)]
    attrs = [f'{_prefixed(element, etree.QName(k))}="{v}"' for k, v in sorted(element.attrib.items())
             if etree.QName(k).localname != "id" and not _is_default(etree.QName(k), v)]
    if attrs:
        parts.append("[" + " ".join(attrs) + "]")
    text = _text(element)
    if text:
        parts.append(f": {text}")
    children = [_canonical(child) for child in element if isinstance(child.tag, str)]
    if children:
        parts.append(" {" + "; ".join(children) + "}")
    return "".join(parts)
