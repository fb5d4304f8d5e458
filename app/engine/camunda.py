"""Camunda 7 diagrams, converted at deploy into the spiff-style diagram this engine runs.

A diagram written in Camunda Modeler (detected by the camunda namespace, or Camunda's older
activiti one) is rewritten in memory before SpiffWorkflow parses it, so its specs are the ordinary
spiff specs the runtime and its serializer already know (SpiffWorkflow's own `camunda` package was
not reused: its specs need their own serializer and do not run pre/post scripts):

- `camunda:formData` / `formField` (string, long, boolean, date, enum; required, readonly,
  minlength, maxlength, min, max) -> a generated JSON Schema + UI schema form;
- `camunda:assignee`, `candidateUsers` (one user), `candidateGroups`, `dueDate`, `priority` ->
  the task properties deploy reads (assignee, candidateGroups, dueIn, priority);
- JUEL in conditions, timers, multi-instance cardinality/completion and parameters -> Python
  (app/engine/juel.py), once here; the runtime never sees JUEL;
- `camunda:collection` / `elementVariable` -> loopDataInputRef / inputDataItem;
- `camunda:decisionRef` (+ `resultVariable`, `mapDecisionResult`) -> spiffworkflow:calledDecisionId
  and a postScript mapping the decision's outputs; Camunda DMN's FEEL entries -> Python;
- `camunda:inputOutput` -> spiffworkflow:preScript / postScript.

What cannot run here (Java delegates, listeners, external tasks, embedded HTML forms, scripts in
other languages, expressions with Java calls) is refused with the element, line and a Chinese
reason. The original file is what is stored and shown; the conversion is repeated when a deployed
version is loaded (it is deterministic).
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

from app.engine.juel import JuelError, is_expression, translate, translate_bare, translate_value
from app.engine.placeholders import PLACEHOLDER
from app.engine.sandbox import check_source

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NAMESPACES = ("http://camunda.org/schema/1.0/bpmn", "http://activiti.org/bpmn")
CAMUNDA_DMN_NS = "http://camunda.org/schema/1.0/dmn"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

BEIJING = timezone(timedelta(hours=8))   # a date-time without an offset (China keeps no summer time)
CONNECTOR_HINT = ("请改用服务任务连接器：在服务任务上设置 spiffworkflow:serviceTaskOperator（http 连接器，"
                  "或部署登记的 Python 连接器函数），见 README 中服务任务连接器的说明")
FORM_PREFIX = "camunda/"   # generated forms: camunda/<process id>/<element id>.schema.json


@dataclass
class Refusal:
    """Something in a Camunda diagram this engine cannot run."""

    message: str
    line: int | None
    element_id: str | None


@dataclass
class Conversion:
    forms: dict[str, dict] = field(default_factory=dict)   # generated form path -> JSON (schema or UI schema)
    refusals: list[Refusal] = field(default_factory=list)
    decisions: set[str] = field(default_factory=set)     # decision ids the diagram's business rule tasks call


def is_camunda(root) -> bool:
    """Whether a BPMN document uses Camunda's extensions (attributes or elements)."""
    if not any(ns in CAMUNDA_NAMESPACES for ns in (root.nsmap or {}).values()):
        return any(_namespace(el) in CAMUNDA_NAMESPACES for el in root.iter() if isinstance(el.tag, str))
    return True


def _namespace(element) -> str | None:
    return etree.QName(element).namespace


def _local(element) -> str:
    return etree.QName(element).localname


def _attr(element, name: str) -> str | None:
    for ns in CAMUNDA_NAMESPACES:
        value = element.get(f"{{{ns}}}{name}")
        if value is not None:
            return value
    return None


def _camunda_children(element, name: str) -> list:
    return [c for c in element.iter() if isinstance(c.tag, str) and _namespace(c) in CAMUNDA_NAMESPACES
            and _local(c) == name]


def _owner_id(element) -> str | None:
    """The id of the BPMN element a (Camunda) child element belongs to."""
    while element is not None and (element.get("id") is None or _namespace(element) != BPMN_NS):
        element = element.getparent()
    return element.get("id") if element is not None else None


