"""Parse and check BPMN (+DMN) into specs; every problem is reported at once with file, element and line."""
from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import UserTaskParser
from SpiffWorkflow.spiff.specs.defaults import UserTask

from app.engine import camunda
from app.engine.messages import engine_message_in_chinese
from app.engine.placeholders import invalid_placeholders, unclosed
from app.engine.sandbox import check_source, current_script_engine

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS, "camunda": CAMUNDA_NS}

# Camunda 7 attributes that users bring from Camunda Modeler, read into our properties.
CAMUNDA_TASK_ATTRIBUTES = {
    "candidateGroups": "candidateGroups",
    "candidateUsers": "candidateUsers",
    "assignee": "assignee",
    "dueDate": "camundaDueDate",
    "formKey": "formKey",
    "priority": "priority",
}

# A hardened XML parser: no entities, no DTD, no network (BPMN uploads are untrusted input).
# Comments and processing instructions are dropped: SpiffWorkflow's parser takes a comment inside
# an element for a child element and crashes ("'cython_function_or_method' has no attribute 'endswith'").
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                               huge_tree=False, remove_comments=True, remove_pis=True)


@dataclass
class Problem:
    """One thing wrong with a diagram, for the designer."""

    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None
    # a parser failure that only rewords a break the structural checks report (merge_problems drops it)
    restates_structure: bool = field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        where = ", ".join(x for x in (
            self.file,
            f"第 {self.line} 行" if self.line else None,
            f"元素 {self.element_id}" if self.element_id else None) if x)
        return f"{where}：{self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"message": self.message, "file": self.file, "line": self.line,
                "element_id": self.element_id}


class BpmnInvalid(Exception):
    """A diagram that cannot be deployed; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class TaskInfo:
    """What the application needs to know about one user/manual task of a process."""

    bpmn_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    instructions: str | None
    documentation: str | None


@dataclass
class ParsedProcess:
    key: str
    name: str
    spec: object
    subprocess_specs: dict
    tasks: dict[str, TaskInfo]
    start_properties: dict[str, str]
    starter_groups: list[str]
    has_timers: bool
    referenced_forms: set[str] = field(default_factory=set)
    referenced_dmn: set[str] = field(default_factory=set)
    start_messages: dict[str, str] = field(default_factory=dict)   # message name -> start event id
    start_cycle: str | None = None   # a timer start's ISO cycle, e.g. "R/P7D": the app starts it periodically
    # the start events a person can use (a none or a message start; not a timer, signal or condition)
    has_manual_start: bool = True
    start_lanes: list[str] = field(default_factory=list)   # the lanes of those start events
    # forms generated at deploy (a Camunda diagram's formData): path -> JSON Schema / UI schema
    generated_forms: dict[str, dict] = field(default_factory=dict)


class _WuyiUserTaskParser(UserTaskParser):
    """Spiff's user-task parser, plus the Camunda 7 attributes (assignee, candidateGroups, ...)."""

    def parse_extensions(self, node=None):
        ext = super().parse_extensions(node)
        if node is None:
            props = ext.setdefault("properties", {})
            for attr, prop in CAMUNDA_TASK_ATTRIBUTES.items():
                value = self.node.get(f"{{{CAMUNDA_NS}}}{attr}")
                if value is not None:
                    props.setdefault(prop, value)
        return ext


class WuyiBpmnParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_WuyiUserTaskParser, UserTask),
    }


def parse_xml(content: bytes, filename: str) -> etree._ElementTree:
    """Parse untrusted XML safely; raises BpmnInvalid naming file and line."""
    if b"<!DOCTYPE" in content[:4096].upper() or b"<!ENTITY" in content.upper():
        raise BpmnInvalid([Problem("不允许 DOCTYPE/实体声明（XML 外部实体风险）", filename, 1)])
    try:
        root = etree.fromstring(content, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) else None
        raise BpmnInvalid([Problem(f"XML 格式错误：{exc.msg}", filename, line)]) from None
    if root.getroottree().docinfo.doctype:   # one further down than the head the text check reads
        raise BpmnInvalid([Problem("不允许 DOCTYPE/实体声明（XML 外部实体风险）", filename, 1)])
    return etree.ElementTree(root)


