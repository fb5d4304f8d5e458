"""Parse and check BPMN (+DMN) into specs; every problem is reported at once with file, element and line."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import UserTaskParser
from SpiffWorkflow.spiff.specs.defaults import UserTask

from app.engine.sandbox import check_source

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
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                               huge_tree=False, remove_comments=False)


@dataclass
class Problem:
    """One thing wrong with a diagram, for the designer."""

    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None

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


def _spec_problems(exc: ValidationException, tree, filename: str) -> Problem:
    element_id = getattr(exc, "id", None) or None
    line = exc.line_number if isinstance(getattr(exc, "line_number", None), int) else None
    message = str(exc).rstrip(". ")
    if hasattr(exc, "notes"):
        message = message.split(". ")[0]
    return Problem(f"流程无法解析：{message}", filename, line or _element_line(tree, element_id), element_id)


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
               validate_xsd: bool = True) -> list[ParsedProcess]:
    """Parse one BPMN file (with the DMN files it may use) into its executable processes.

    Raises BpmnInvalid with every problem found (XML, schema, structure, scripts, timers).
    """
    processes, problems = check_bpmn(filename, content, dmn_files, validate_xsd)
    if problems:
        raise BpmnInvalid(problems)
    return processes


def check_bpmn(filename: str, content: bytes, dmn_files: dict[str, bytes] | None = None,
               validate_xsd: bool = True) -> tuple[list[ParsedProcess], list[Problem]]:
    """The processes that parse, and every problem found; callers add their own checks (forms)."""
    try:
        tree = parse_xml(content, filename)
    except BpmnInvalid as exc:
        return [], exc.problems
    decisions, problems, dmn_roots = _dmn_decisions(dmn_files or {})
    parser = WuyiBpmnParser(validator=VALIDATOR if validate_xsd else None)
    for name, root in dmn_roots.items():
        try:
            parser.add_dmn_xml(root, name)
        except ValidationException as exc:
            problems.append(Problem(f"DMN 无法解析：{exc}", name, None, getattr(exc, "id", None)))
    try:
        parser.add_bpmn_xml(tree, filename)
    except ValidationException as exc:
        problems.append(_spec_problems(exc, tree, filename))
        return [], problems
    problems.extend(_script_checks(tree, filename))

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
            problems.append(_spec_problems(exc, tree, filename))
            continue
        processes.append(_describe(key, proc_el, spec, subprocess_specs, decisions))
    return processes, problems


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
        referenced_dmn={decisions[d] for d in used_decisions if d in decisions})


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
                                validate_xsd=False)
            cached = next(p for p in parsed if p.key == key)
            _cache[definition_id] = cached
    return cached