def _bpmn(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def _spiff(name: str) -> str:
    return f"{{{SPIFF_NS}}}{name}"


class _Converter:
    def __init__(self, root, decisions: dict[str, "DecisionInfo"]):
        self.root = root
        self.decisions = decisions
        self.result = Conversion()

    def refuse(self, element, message: str) -> None:
        self.result.refusals.append(Refusal(message, element.sourceline, _owner_id(element)))

    # --- helpers writing the spiff side ------------------------------------------------------

    def extension_elements(self, element):
        found = element.find(_bpmn("extensionElements"))
        if found is None:
            found = etree.Element(_bpmn("extensionElements"))
            at = 0
            while at < len(element) and isinstance(element[at].tag, str) and element[at].tag == _bpmn("documentation"):
                at += 1
            element.insert(at, found)
        return found

    def set_property(self, element, name: str, value: str) -> None:
        """A spiffworkflow:property, unless the diagram already sets one of that name."""
        ext = self.extension_elements(element)
        props = ext.find(_spiff("properties"))
        if props is None:
            props = etree.SubElement(ext, _spiff("properties"))
        if any(p.get("name") == name for p in props.findall(_spiff("property"))):
            return
        etree.SubElement(props, _spiff("property"), name=name, value=value)

    def add_script(self, element, kind: str, lines: list[str]) -> None:
        if not lines:
            return
        ext = self.extension_elements(element)
        node = ext.find(_spiff(kind))
        if node is None:
            node = etree.SubElement(ext, _spiff(kind))
            node.text = ""
        before, after = (node.text or "").strip(), "\n".join(lines)
        node.text = f"{before}\n{after}" if before else after

    def python(self, element, text: str, what: str, *, bare: bool = False) -> str | None:
        """JUEL -> Python, checked in the sandbox; None (and a refusal) when it cannot be."""
        try:
            source = translate_bare(text) if bare else translate(text)
        except JuelError as exc:
            self.refuse(element, f"{what}“{text.strip()}”无法转换为 Python：{exc.message}")
            return None
        problems = check_source(source, "eval")
        if problems:
            self.refuse(element, f"{what}“{text.strip()}”转换为 Python 后不能执行：{problems[0]}")
            return None
        return source

    # --- the walk --------------------------------------------------------------------------

    def run(self) -> Conversion:
        initiators = {_attr(s, "initiator") for s in self.root.iter(_bpmn("startEvent"))} - {None}
        self.initiators = initiators
        self.last_post: list[tuple[object, list[str]]] = []   # postScript lines that must come last
        for element in list(self.root.iter()):
            if not isinstance(element.tag, str):
                continue
            ns, tag = _namespace(element), _local(element)
            if ns in CAMUNDA_NAMESPACES:
                self.camunda_element(element, tag)
                continue
            if ns != BPMN_NS:
                continue
            self.delegates(element, tag)
            if tag == "sequenceFlow" and not element.get("id"):
                self.name_flow(element)
            if tag == "userTask":
                self.user_task(element)
            elif tag == "startEvent":
                self.start_event(element)
            elif tag == "businessRuleTask":
                self.business_rule_task(element)
            elif tag == "scriptTask":
                self.script_task(element)
            elif tag in ("conditionExpression", "condition"):
                self.condition(element)
            elif tag == "multiInstanceLoopCharacteristics":
                self.multi_instance(element)
            elif tag in ("timeDuration", "timeDate", "timeCycle"):
                self.timer(element)
        for owner, lines in self.last_post:
            self.add_script(owner, "postScript", lines)
        for container in [e for e in self.root.iter(_bpmn("process"), _bpmn("subProcess"), _bpmn("transaction"))]:
            self.implicit_ends(container)
        return self.result

    _ACTIVITIES = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
                   "businessRuleTask", "callActivity", "subProcess", "transaction", "intermediateCatchEvent",
                   "intermediateThrowEvent"}

    def implicit_ends(self, container) -> None:
        """Camunda ends a path at an activity without outgoing flows; SpiffWorkflow completes the process
        there but drops that path's data. An explicit end event keeps it."""
        sources = {f.get("sourceRef") for f in container.findall(_bpmn("sequenceFlow"))}
        for node in list(container):
            if not isinstance(node.tag, str) or _namespace(node) != BPMN_NS or _local(node) not in self._ACTIVITIES:
                continue
            if node.get("id") in sources or node.get("isForCompensation") == "true" \
                    or node.get("triggeredByEvent") == "true":
                continue
            end_id, flow_id = f"{node.get('id')}_implicitEnd", f"{node.get('id')}_toImplicitEnd"
            end = etree.SubElement(container, _bpmn("endEvent"), id=end_id)
            end.sourceline = node.sourceline   # a problem found at it is shown at the activity
            etree.SubElement(end, _bpmn("incoming")).text = flow_id
            etree.SubElement(container, _bpmn("sequenceFlow"), id=flow_id, sourceRef=node.get("id"), targetRef=end_id)
            for lane in self.root.iter(_bpmn("lane")):
                if any((ref.text or "").strip() == node.get("id") for ref in lane.findall(_bpmn("flowNodeRef"))):
                    etree.SubElement(lane, _bpmn("flowNodeRef")).text = end_id

    def name_flow(self, flow) -> None:
        """Camunda accepts a sequence flow without an id; SpiffWorkflow loses the task it leads to."""
        base = f"flow_{flow.get('sourceRef')}_{flow.get('targetRef')}"
        taken = {e.get("id") for e in self.root.iter() if isinstance(e.tag, str)}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        flow.set("id", name)

    def camunda_element(self, element, tag: str) -> None:
        if tag in ("executionListener", "taskListener"):
            title = "执行监听器" if tag == "executionListener" else "任务监听器"
            self.refuse(element, f"Camunda 的{title}（camunda:{tag}）不支持：请把其中的逻辑放到脚本任务（Python）中；"
                                 f"需要调用外部系统时，{CONNECTOR_HINT}")
        elif tag == "formProperty":
            self.refuse(element, "旧式表单属性（camunda:formProperty）不支持：请改用 camunda:formData / formField")
        elif tag == "connector":
            self.refuse(element, f"Camunda 连接器（camunda:connector）不支持：{CONNECTOR_HINT}")
        elif tag == "inputOutput":
            self.input_output(element)
        elif tag == "properties" and _local(element.getparent()) == "extensionElements":
            owner = element.getparent().getparent()
            for prop in element:
                if isinstance(prop.tag, str) and prop.get("name"):
                    self.set_property(owner, prop.get("name"), prop.get("value") or "")

    # where Camunda runs a Java delegate or an expression for its side effects
    _DELEGATING = ("serviceTask", "sendTask", "businessRuleTask", "messageEventDefinition")

    def delegates(self, element, tag: str) -> None:
        if tag not in self._DELEGATING:
            return
        for attr in ("class", "delegateExpression", "expression"):
            value = _attr(element, attr)
            if value is not None:
                self.refuse(element, f"Camunda 的 Java 委托（camunda:{attr}=“{value}”）无法在本系统执行：{CONNECTOR_HINT}")
        if (_attr(element, "type") or "").lower() == "external":
            self.refuse(element, f"Camunda 外部任务（camunda:type=“external”，主题 {_attr(element, 'topic') or '未设置'}）"
                                 f"不支持：{CONNECTOR_HINT}")

    # --- forms -------------------------------------------------------------------------------

    def form_key(self, element) -> None:
        key = _attr(element, "formKey") or _attr(element, "formRef")
        if key is None:
            return
        if any(p.get("name") == "formJsonSchemaFilename" for p in element.iter(_spiff("property"))):
            return
        self.refuse(element, f"Camunda 表单（camunda:formKey=“{key}”）无法在本系统显示：请改用 camunda:formData 表单字段，"
                             "或设置属性 formJsonSchemaFilename 指向 JSON Schema 表单")

    def form_data(self, element) -> None:
        form_data = _camunda_children(element, "formData")
        if not form_data:
            return
        process = element
        while process is not None and _local(process) != "process":
            process = process.getparent()
        base = f"{FORM_PREFIX}{process.get('id') if process is not None else 'process'}/{element.get('id')}"
        schema, ui = self.form_schema(element, form_data[0])
        if schema is None:
            return
        self.result.forms[f"{base}.schema.json"] = schema
        self.result.forms[f"{base}.uischema.json"] = ui
        self.set_property(element, "formJsonSchemaFilename", f"{base}.schema.json")
        self.set_property(element, "formUiSchemaFilename", f"{base}.uischema.json")

    def form_schema(self, element, form_data) -> tuple[dict | None, dict]:
        title = (element.get("name") or "").strip() or element.get("id")
        properties, required, ui, order = {}, [], {}, []
        ok = True
        for form_field in [c for c in form_data if isinstance(c.tag, str) and _local(c) == "formField"]:
            name = form_field.get("id") or ""
            if not name.isidentifier() or name.startswith("_"):
                self.refuse(form_field, f"表单字段 id “{name}”无效：须由英文字母开头，只含英文字母、数字和下划线")
                ok = False
                continue
            node, field_ok = self.form_field(form_field, name)
            ok = ok and field_ok
            if node is None:
                continue
            flags = node.pop("__flags", set())
            properties[name] = node
            order.append(name)
            if "required" in flags:
                required.append(name)
            if "readonly" in flags:
                ui[name] = {"ui:readonly": True}
                node["readOnly"] = True
                if "default" in node:   # Camunda refuses a changed value of a read-only field; so does the server
                    node["const"] = node["default"]
            elif node.get("type") == "boolean":
                ui[name] = {"ui:widget": "radio"}
        if not ok:
            return None, {}
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, "type": "object",
                  "properties": properties}
        if required:
            schema["required"] = required
        return schema, {"ui:order": order, **ui}

    _TYPES = {"string": "string", "long": "integer", "boolean": "boolean", "date": "string", "enum": "string"}

    def form_field(self, form_field, name: str) -> tuple[dict | None, bool]:
        kind = (form_field.get("type") or "string").strip()
        if kind not in self._TYPES:
            self.refuse(form_field, f"表单字段 {name} 的类型 {kind} 不支持：可用 string、long、boolean、date、enum")
            return None, False
        node: dict = {"type": self._TYPES[kind], "title": (form_field.get("label") or "").strip() or name}
        flags: set[str] = set()
        if kind == "date":
            node["format"] = "date"
        if kind == "enum":
            values = [v for v in _camunda_children(form_field, "value")]
            if not values:
                self.refuse(form_field, f"枚举字段 {name} 没有选项（camunda:value）")
                return None, False
            node["oneOf"] = [{"const": v.get("id"), "title": (v.get("name") or "").strip() or v.get("id")}
                             for v in values]
        ok = True
        for constraint in _camunda_children(form_field, "constraint"):
            ok = self.constraint(constraint, name, kind, node, flags) and ok
        default = form_field.get("defaultValue")
        if default is not None and default != "":
            value = self.default_value(form_field, name, kind, default)
            if value is None:
                ok = False
            else:
                node["default"] = value
        node["__flags"] = flags
        return node, ok

    def constraint(self, constraint, name: str, kind: str, node: dict, flags: set) -> bool:
        rule, config = (constraint.get("name") or "").strip(), (constraint.get("config") or "").strip()
        if rule in ("required", "readonly"):
            flags.add(rule)
            return True
        limits = {"minlength": ("minLength", ("string",)), "maxlength": ("maxLength", ("string",)),
                  "min": ("minimum", ("long",)), "max": ("maximum", ("long",))}
        if rule not in limits:
            self.refuse(constraint, f"表单字段 {name} 的校验规则 {rule or '（无名称）'} 不支持：可用 required、readonly、"
                                    "minlength、maxlength、min、max")
            return False
        keyword, kinds = limits[rule]
        if kind not in kinds:
            self.refuse(constraint, f"表单字段 {name} 的校验规则 {rule} 只适用于 {'/'.join(kinds)} 类型的字段")
            return False
        try:
            number = int(config)
        except ValueError:
            self.refuse(constraint, f"表单字段 {name} 的校验规则 {rule} 的 config “{config}”须为整数")
            return False
        if rule in ("minlength", "maxlength") and number < 0:
            self.refuse(constraint, f"表单字段 {name} 的校验规则 {rule} 不能为负数")
            return False
        node[keyword] = number
        return True

    def default_value(self, form_field, name: str, kind: str, default: str):
        if is_expression(default):
            self.refuse(form_field, f"表单字段 {name} 的默认值“{default}”是表达式：生成的表单只支持固定默认值")
            return None
        if kind == "long":
            try:
                return int(default)
            except ValueError:
                self.refuse(form_field, f"表单字段 {name} 的默认值“{default}”不是整数")
                return None
        if kind == "boolean":
            if default.lower() not in ("true", "false"):
                self.refuse(form_field, f"表单字段 {name} 的默认值“{default}”须为 true 或 false")
                return None
            return default.lower() == "true"
        if kind == "date":
            match = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", default) or re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", default)
            if not match:
                self.refuse(form_field, f"表单字段 {name} 的默认日期“{default}”须写成 dd/MM/yyyy 或 yyyy-MM-dd")
                return None
            parts = match.groups()
            return f"{parts[2]}-{parts[1]}-{parts[0]}" if len(parts[0]) == 2 else "-".join(parts)
        if kind == "enum" and default not in {v.get("id") for v in _camunda_children(form_field, "value")}:
            self.refuse(form_field, f"表单字段 {name} 的默认值“{default}”不是它的选项")
            return None
        return default

    # --- elements ----------------------------------------------------------------------------

    def start_event(self, element) -> None:
        self.form_key(element)
        self.form_data(element)

    def user_task(self, element) -> None:
        self.form_key(element)
        self.form_data(element)
        self.assignment(element)
        due = _attr(element, "dueDate")
        if due is not None and due.strip():
            duration = self.due_duration(element, due.strip())
            if duration is not None:
                self.set_property(element, "dueIn", duration)
        priority = _attr(element, "priority")
        if priority is not None and priority.strip():
            if re.fullmatch(r"\d+", priority.strip()):
                self.set_property(element, "priority", priority.strip())
            else:
                self.refuse(element, f"camunda:priority “{priority}”须为整数（表达式不支持）")

    def assignment(self, element) -> None:
        groups = _attr(element, "candidateGroups")
        if groups is not None:
            for part in [g.strip() for g in groups.split(",") if g.strip()]:
                if is_expression(part) and not PLACEHOLDER.fullmatch(part):
                    self.refuse(element, f"candidateGroups 中的表达式“{part}”不支持：只支持固定组名或 ${{变量名}}")
            self.set_property(element, "candidateGroups", groups)
        assignee = _attr(element, "assignee")
        users = [u.strip() for u in (_attr(element, "candidateUsers") or "").split(",") if u.strip()]
        if len(users) > 1:
            self.refuse(element, f"candidateUsers 列出了 {len(users)} 个用户（{'、'.join(users)}）：本系统按用户组分派任务，"
                                 "请把这些用户放进一个用户组并改用 candidateGroups，或只写一个用户（作为办理人）")
            return
        if assignee is None and users:
            assignee = users[0]
        if assignee is None or not assignee.strip():
            return
        assignee = assignee.strip()
        match = PLACEHOLDER.fullmatch(assignee)
        if match and match.group(1) in self.initiators:
            assignee = "${initiator}"   # the start event's camunda:initiator: whoever started the case
        elif is_expression(assignee) and not match:
            self.refuse(element, f"办理人表达式“{assignee}”不支持：只支持用户名或 ${{变量名}}（变量的值为用户名）")
            return
        self.set_property(element, "assignee", assignee)

    def due_duration(self, element, due: str) -> str | None:
        if PLACEHOLDER.fullmatch(due):
            return due   # resolved from the data when the task is ready (a duration, e.g. P3D or 3WD)
        idiom = re.fullmatch(r"[$#]\{\s*dateTime\(\)\s*\.\s*plus(Days|Weeks|Hours|Minutes)\(\s*(\d+)\s*\)"
                             r"\s*\.\s*toDate\(\)\s*\}", due)
        if idiom:
            unit, amount = idiom.group(1), int(idiom.group(2))
            return {"Days": f"{amount * 24}H", "Weeks": f"{amount * 168}H", "Hours": f"{amount}H",
                    "Minutes": f"{amount}MIN"}[unit]
        converted = iso_duration(due)
        if converted is not None:
            return converted
        if _iso_instant(due) is not None:
            self.set_property(element, "dueAt", due)   # a fixed instant: counted from when the task is ready
            return None
        if re.match(r"\d{4}-\d{2}-\d{2}", due):
            self.refuse(element, f"camunda:dueDate “{due}”不是有效的 ISO 8601 日期时间（如 2026-12-31T17:00:00+08:00）")
        else:
            self.refuse(element, f"camunda:dueDate “{due}”无法转换：请写 ISO 时长（如 P3D、PT4H）、${{变量名}}，"
                                 "或 ${dateTime().plusDays(2).toDate()}")
        return None

    def business_rule_task(self, element) -> None:
        ref = _attr(element, "decisionRef")
        if ref is None:
            return
        ref = ref.strip()
        if is_expression(ref) or not ref:
            self.refuse(element, f"camunda:decisionRef “{ref}”须为决策 id（表达式不支持）")
            return
        info = self.decisions.get(ref)
        if info is None:
            self.refuse(element, f"找不到决策 {ref}：同一目录中没有定义该决策的 DMN 文件")
            return
        self.result.decisions.add(ref)
        ext = self.extension_elements(element)
        called = etree.SubElement(ext, _spiff("calledDecisionId"))
        called.text = ref
        variable = (_attr(element, "resultVariable") or "").strip()
        mapping = (_attr(element, "mapDecisionResult") or "resultList").strip()
        outputs = info.outputs
        # outputs are None unless a rule matched (a list when collecting): the mapping never meets an unset
        # name, nor a list from an earlier run the engine would merge the new one into
        self.add_script(element, "preScript", [f"{o} = None" for o in outputs])
        if info.collect:
            self.add_script(element, "postScript", [f"{o} = [] if {o} is None else {o}" for o in outputs])
        if not variable:
            return
        if not variable.isidentifier():
            self.refuse(element, f"camunda:resultVariable “{variable}”不是有效的变量名")
            return
        if mapping in ("singleEntry", "collectEntries") and len(outputs) != 1:
            self.refuse(element, f"mapDecisionResult=“{mapping}”要求决策 {ref} 只有一个输出，实际有 {len(outputs)} 个")
            return
        first = outputs[0] if outputs else None
        entries = ", ".join(f"{o!r}: {o}" for o in outputs)
        rows = ", ".join(f"{o!r}: {o}[i]" for o in outputs)
        if mapping == "singleEntry":
            line = f"{variable} = ({first}[0] if {first} else None)" if info.collect else f"{variable} = {first}"
        elif mapping == "collectEntries":
            line = f"{variable} = list({first})" if info.collect else \
                f"{variable} = ([] if {first} is None else [{first}])"
        elif mapping == "singleResult":
            line = (f"{variable} = ({{{', '.join(f'{o!r}: {o}[0]' for o in outputs)}}} if {first} else None)"
                    if info.collect else f"{variable} = {{{entries}}}")
        elif mapping == "resultList":
            line = (f"{variable} = [{{{rows}}} for i in range(len({first}))]" if info.collect else
                    f"{variable} = ([] if all(v is None for v in [{', '.join(outputs)}]) else [{{{entries}}}])")
        else:
            self.refuse(element, f"mapDecisionResult=“{mapping}”不支持：可用 singleEntry、singleResult、"
                                 "collectEntries、resultList")
            return
        self.add_script(element, "postScript", [line])

    def script_task(self, element) -> None:
        language = (element.get("scriptFormat") or "python").strip().lower()
        if language not in ("python", "py", "text/x-python", "spiff", "jython"):
            self.refuse(element, f"脚本语言 {element.get('scriptFormat')} 不支持：本系统的脚本任务只执行 Python（沙箱）")
        if _attr(element, "resource"):
            self.refuse(element, "外部脚本文件（camunda:resource）不支持：请把 Python 脚本写在脚本任务中")
        if _attr(element, "resultVariable"):
            self.refuse(element, "camunda:resultVariable 在脚本任务上不支持：请在 Python 脚本中直接给变量赋值")

    def condition(self, element) -> None:
        language = (element.get("language") or "").strip().lower()
        text = element.text or ""
        if _attr(element, "resource"):
            self.refuse(element, "外部条件脚本（camunda:resource）不支持：请写 ${...} 表达式")
            return
        if language and language not in ("juel", "python", "http://www.w3.org/1999/xpath"):
            self.refuse(element, f"条件的脚本语言 {element.get('language')} 不支持：请写 ${{...}} 表达式")
            return
        if is_expression(text):
            source = self.python(element, text, "条件")
            if source is not None:
                element.text = source
                element.attrib.pop("language", None)

    def multi_instance(self, element) -> None:
        collection = _attr(element, "collection")
        variable = _attr(element, "elementVariable")
        cardinality = element.find(_bpmn("loopCardinality"))
        completion = element.find(_bpmn("completionCondition"))
        if collection is not None:
            name = collection.strip()
            match = PLACEHOLDER.fullmatch(name)
            name = match.group(1) if match else name
            if not name.isidentifier():
                self.refuse(element, f"camunda:collection “{collection}”须为列表变量名或 ${{变量名}}（表达式不支持）")
                return
            if cardinality is not None:
                self.refuse(element, "多实例不能同时设置 loopCardinality 和 camunda:collection")
                return
            ref = etree.Element(_bpmn("loopDataInputRef"))
            ref.text = name
            element.insert(0, ref)
            if variable:
                if not variable.strip().isidentifier():
                    self.refuse(element, f"camunda:elementVariable “{variable}”不是有效的变量名")
                    return
                item = etree.Element(_bpmn("inputDataItem"), id=variable.strip(), name=variable.strip())
                ref.addnext(item)
                # Camunda's element variable is local to its instance: scripts (inputOutput, a decision's
                # mapping) run on each instance, and the variable is gone when the instance ends (else the
                # next sequential instance finds it set)
                element.set(f"{{{SPIFF_NS}}}scriptsOnInstances", "true")
                self.last_post.append((element.getparent(), [f"del {variable.strip()}"]))
        elif variable:
            self.refuse(element, "设置了 camunda:elementVariable 却没有 camunda:collection")
        for node, what in ((cardinality, "多实例数量"), (completion, "多实例完成条件")):
            if node is not None and is_expression(node.text or ""):
                source = self.python(node, node.text, what)
                if source is not None:
                    node.text = source

    def timer(self, element) -> None:
        text = (element.text or "").strip()
        if is_expression(text):
            source = self.python(element, text, "定时表达式")
            if source is not None:
                element.text = source
        elif re.fullmatch(r"(R\d*/)?P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}T[0-9:.+\-Z]*", text, re.IGNORECASE):
            element.text = repr(text)   # Camunda writes ISO literals bare; here timers are Python
        elif len(text.split()) in (6, 7) and re.fullmatch(r"[0-9*?/,\-LW#A-Z ]+", text.upper()):
            self.refuse(element, f"定时的 cron 表达式“{text}”不支持：请改用 ISO 8601 循环周期（如 R/P1D）或时长")

    def input_output(self, element) -> None:
        owner = element.getparent().getparent()
        if _local(owner) in ("startEvent", "boundaryEvent") or _local(owner).endswith("Gateway"):
            self.refuse(element, "camunda:inputOutput 只支持用在任务、子流程和调用活动上")
            return
        pre, post = [], []
        for param in element:
            if not isinstance(param.tag, str):
                continue
            kind, name = _local(param), (param.get("name") or "").strip()
            if kind not in ("inputParameter", "outputParameter"):
                continue
            if not name.isidentifier() or name.startswith("_"):
                self.refuse(param, f"参数名“{name}”无效：须由英文字母开头，只含英文字母、数字和下划线")
                continue
            source = self.parameter_value(param, name)
            if source is not None:
                (pre if kind == "inputParameter" else post).append(f"{name} = {source}")
        self.add_script(owner, "preScript", pre)
        self.add_script(owner, "postScript", post)

    def parameter_value(self, node, name: str) -> str | None:
        children = [c for c in node if isinstance(c.tag, str)]
        if not children:
            text = node.text
            if text is not None and not text.strip():
                text = None
            if text is not None and is_expression(text):
                return self.python(node, text, f"参数 {name} 的表达式")
            return translate_value(text)
        child = children[0]
        kind = _local(child)
        if kind == "script":
            self.refuse(child, f"参数 {name} 的脚本（camunda:script）不支持：请写 ${{...}} 表达式或固定值")
            return None
        if kind == "list":
            values = [self.parameter_value(v, name) for v in child if isinstance(v.tag, str)]
            return None if None in values else f"[{', '.join(values)}]"
        if kind == "map":
            entries = []
            for entry in [e for e in child if isinstance(e.tag, str)]:
                value = self.parameter_value(entry, name)
                if value is None:
                    return None
                entries.append(f"{entry.get('key')!r}: {value}")
            return "{" + ", ".join(entries) + "}"
        if kind == "value":
            return self.parameter_value(child, name)
        self.refuse(child, f"参数 {name} 的写法 camunda:{kind} 不支持")
        return None