def _element_line(tree, element_id: str | None) -> int | None:
    if not element_id:
        return None
    found = tree.getroot().xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def _properties_of(element) -> dict[str, str]:
    return {p.get("name"): p.get("value") or ""
            for p in element.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                                   namespaces=NS)}


def _script_checks(tree, filename: str) -> list[Problem]:
    """Compile every script, condition and timer expression in the sandbox, without running it."""
    problems = []
    root = tree.getroot()
    checks = [
        ("//bpmn:scriptTask/bpmn:script", "exec"),
        ("//spiffworkflow:preScript", "exec"),
        ("//spiffworkflow:postScript", "exec"),
        ("//bpmn:sequenceFlow/bpmn:conditionExpression", "eval"),
        ("//bpmn:timerEventDefinition/*", "eval"),
    ]
    for xpath, mode in checks:
        for node in root.xpath(xpath, namespaces=NS):
            source = (node.text or "").strip()
            owner = node
            while owner is not None and owner.get("id") is None:
                owner = owner.getparent()
            owner_id = owner.get("id") if owner is not None else None
            if not source:
                if mode == "eval":
                    problems.append(Problem("表达式为空", filename, node.sourceline, owner_id))
                continue
            for message in check_source(source, mode):
                problems.append(Problem(message, filename, node.sourceline, owner_id))
    return problems


def _service_checks(tree, filename: str) -> list[Problem]:
    """Each service task's connector is registered, and its parameter expressions compile."""
    problems = []
    known = current_script_engine().service_names
    for operator in tree.getroot().xpath("//bpmn:serviceTask//spiffworkflow:serviceTaskOperator", namespaces=NS):
        task = next(operator.iterancestors("{%s}serviceTask" % NS["bpmn"]))
        name = operator.get("id") or ""
        if name not in known:
            problems.append(Problem(
                f"服务任务使用的连接器“{name}”未注册（可用：{'、'.join(sorted(known)) or '无'}）",
                filename, operator.sourceline, task.get("id")))
        for param in operator.xpath(".//spiffworkflow:parameter", namespaces=NS):
            if param.get("value") is None:
                continue
            for message in check_source(param.get("value"), "eval") or []:
                problems.append(Problem(f"参数 {param.get('id')} 的表达式有误：{message}", filename,
                                        param.sourceline, task.get("id")))
    return problems


# --- design rules: every problem at once, named by element and line ---------------------------

_TASK_TAGS = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess", "transaction")
_GATEWAY_TAGS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
                 "complexGateway")
_EVENT_TAGS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
_KIND_TITLES = {**{t: "任务" for t in _TASK_TAGS}, "userTask": "用户任务", "manualTask": "人工任务",
                "scriptTask": "脚本任务", "subProcess": "子流程", "callActivity": "调用活动",
                **{t: "网关" for t in _GATEWAY_TAGS}, **{t: "事件" for t in _EVENT_TAGS}}
_ISO_LITERAL = re.compile(r"^(R\d*/)?P(?=\d|T\d)[0-9YMWDTHS.,]*$|^\d{4}-\d{2}-\d{2}T", re.IGNORECASE)
_TIMER_KINDS = {"timeDuration": "时长", "timeDate": "日期时间", "timeCycle": "循环周期"}


def _local(element) -> str:
    return etree.QName(element).localname


def _outgoing_flows(root) -> dict[str, list]:
    """source element id -> its sequence flows (from sourceRef, which the engine follows)."""
    flows: dict[str, list] = {}
    for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NS):
        flows.setdefault(flow.get("sourceRef"), []).append(flow)
    return flows


def _gateway_checks(tree, filename: str) -> list[Problem]:
    """An exclusive gateway that splits needs a condition on every outgoing flow but its default."""
    problems = []
    root = tree.getroot()
    outgoing = _outgoing_flows(root)
    for gateway in root.xpath("//bpmn:exclusiveGateway", namespaces=NS):
        flows = outgoing.get(gateway.get("id"), [])
        if len(flows) < 2:
            continue
        default = gateway.get("default")
        if default and default not in {f.get("id") for f in flows}:
            problems.append(Problem(f"默认流 {default} 不是该排他网关的出口", filename, gateway.sourceline,
                                    gateway.get("id")))
            default = None
        for flow in flows:
            if flow.get("id") == default:
                continue
            conditions = flow.xpath("./bpmn:conditionExpression", namespaces=NS)
            if not conditions or not (conditions[0].text or "").strip():
                problems.append(Problem(
                    f"排他网关 {gateway.get('id')} 的出口流没有条件，也不是默认流：请填写条件或将其设为默认流",
                    filename, flow.sourceline, flow.get("id")))
    return problems


