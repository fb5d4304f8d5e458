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
from app.engine.messages import engine_message_in_chinese, xml_message_in_chinese
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


ERROR, WARNING = "error", "warning"
SEVERITY_TITLES = {ERROR: "错误", WARNING: "警告"}


@dataclass
class Problem:
    """One thing wrong with a diagram, for the designer."""

    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None
    # a parser failure that only rewords a break the structural checks report (merge_problems drops it)
    restates_structure: bool = field(default=False, compare=False, repr=False)
    # ERROR: the diagram cannot run, deploy refuses it; WARNING: a house convention or a harmless
    # break of the BPMN schema, shown to the designer, deploy allowed (`bpmn validate --strict` refuses it)
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        where = ", ".join(x for x in (
            self.file,
            f"第 {self.line} 行" if self.line else None,
            f"元素 {self.element_id}" if self.element_id else None) if x)
        return f"{where}：{self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"message": self.message, "file": self.file, "line": self.line,
                "element_id": self.element_id, "severity": self.severity}


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def warnings_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_error]


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
    file: str | None = None   # the file of the model the process is in
    called_files: list[str] = field(default_factory=list)   # the other files its call activities use


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
        raise BpmnInvalid([Problem(f"XML 格式错误：{xml_message_in_chinese(exc.msg)}", filename, line)]) from None
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
    """The modelling conventions of the house: user tasks have a group and a form; tasks, events and
    deciding gateways (splitting, not parallel) have names. These are warnings (the diagram runs
    without them); a candidateGroups placeholder the engine would not fill in is an error.

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
                                    filename, task.sourceline, task_id, severity=WARNING))
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
                                    filename, task.sourceline, task_id, severity=WARNING))
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
                                        filename, node.sourceline, node.get("id"), severity=WARNING))
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
               validate_xsd: bool = True, *, evaluate_timers: bool = True,
               called_files: dict[str, bytes] | None = None) -> list[ParsedProcess]:
    """Parse one BPMN file (with the DMN files it may use, and the files of the processes its call
    activities use) into its executable processes.

    Raises BpmnInvalid with every error found (XML, structure, scripts, timers); warnings pass.
    """
    processes, problems = check_model({filename: content}, dmn_files, called_files, validate_xsd,
                                      evaluate_timers=evaluate_timers)
    if errors_of(problems):
        raise BpmnInvalid(errors_of(problems))
    return processes


def check_bpmn(filename: str, content: bytes, dmn_files: dict[str, bytes] | None = None,
               validate_xsd: bool = True, *, evaluate_timers: bool = True
               ) -> tuple[list[ParsedProcess], list[Problem]]:
    """One file as a model of its own: see check_model."""
    return check_model({filename: content}, dmn_files, None, validate_xsd, evaluate_timers=evaluate_timers)


# --- models of several files: call activities resolved across them ------------------------------

PIN_PROPERTY = "calledVersion"   # <spiffworkflow:property name="calledVersion" value="3"/> on a call activity


@dataclass
class CallRef:
    """One call activity of a model, for resolving its called process before parsing."""

    file: str
    element_id: str
    name: str
    line: int | None
    called: str                   # the calledElement: a process id
    version: int | None = None    # the pinned version of a deployed process (calledVersion), or None: latest
    process: str | None = None    # the process the call activity is in


def model_calls(files: dict[str, bytes]) -> tuple[list[CallRef], set[str], list[Problem]]:
    """Every call activity of the model's files, the process ids the files define, and the problems
    of the call activities themselves (no calledElement, a pin that is not a version number).
    Files whose XML does not parse are skipped (check_model reports them)."""
    calls, defined, problems = [], set(), []
    for filename, content in files.items():
        try:
            root = parse_xml(content, filename).getroot()
        except BpmnInvalid:
            continue
        defined |= {p.get("id") for p in root.xpath("//bpmn:process", namespaces=NS) if p.get("id")}
        for call in root.xpath("//bpmn:callActivity", namespaces=NS):
            called = (call.get("calledElement") or "").strip()
            name = (call.get("name") or "").strip()
            title = f"调用活动“{name}”（{call.get('id')}）" if name else f"调用活动 {call.get('id')}"
            if not called:
                problems.append(Problem(f"{title}没有 calledElement 属性：请选择要调用的流程", filename,
                                        call.sourceline, call.get("id")))
                continue
            pin = (_properties_of(call).get(PIN_PROPERTY) or "").strip()
            version = None
            if pin:
                if not pin.isdigit() or int(pin) < 1:
                    problems.append(Problem(
                        f"{title}的 {PIN_PROPERTY} 属性“{pin}”不是版本号：请填写已部署版本的编号（如 3），"
                        "或删除该属性以使用部署时的最新版本", filename, call.sourceline, call.get("id")))
                    continue
                version = int(pin)
            process = call.xpath("ancestor::bpmn:process[1]", namespaces=NS)
            calls.append(CallRef(filename, call.get("id"), name, call.sourceline, called, version,
                                 process[0].get("id") if process else None))
    return calls, defined, problems


def call_title(call: CallRef) -> str:
    return f"调用活动“{call.name}”（{call.element_id}）" if call.name else f"调用活动 {call.element_id}"


_XSD_ELEMENT = re.compile(r"^Element '(?P<el>[^']*)'(?:, attribute '(?P<attr>[^']*)')?: (?P<rest>.*)$", re.S)


def _xsd_message(message: str) -> str:
    """One message of the BPMN schema check (lxml's English) in Chinese, naming element and attribute."""
    found = _XSD_ELEMENT.match(message.strip())
    if not found:
        return "不符合 BPMN 2.0 规范（XSD）"
    element, attr, rest = _local_name_of(found["el"]), _local_name_of(found["attr"] or ""), found["rest"]
    if "is not allowed" in rest and attr:
        return f"元素 {element} 不允许有属性 {attr}"
    if "This element is not expected" in rest:
        return f"这里不允许元素 {element}（是否拼写错误，或放错了位置？）"
    if "is required but missing" in rest:
        missing = re.search(r"attribute '([^']*)'", rest)
        return f"元素 {element} 缺少属性 {missing.group(1) if missing else ''}".rstrip()
    if "is not a valid value" in rest:
        return f"元素 {element} 的属性 {attr} 的值不符合规范" if attr else f"元素 {element} 的内容不符合规范"
    if "Missing child element" in rest:
        return f"元素 {element} 缺少必需的子元素"
    return f"元素 {element} 不符合 BPMN 2.0 规范"


def _local_name_of(qualified: str) -> str:
    return qualified.rsplit("}", 1)[-1]


def _bpmn_element_names() -> frozenset[str]:
    """The element names the BPMN 2.0 schema defines (a name outside them is a typo the engine skips)."""
    from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH
    semantic = etree.parse(XSD_PATH.replace("BPMN20.xsd", "Semantic.xsd"), parser=_SAFE_PARSER)
    return frozenset(e.get("name") for e in semantic.getroot().iter("{http://www.w3.org/2001/XMLSchema}element")
                     if e.get("name"))


_BPMN_ELEMENTS = _bpmn_element_names()


def _xsd_warnings(tree, filename: str) -> list[Problem]:
    """The BPMN schema's complaints, as warnings with their line: older modelers write things the
    schema refuses and the engine reads well (messageRef on a startEvent). What the engine cannot
    read is an error of the parse that follows, not of this check."""
    VALIDATOR.preprocess(tree)   # what the engine's validator does first (correlation expressions)
    schema = VALIDATOR.validator
    if schema.validate(tree):
        return []
    by_line = {}
    for element in tree.getroot().iter():
        if isinstance(element.tag, str) and element.get("id"):
            by_line.setdefault(element.sourceline, element.get("id"))
    problems = []
    for entry in schema.error_log:
        element_id = by_line.get(entry.line)
        unknown = re.match(r"Element '\{" + re.escape(BPMN_NS) + r"\}(?P<name>[^']*)': This element is not expected",
                           entry.message)
        if unknown and unknown["name"] not in _BPMN_ELEMENTS:
            # not a harmless break: the engine skips an element it does not know, and the step is lost
            problems.append(Problem(f"BPMN 2.0 没有元素 {unknown['name']}（是否拼写错误？）：引擎会跳过它，"
                                    "这一步不会执行。请改正元素名称", filename, entry.line or None, element_id))
            continue
        problems.append(Problem(
            f"BPMN 规范（XSD）检查：{_xsd_message(entry.message)}。引擎可以读取，流程可以部署运行；"
            "建议用新版建模器打开并重新保存", filename, entry.line or None, element_id, severity=WARNING,
            restates_structure=engine_message_in_chinese(entry.message)[1]))
    return problems


def check_model(files: dict[str, bytes], dmn_files: dict[str, bytes] | None = None,
                called_files: dict[str, bytes] | None = None, validate_xsd: bool = True, *,
                evaluate_timers: bool = True, reported_calls: set[str] | None = None
                ) -> tuple[list[ParsedProcess], list[Problem]]:
    """A model of one or more BPMN files (and the DMN files they may use): the processes that parse,
    and every problem found, errors and warnings. `called_files` are the files of already deployed
    processes the model's call activities use: parsed so the call resolves, neither checked nor
    returned. `reported_calls`: call activities (file, id) whose resolution the caller already
    reported (a pinned version that does not exist). Callers add their own checks (forms).

    Call activities resolve across all these files. A process another process of the model calls is
    part of its caller, not returned on its own. Besides parsing: scripts and conditions compile in
    the sandbox, exclusive gateways that split have conditions, and (unless evaluate_timers is
    False: loading an already deployed version) every timer expression evaluates. The BPMN schema
    check only warns. The modelling conventions are in check_conventions().
    """
    problems: list[Problem] = []
    trees = {}
    for filename, content in files.items():
        try:
            trees[filename] = parse_xml(content, filename)
        except BpmnInvalid as exc:
            problems.extend(exc.problems)
            continue
        root = trees[filename].getroot()
        if root.tag != f"{{{BPMN_NS}}}definitions":
            problems.append(Problem("这不是 BPMN 2.0 文件：根元素应为 bpmn:definitions", filename, root.sourceline))
            del trees[filename]
    if not trees or len(trees) < len(files):
        return [], problems
    decisions, dmn_problems, dmn_roots = _dmn_decisions(dmn_files or {})
    problems.extend(dmn_problems)
    decision_infos = {d: (name, info) for name, root in dmn_roots.items()
                      for d, info in camunda.decisions_of(root).items()}   # Camunda DMN: FEEL -> Python
    parser = WuyiBpmnParser(validator=None)
    for name, root in dmn_roots.items():
        try:
            for part in camunda.single_decisions(root):   # the parser reads one decision per document
                parser.add_dmn_xml(part, name)
        except ValidationException as exc:
            problems.append(Problem(f"DMN 无法解析：{engine_message_in_chinese(str(exc))[0]}", name, None,
                                    getattr(exc, "id", None)))
    gateway_problems, timer_problems, failed = [], [], False
    schema_broken = set()   # files whose schema check found what the structural check reports (an id)
    conversions = {}   # file -> its Camunda conversion (checked as written, run as converted)
    for filename, tree in trees.items():
        xsd = _xsd_warnings(tree, filename) if validate_xsd else []
        if not validate_xsd:
            VALIDATOR.preprocess(tree)
        problems.extend(xsd)
        if any(w.restates_structure for w in xsd):
            schema_broken.add(filename)
        if camunda.is_camunda(tree.getroot()):
            conversions[filename], refused = _convert_camunda(tree, filename, decision_infos)
            if refused:
                problems.extend(refused)
                failed = True
                continue
        gateway_problems += _gateway_checks(tree, filename)
        timer_problems += _timer_checks(tree, filename) if evaluate_timers else []
        try:
            parser.add_bpmn_xml(tree, filename)
        except ValidationException as exc:
            problem = _spec_problems(exc, tree, filename)
            # the parser tripping over what the schema check found (a duplicate id): said by the structure
            problem.restates_structure |= filename in schema_broken
            problems.append(problem)
            failed = True
    called_trees = {}
    for filename, content in (called_files or {}).items():
        try:
            called_trees[filename] = parse_xml(content, filename)
            parser.add_bpmn_xml(called_trees[filename], filename)
        except BpmnInvalid as exc:
            problems.append(Problem(f"被调用的已部署流程无法读取：{exc.problems[0].message}", filename))
            failed = True
        except ValidationException as exc:
            problems.append(Problem(f"被调用的已部署流程无法读取：{engine_message_in_chinese(str(exc))[0]}",
                                    filename))
            failed = True
    if failed:
        return [], problems + gateway_problems + timer_problems
    for filename, tree in trees.items():
        problems.extend(_script_checks(tree, filename))
        if evaluate_timers:   # a deploy-time check: a deployed version still loads if a connector went away
            problems.extend(_service_checks(tree, filename))
    problems.extend(gateway_problems + timer_problems)
    # SpiffWorkflow stops at the first flow without a condition; the gateway check lists them all
    flows_reported = {p.element_id for p in gateway_problems}

    known = set(parser.get_process_ids())
    calls, _, call_problems = model_calls(files)
    problems.extend(call_problems)
    missing = {c.get("calledElement") for t in trees.values()
               for c in t.getroot().xpath("//bpmn:callActivity", namespaces=NS)} - known - {None, ""}
    for call in calls:
        if call.called not in known and (call.file, call.element_id) not in (reported_calls or set()):
            problems.append(Problem(
                f"{call_title(call)}：调用的流程 {call.called} 不存在。本模型的文件中没有 id 为 {call.called} 的流程，"
                "也没有已部署的该流程。请把它的文件一起部署，或先部署它", call.file, call.line, call.element_id))
    problems.extend(_call_cycles(calls))
    called = {c.called for c in calls} | {c.get("calledElement") for t in called_trees.values()
                                          for c in t.getroot().xpath("//bpmn:callActivity", namespaces=NS)}
    executable = [(filename, p) for filename, tree in trees.items()
                  for p in tree.getroot().xpath("//bpmn:process", namespaces=NS)
                  if p.get("isExecutable", "true").lower() == "true"]
    if not executable:
        for filename, tree in trees.items():
            problems.append(Problem("文件中没有可执行的流程（isExecutable=\"true\"）", filename,
                                    tree.getroot().sourceline))
    all_trees = {**called_trees, **trees}
    processes = []
    for filename, proc_el in executable:
        key = proc_el.get("id")
        if key in called:
            continue  # a called process is deployed with its caller
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except ValidationException as exc:
            problem = _spec_problems(exc, trees[filename], filename)
            problem.restates_structure |= filename in schema_broken
            if problem.element_id not in flows_reported and not any(f"'{m}'" in str(exc) for m in missing):
                problems.append(problem)
            continue
        used_files = {s.file for s in subprocess_specs.values() if s is not None} - {filename}
        used = {filename, *used_files}
        decision_ids = {d.text.strip() for name in used if name in all_trees
                        for d in all_trees[name].getroot().xpath("//spiffworkflow:calledDecisionId",
                                                                 namespaces=NS) if d.text}
        process = _describe(key, proc_el, spec, subprocess_specs, decisions, decision_ids)
        process.file = filename
        process.called_files = sorted(used_files)
        for name in sorted(used):
            if name in conversions:
                process.generated_forms.update(conversions[name].forms)
        processes.append(process)
    return processes, problems


def _convert_camunda(tree, filename: str, decision_infos: dict):
    """Convert a Camunda diagram in place (app/engine/camunda.py), after its schema check as written.
    Returns the conversion and the refusals (what cannot be translated), which stop the parse."""
    conversion = camunda.convert(tree.getroot(), {d: info for d, (_, info) in decision_infos.items()})
    problems = [Problem(r.message, filename, r.line, r.element_id) for r in conversion.refusals]
    for decision in sorted(conversion.decisions):
        dmn_name, info = decision_infos[decision]
        problems.extend(Problem(r.message, dmn_name, r.line, r.element_id) for r in info.refusals)
    return conversion, problems


def _call_cycles(calls: list[CallRef]) -> list[Problem]:
    """A process that calls itself, directly or through others, would never end."""
    graph: dict[str, set[str]] = {}
    for call in calls:
        if call.process:
            graph.setdefault(call.process, set()).add(call.called)
    problems = []
    for call in calls:
        seen, todo = set(), [call.called]
        while todo:
            node = todo.pop()
            if node == call.process:
                problems.append(Problem(
                    f"{call_title(call)}：调用流程 {call.called}，而它又（直接或间接）调用回流程 {call.process}："
                    "循环调用永远不会结束", call.file, call.line, call.element_id))
                break
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
    return problems


def _describe(key, proc_el, spec, subprocess_specs, decisions, used_decisions) -> ParsedProcess:
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


def load_process(definition_id: int, key: str, bpmn_xml: str, dmn_xml: dict[str, str],
                 called_xml: dict[str, str] | None = None) -> ParsedProcess:
    """The parsed process of a deployed version (with the files of the processes its call
    activities use, so the workflow has their specs), from the cache or parsed once."""
    cached = _cache.get(definition_id)
    if cached is not None:
        return cached
    with _cache_lock:
        cached = _cache.get(definition_id)
        if cached is None:
            parsed = parse_bpmn(f"{key}.bpmn", bpmn_xml.encode("utf-8"),
                                {k: v.encode("utf-8") for k, v in (dmn_xml or {}).items()},
                                validate_xsd=False, evaluate_timers=False,
                                called_files={k: v.encode("utf-8") for k, v in (called_xml or {}).items()})
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