def iso_duration(text: str | None) -> str | None:
    """An ISO 8601 duration (P3D, P1W, PT4H, PT30M, P1DT12H) as this system's time limit in clock
    hours or minutes (72H, 168H, 4H, 30MIN, 36H): Camunda's due date is that exact instant, not the end
    of a calendar day. None when it is not one, or has months/years (no fixed length)."""
    match = re.fullmatch(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", (text or "").strip().upper())
    if not match or not any(match.groups()) or (text or "").strip().upper().endswith("T"):
        return None
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if seconds % 60:
        return None
    minutes += seconds // 60
    total = ((weeks * 7 + days) * 24 + hours) * 60 + minutes
    return f"{total // 60}H" if total % 60 == 0 else f"{total}MIN"


def _iso_instant(text: str | None) -> datetime | None:
    """An ISO 8601 date or date-time (a date alone is its midnight; no offset is Beijing time)."""
    if not isinstance(text, str) or not re.match(r"\d{4}-\d{2}-\d{2}", text.strip()):
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)


def due_in_from(value, now: datetime) -> str | None:
    """A Camunda due date resolved when its task is ready -> this system's time limit: an ISO
    duration (P3D -> 72H), or an ISO date-time as the minutes from `now` until it (at least 1)."""
    if not isinstance(value, str):
        return None
    duration = iso_duration(value)
    if duration is not None:
        return duration
    instant = _iso_instant(value)
    if instant is None:
        return None
    return f"{max(1, math.ceil((instant - now).total_seconds() / 60))}MIN"