def _timer_checks(tree, filename: str) -> list[Problem]:
    """Evaluate every timer expression in the sandbox with the helpers and no data.

    A NameError for a data variable is accepted (its value comes at run time); an unknown function,
    an unquoted ISO literal, or a value that is not a valid ISO 8601 time is a problem. Expressions
    that do not compile are skipped: the compile check reports them.
    """
    problems = []
    environment = _timer_environment()
    for node in tree.getroot().xpath("//bpmn:timerEventDefinition/*", namespaces=NS):
        kind = _local(node)
        source = (node.text or "").strip()
        if kind not in _TIMER_KINDS or not source or check_source(source, "eval"):
            continue
        owner = node.getparent().getparent()
        owner_id = owner.get("id") if owner is not None else None
        message = _timer_problem(environment, kind, source)
        if message:
            problems.append(Problem(message, filename, node.sourceline, owner_id))
    return problems


def _timer_environment():
    """The script environment timers run in at run time (with now/today/due_in/add_duration)."""
    return current_script_engine().environment


def _timer_problem(environment, kind: str, source: str) -> str | None:
    title = _TIMER_KINDS[kind]
    try:
        value = environment.evaluate(source, {})
    except NameError as exc:
        name = getattr(exc, "name", None) or ""
        if _ISO_LITERAL.match(source):
            return f"定时{title}表达式是 Python 表达式，ISO 8601 字面量须加引号：\"{source}\""
        if name and _is_called(source, name) and name not in environment.globals:
            return f"定时{title}表达式调用了未知函数 {name}()"
        return None   # a data variable: known only at run time
    except RuntimeError:
        return None   # a helper that needs the application (no app context here): cannot check
    except Exception as exc:  # noqa: BLE001 - the designer's expression failed: report why
        return f"定时{title}表达式求值出错：{type(exc).__name__}: {exc}"
    if not isinstance(value, str):
        return f"定时{title}表达式的值须为 ISO 8601 字符串，实际得到 {type(value).__name__}：{value!r}"
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeDate":
            if not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
                raise ValueError
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception('Invalid duration')
        examples = {"timeDuration": "\"PT48H\"、\"P3D\"", "timeDate": "\"2030-01-31T17:00:00+08:00\"",
                    "timeCycle": "\"R3/PT1H\""}[kind]
        return f"不是有效的 ISO 8601 {title}：{value!r}（示例：{examples}）"
    return None


def _is_called(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for n in ast.walk(tree))


def _lane_names(root) -> dict[str, str]:
    """flow node id -> the name of the innermost named lane listing it."""
    lanes: dict[str, str] = {}
    # document order visits outer lanes before their child lanes: the innermost wins
    for lane in root.xpath("//bpmn:lane", namespaces=NS):
        name = (lane.get("name") or "").strip()
        if not name:
            continue
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            if ref.text and ref.text.strip():
                lanes[ref.text.strip()] = name
    return lanes


def _has_group(task, lanes: dict[str, str]) -> bool:
    if _properties_of(task).get("candidateGroups", "").strip():
        return True
    if any((task.get(f"{{{CAMUNDA_NS}}}{attr}") or "").strip()
           for attr in ("candidateGroups", "candidateUsers", "assignee")):   # Camunda: a person is named
        return True
    element = task
    while element is not None:   # a task inside an embedded subprocess inherits its lane
        if element.get("id") in lanes:
            return True
        element = element.getparent()
    return False