def normalise_structure(root) -> None:
    """Only what Camunda reads differently from BPMN's letter, for the structural checks of the diagram
    as drawn: a sequence flow without an id, and an activity without outgoing flows ending its path."""
    converter = _Converter(root, {})
    for flow in list(root.iter(_bpmn("sequenceFlow"))):
        if not flow.get("id"):
            converter.name_flow(flow)
    for container in list(root.iter(_bpmn("process"), _bpmn("subProcess"), _bpmn("transaction"))):
        converter.implicit_ends(container)


def convert(root, decisions: dict[str, "DecisionInfo"] | None = None) -> Conversion:
    """Rewrite a Camunda diagram in place into spiff style; returns generated forms and refusals."""
    return _Converter(root, decisions or {}).run()


# --- DMN from Camunda Modeler: FEEL unary tests and literal expressions -> Python ------------------

@dataclass
class DecisionInfo:
    outputs: list[str]
    collect: bool
    refusals: list[Refusal] = field(default_factory=list)


def _dmn_children(element, name: str) -> list:
    return [c for c in element if isinstance(c.tag, str) and _local(c) == name]


def is_camunda_dmn(root) -> bool:
    return CAMUNDA_DMN_NS in (root.nsmap or {}).values() or any(
        _namespace(el) == CAMUNDA_DMN_NS for el in root.iter() if isinstance(el.tag, str)) or any(
        k.startswith(f"{{{CAMUNDA_DMN_NS}}}") for el in root.iter() if isinstance(el.tag, str) for k in el.attrib)