def check_conventions(filename: str, content: bytes) -> list[Problem]:
    """The modelling conventions a diagram must follow to be deployed from the designer: user tasks
    have a group and a form; tasks, events and deciding gateways (splitting, not parallel) have names.

    Only XML is needed (no parse into specs); returns [] when the XML itself does not parse (the
    structural check reports that).
    """
    try:
        tree = parse_xml(content, filename)
    except BpmnInvalid:
        return []
    root = tree.getroot()
    problems = []
    lanes = _lane_names(root)
    outgoing = _outgoing_flows(root)
    for task in root.xpath("//bpmn:userTask", namespaces=NS):
        task_id = task.get("id")
        if not _has_group(task, lanes):
            problems.append(Problem("用户任务没有办理组：请将其放入泳道，或设置 candidateGroups 属性",
                                    filename, task.sourceline, task_id))
        groups = _properties_of(task).get("candidateGroups") or task.get(f"{{{CAMUNDA_NS}}}candidateGroups") or ""
        for placeholder in invalid_placeholders(groups):
            problems.append(Problem(f"candidateGroups 的占位符 ${{{placeholder}}} 无效：应为 ${{变量名}}，"
                                    "变量名由英文字母开头，只含英文字母、数字和下划线",
                                    filename, task.sourceline, task_id))
        if unclosed(groups):
            problems.append(Problem("candidateGroups 的占位符缺少右花括号 }", filename, task.sourceline, task_id))
        if not _properties_of(task).get("formJsonSchemaFilename", "").strip() and not task.xpath(
                "./bpmn:extensionElements/camunda:formData", namespaces=NS):
            problems.append(Problem("用户任务没有表单：请设置 formJsonSchemaFilename 属性",
                                    filename, task.sourceline, task_id))
    for process in root.xpath("//bpmn:process", namespaces=NS):
        for node in process.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            tag = _local(node)
            # a split's name is its question; a parallel split asks none (bpmnlint's label-required
            # exempts it too), and a gateway that only merges is not read by anyone
            if tag == "parallelGateway" or (tag in _GATEWAY_TAGS and len(outgoing.get(node.get("id"), [])) < 2):
                continue
            if tag in _KIND_TITLES and not (node.get("name") or "").strip():
                problems.append(Problem(f"{_KIND_TITLES[tag]}没有名称：请填写名称，办理人和督办人员看到的是名称",
                                        filename, node.sourceline, node.get("id")))
    return problems


def _spec_problems(exc: ValidationException, tree, filename: str) -> Problem:
    element_id = getattr(exc, "id", None) or None
    line = exc.line_number if isinstance(getattr(exc, "line_number", None), int) else None
    message = str(exc).rstrip(". ")
    if hasattr(exc, "notes"):
        message = message.split(". ")[0]
    chinese, restates_structure = engine_message_in_chinese(message)
    return Problem(f"流程无法解析：{chinese}", filename, line or _element_line(tree, element_id), element_id,
                   restates_structure=restates_structure)


def _dmn_decisions(dmn_files: dict[str, bytes]) -> tuple[dict[str, str], list[Problem], dict]:
    """decision id -> file name, problems, parsed roots."""
    decisions, problems, roots = {}, [], {}
    for name, content in dmn_files.items():
        try:
            tree = parse_xml(content, name)
        except BpmnInvalid as exc:
            problems.extend(exc.problems)
            continue
        roots[name] = tree.getroot()
        for decision in tree.getroot().iter("{*}decision"):
            decisions[decision.get("id")] = name
    return decisions, problems, roots


def parse_bpmn(filename: str, content: bytes, dmn_files: dict[str, bytes] | None = None,
               validate_xsd: bool = True, *, evaluate_timers: bool = True) -> list[ParsedProcess]:
    """Parse one BPMN file (with the DMN files it may use) into its executable processes.

    Raises BpmnInvalid with every problem found (XML, schema, structure, scripts, timers).
    """
    processes, problems = check_bpmn(filename, content, dmn_files, validate_xsd,
                                     evaluate_timers=evaluate_timers)
    if problems:
        raise BpmnInvalid(problems)
    return processes