def single_decisions(root) -> list:
    """The DMN document as one document per decision: SpiffWorkflow reads only a file's first decision,
    and Camunda Modeler puts several (a decision requirements graph) in one file."""
    decisions = [d for d in root if isinstance(d.tag, str) and _local(d) == "decision"]
    if len(decisions) < 2:
        return [root]
    parts = []
    for keep in range(len(decisions)):
        part = copy.deepcopy(root)
        for n, decision in enumerate([d for d in part if isinstance(d.tag, str) and _local(d) == "decision"]):
            if n != keep:
                part.remove(decision)
        parts.append(part)
    return parts


def decisions_of(root) -> dict[str, DecisionInfo]:
    """The decisions of a DMN document with their outputs; a Camunda DMN's FEEL is rewritten to Python
    in place, and what cannot be is kept as the decision's refusals (reported only if it is called)."""
    camunda = is_camunda_dmn(root)
    found = {}
    for decision in [d for d in root.iter() if isinstance(d.tag, str) and _local(d) == "decision"]:
        info = DecisionInfo([], False)
        found[decision.get("id")] = info
        tables = _dmn_children(decision, "decisionTable")
        if _dmn_children(decision, "informationRequirement") and camunda:
            info.refusals.append(Refusal(f"决策 {decision.get('id')} 依赖其他决策（决策需求图 requiredDecision）："
                                         "本系统只执行单个决策表，请把所需决策的结果作为输入变量", decision.sourceline,
                                         decision.get("id")))
        if not tables:
            info.refusals.append(Refusal(f"决策 {decision.get('id')} 不是决策表（如字面量表达式决策），不支持",
                                         decision.sourceline, decision.get("id")))
            continue
        table = tables[0]
        policy = (table.get("hitPolicy") or "UNIQUE").upper()
        info.outputs = [o.get("name") or o.get("label") or "" for o in _dmn_children(table, "output")]
        if camunda:
            _convert_table(table, decision, policy, info)
        info.collect = (table.get("hitPolicy") or "UNIQUE").upper() == "COLLECT"
    return found


def _convert_table(table, decision, policy: str, info: DecisionInfo) -> None:
    def refuse(element, message):
        info.refusals.append(Refusal(message, element.sourceline, element.get("id") or decision.get("id")))

    # DMN 1.1 lets rules, entries and clauses go without an id; SpiffWorkflow's parser needs one
    for n, node in enumerate(e for e in table.iter() if isinstance(e.tag, str) and _local(e) in (
            "input", "output", "rule", "inputEntry", "outputEntry", "inputExpression")):
        if not node.get("id"):
            node.set("id", f"{_local(node)}_{n}")
    if table.get("aggregation"):
        refuse(table, f"命中策略 COLLECT 的聚合 {table.get('aggregation')} 不支持：请去掉聚合，在后续脚本任务中计算")
    if policy in ("FIRST", "ANY"):
        table.set("hitPolicy", "UNIQUE")   # the engine returns the first rule that matches
    elif policy == "RULE ORDER":
        table.set("hitPolicy", "COLLECT")
    elif policy not in ("UNIQUE", "COLLECT"):
        refuse(table, f"命中策略 {policy} 不支持：可用 UNIQUE、FIRST、ANY、COLLECT、RULE ORDER")
    for output in info.outputs:
        if not output.isidentifier():
            refuse(table, f"决策输出名“{output}”须为有效的变量名")
    inputs = _dmn_children(table, "input")
    variables = [(_attr_dmn(i, "inputVariable") or "cellInput") for i in inputs]
    for clause in inputs:
        for expression in _dmn_children(clause, "inputExpression"):
            language = (expression.get("expressionLanguage") or "").lower()
            text_node = next(iter(_dmn_children(expression, "text")), None)
            if language and language not in ("juel", "feel"):
                refuse(expression, f"输入表达式的语言 {expression.get('expressionLanguage')} 不支持")
            elif text_node is not None and (text_node.text or "").strip():
                source = _feel_value(text_node.text, refuse, expression)
                if source is not None:
                    text_node.text = source
    for rule in _dmn_children(table, "rule"):
        for index, entry in enumerate(_dmn_children(rule, "inputEntry")):
            text_node = next(iter(_dmn_children(entry, "text")), None)
            text = (text_node.text or "").strip() if text_node is not None else ""
            if text in ("", "-"):
                continue
            variable = variables[index] if index < len(variables) else "cellInput"
            source = _unary_tests(text, variable, refuse, entry)
            if source is not None:
                text_node.text = source
        for entry in _dmn_children(rule, "outputEntry"):
            text_node = next(iter(_dmn_children(entry, "text")), None)
            if text_node is not None and (text_node.text or "").strip():
                source = _feel_value(text_node.text, refuse, entry)
                if source is not None:
                    text_node.text = source