def check_bpmn(filename: str, content: bytes, dmn_files: dict[str, bytes] | None = None,
               validate_xsd: bool = True, *, evaluate_timers: bool = True
               ) -> tuple[list[ParsedProcess], list[Problem]]:
    """The processes that parse, and every problem found; callers add their own checks (forms).

    Besides parsing: scripts and conditions compile in the sandbox, exclusive gateways that split
    have conditions, and (unless evaluate_timers is False: loading an already deployed version)
    every timer expression evaluates. The modelling conventions are in check_conventions().
    """
    try:
        tree = parse_xml(content, filename)
    except BpmnInvalid as exc:
        return [], exc.problems
    decisions, problems, dmn_roots = _dmn_decisions(dmn_files or {})
    decision_infos = {d: (name, info) for name, root in dmn_roots.items()
                      for d, info in camunda.decisions_of(root).items()}   # Camunda DMN: FEEL -> Python
    conversion = None
    if camunda.is_camunda(tree.getroot()):   # a Camunda 7 diagram: checked as written, run as converted
        conversion, early = _convert_camunda(tree, filename, validate_xsd, decision_infos)
        if early:
            return [], problems + early
    parser = WuyiBpmnParser(validator=VALIDATOR if validate_xsd else None)
    for name, root in dmn_roots.items():
        try:
            for part in camunda.single_decisions(root):   # the parser reads one decision per document
                parser.add_dmn_xml(part, name)
        except ValidationException as exc:
            problems.append(Problem(f"DMN 无法解析：{engine_message_in_chinese(str(exc))[0]}", name, None,
                                    getattr(exc, "id", None)))
    if conversion is not None:
        parser.validator = None   # validated as written: the converted tree is not for the schema
    gateway_problems = _gateway_checks(tree, filename)
    timer_problems = _timer_checks(tree, filename) if evaluate_timers else []
    try:
        parser.add_bpmn_xml(tree, filename)
    except ValidationException as exc:
        problems.append(_spec_problems(exc, tree, filename))
        return [], problems + gateway_problems + timer_problems
    problems.extend(_script_checks(tree, filename))
    if evaluate_timers:   # a deploy-time check: a deployed version still loads if a connector went away
        problems.extend(_service_checks(tree, filename))
    problems.extend(gateway_problems + timer_problems)
    # SpiffWorkflow stops at the first flow without a condition; the gateway check lists them all
    flows_reported = {p.element_id for p in gateway_problems}

    root = tree.getroot()
    processes = []
    executable = [p for p in root.xpath("//bpmn:process", namespaces=NS)
                  if p.get("isExecutable", "true").lower() == "true"]
    if not executable:
        problems.append(Problem("文件中没有可执行的流程（isExecutable=\"true\"）", filename, root.sourceline))
    called = {c.get("calledElement") for c in root.xpath("//bpmn:callActivity", namespaces=NS)}
    for proc_el in executable:
        key = proc_el.get("id")
        if key in called:
            continue  # a called process is deployed with its caller
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except ValidationException as exc:
            problem = _spec_problems(exc, tree, filename)
            if problem.element_id not in flows_reported:
                problems.append(problem)
            continue
        processes.append(_describe(key, proc_el, spec, subprocess_specs, decisions))
        if conversion is not None:
            processes[-1].generated_forms = dict(conversion.forms)
    return processes, problems


def _convert_camunda(tree, filename: str, validate_xsd: bool, decision_infos: dict):
    """Validate a Camunda diagram against the BPMN schema as written, then convert it in place
    (app/engine/camunda.py). Returns the conversion and the problems that stop the parse."""
    if validate_xsd:
        try:
            VALIDATOR.validate(tree.getroot(), filename)
        except ValidationException as exc:
            return None, [_spec_problems(exc, tree, filename)]
    conversion = camunda.convert(tree.getroot(), {d: info for d, (_, info) in decision_infos.items()})
    problems = [Problem(r.message, filename, r.line, r.element_id) for r in conversion.refusals]
    for decision in sorted(conversion.decisions):
        dmn_name, info = decision_infos[decision]
        problems.extend(Problem(r.message, dmn_name, r.line, r.element_id) for r in info.refusals)
    return conversion, problems