def _attr_dmn(element, name: str) -> str | None:
    value = element.get(f"{{{CAMUNDA_DMN_NS}}}{name}")
    return value or None


def _feel_value(text: str, refuse, element) -> str | None:
    text = text.strip()
    try:
        source = translate(text) if is_expression(text) else translate_bare(text)
    except JuelError as exc:
        refuse(element, f"表达式“{text}”无法转换为 Python：{exc.message}")
        return None
    problems = check_source(source, "eval")
    if problems:
        refuse(element, f"表达式“{text}”转换为 Python 后不能执行：{problems[0]}")
        return None
    return source


def _split_top(text: str, separator: str = ",") -> list[str]:
    parts, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            current += char
            if char == quote:
                quote = None
            continue
        if char == '"':
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [p.strip() for p in parts]


_INTERVAL = re.compile(r"^([\[\]\(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\[\]\)])$")


def _unary_tests(text: str, variable: str, refuse, element) -> str | None:
    """A FEEL unary test list (`"a","b"`, `< 250`, `[250..1000]`, `not("x")`) -> a Python test of `?`."""
    negate = False
    body = text
    match = re.fullmatch(r"not\s*\((.*)\)", body, re.DOTALL)
    if match:
        negate, body = True, match.group(1)
    tests = []
    for part in _split_top(body):
        test = _unary_test(part, variable, refuse, element)
        if test is None:
            return None
        tests.append(test)
    source = " or ".join(f"({t})" for t in tests) if len(tests) > 1 else tests[0]
    return f"not ({source})" if negate else source


def _unary_test(part: str, variable: str, refuse, element) -> str | None:
    if not part:
        refuse(element, "输入条目中有空的条件")
        return None
    interval = _INTERVAL.match(part)
    if interval:
        opening, low, high, closing = interval.groups()
        low_py, high_py = _feel_value(low, refuse, element), _feel_value(high, refuse, element)
        if low_py is None or high_py is None:
            return None
        return (f"{low_py} {'<=' if opening == '[' else '<'} ? and "
                f"? {'<=' if closing == ']' else '<'} {high_py}")
    comparison = re.fullmatch(r"(<=|>=|<|>|=|!=)\s*(.+)", part, re.DOTALL)
    if comparison:
        op, value = comparison.groups()
        value_py = _feel_value(value, refuse, element)
        return None if value_py is None else f"? {'==' if op == '=' else op} {value_py}"
    if part == "null":
        return "? is None"
    value_py = _feel_value(part, refuse, element)
    if value_py is None:
        return None
    if re.search(rf"\b{re.escape(variable)}\b", value_py):   # an expression over the input (cellInput)
        return re.sub(rf"\b{re.escape(variable)}\b", "?", value_py)
    return f"? == {value_py}"