def _describe(key, proc_el, spec, subprocess_specs, decisions) -> ParsedProcess:
    tasks: dict[str, TaskInfo] = {}
    forms: set[str] = set()
    has_timers = False
    all_specs = [spec, *[s for s in subprocess_specs.values() if s is not None]]
    for s in all_specs:
        for ts in s.task_specs.values():
            if isinstance(ts, CatchingEvent) and _has_timer(ts.event_definition):
                has_timers = True
            if getattr(ts, "bpmn_id", None) is None or not getattr(ts, "manual", False):
                continue
            ext = getattr(ts, "extensions", {}) or {}
            props = dict(ext.get("properties", {}))
            for prop in ("formJsonSchemaFilename", "formUiSchemaFilename"):
                if props.get(prop):
                    forms.add(props[prop])
            tasks[ts.bpmn_id] = TaskInfo(
                bpmn_id=ts.bpmn_id, name=ts.bpmn_name or ts.bpmn_id, lane=ts.lane,
                properties=props, instructions=ext.get("instructionsForEndUser"),
                documentation=getattr(ts, "documentation", None))
    start_properties = {}
    for start in proc_el.xpath("./bpmn:startEvent", namespaces=NS):
        start_properties = _properties_of(start)
        break
    messages = {m.get("id"): m.get("name") or m.get("id")
                for m in proc_el.getroottree().getroot().xpath("//bpmn:message", namespaces=NS)}
    start_messages = {messages.get(ref, ref): start.get("id")
                      for start in proc_el.xpath("./bpmn:startEvent", namespaces=NS)
                      for ref in start.xpath("./bpmn:messageEventDefinition/@messageRef", namespaces=NS)}
    manual_starts = [start.get("id") for start in proc_el.xpath("./bpmn:startEvent", namespaces=NS)
                     if not start.xpath("./*[contains(local-name(), 'EventDefinition')]")
                     or start.xpath("./bpmn:messageEventDefinition", namespaces=NS)]
    start_lanes = list(dict.fromkeys(
        lane.get("name") or lane.get("id") for start_id in manual_starts
        for lane in proc_el.xpath(".//bpmn:lane[bpmn:flowNodeRef = $id]", namespaces=NS, id=start_id)))
    cycles = proc_el.xpath("./bpmn:startEvent/bpmn:timerEventDefinition/bpmn:timeCycle/text()", namespaces=NS)
    start_cycle = cycles[0].strip().strip("'\"") if cycles else None
    for prop in ("formJsonSchemaFilename", "formUiSchemaFilename"):
        if start_properties.get(prop):
            forms.add(start_properties[prop])
    starters = proc_el.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups") or \
        _properties_of(proc_el).get("candidateStarterGroups") or ""
    used_decisions = {d.text.strip() for d in proc_el.getroottree().getroot().xpath(
        "//spiffworkflow:calledDecisionId", namespaces=NS) if d.text}
    return ParsedProcess(
        key=key, name=proc_el.get("name") or key, spec=spec, subprocess_specs=subprocess_specs,
        tasks=tasks, start_properties=start_properties,
        starter_groups=[g.strip() for g in starters.split(",") if g.strip()],
        has_timers=has_timers, referenced_forms=forms,
        referenced_dmn={decisions[d] for d in used_decisions if d in decisions},
        start_messages=start_messages, start_cycle=start_cycle,
        has_manual_start=bool(manual_starts), start_lanes=start_lanes)


def _has_timer(event_definition) -> bool:
    subs = getattr(event_definition, "event_definitions", None) or [event_definition]
    return any(isinstance(e, TimerEventDefinition) for e in subs)


# --- the per-version cache: parse once per deployed version, never per request -------------

_cache: dict[int, ParsedProcess] = {}
_cache_lock = threading.Lock()


def load_process(definition_id: int, key: str, bpmn_xml: str, dmn_xml: dict[str, str]) -> ParsedProcess:
    """The parsed process of a deployed version, from the cache or parsed once."""
    cached = _cache.get(definition_id)
    if cached is not None:
        return cached
    with _cache_lock:
        cached = _cache.get(definition_id)
        if cached is None:
            parsed = parse_bpmn(f"{key}.bpmn", bpmn_xml.encode("utf-8"),
                                {k: v.encode("utf-8") for k, v in (dmn_xml or {}).items()},
                                validate_xsd=False, evaluate_timers=False)
            cached = next(p for p in parsed if p.key == key)
            _cache[definition_id] = cached
    return cached



def cycle_period(cycle: str | None):
    """The period of an ISO repeating interval such as "R/P7D" (a timer start's timeCycle), or None."""
    if not cycle:
        return None
    try:
        return TimerEventDefinition.parse_iso_recurring_interval(cycle.strip().strip("'\""))[2]
    except Exception:  # noqa: BLE001 - a designer's malformed cycle: no schedule (validation reports it)
        return None
