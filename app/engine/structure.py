"""Structural checks on a diagram as drawn, read from the raw XML so they report even where the
engine's parser gives up: dangling flows, duplicate ids, unreachable elements, dead ends, gateways
without a way in or out, events naming a message/signal that is not defined, missing form files,
and paths that end with no business outcome. merge_problems() joins them to the engine's problems,
each said once and in Chinese (the parser's own messages are English).

The rule for a business outcome: every path from a start event to an end event must pass a step
that decides or tells. That is a user or manual task (a person handles the case), a step that sends
a message (send task, message throw or end event: the result goes to someone), a script task that
records the outcome by assigning `outcome`, `status` or `result` (or a name ending in `_outcome`,
`_status`, `_result`), or a subprocess / call activity whose own paths all do. A boundary event
counts as passing the activity it is attached to (a timeout on a user task happened while a person
had the case). At a parallel split every branch runs, so the path records an outcome when any
branch must. Anything else (an automatic script, a DMN table, a service call) is not an outcome:
such a path closes the case 已办结 with nobody having looked at it and nothing said. Event
subprocesses and processes only reached through a call activity are not start-to-end paths of the
case and are not checked for outcomes.

Errors are what keeps a diagram from running (a flow to nowhere, a dead end, a missing form); what
runs but breaks a house rule (an element nobody reaches, a path without an outcome) is a warning.

Pure functions over the lxml tree, returning Problem lists; no SpiffWorkflow, no Flask.
"""
from __future__ import annotations

import ast
import re
from collections import deque
from pathlib import Path

from lxml import etree

from app.engine import camunda
from app.engine.definitions import BPMN_NS, NS, WARNING, BpmnInvalid, Problem, parse_xml

_ACTIVITIES = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess")
_SCOPES = ("subProcess", "transaction", "adHocSubProcess")
_GATEWAYS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway")
_EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
FLOW_NODES = frozenset(_ACTIVITIES + _GATEWAYS + _EVENTS)
_PERSON_TASKS = ("userTask", "manualTask")
OUTCOME_VARIABLES = ("outcome", "status", "result")
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")
_KIND = {**{t: "任务" for t in _ACTIVITIES}, "userTask": "用户任务", "manualTask": "人工任务",
         "scriptTask": "脚本任务", "subProcess": "子流程", "callActivity": "调用活动",
         **{t: "网关" for t in _GATEWAYS}, "startEvent": "开始事件", "endEvent": "结束事件",
         "intermediateCatchEvent": "中间事件", "intermediateThrowEvent": "中间事件", "boundaryEvent": "边界事件"}


def _local(element) -> str:
    return etree.QName(element).localname


def _is_bpmn(element) -> bool:
    return isinstance(element.tag, str) and etree.QName(element).namespace == BPMN_NS


class _Scope:
    """The flow nodes and sequence flows directly inside one process or subprocess."""

    def __init__(self, element):
        self.element = element
        self.nodes: dict[str, object] = {}
        self.flows = []
        for child in element:
            if not _is_bpmn(child):
                continue
            tag = _local(child)
            if tag in FLOW_NODES and child.get("id"):
                self.nodes.setdefault(child.get("id"), child)
            elif tag == "sequenceFlow":
                self.flows.append(child)
        self.valid_flows = [f for f in self.flows
                            if f.get("sourceRef") in self.nodes and f.get("targetRef") in self.nodes]
        self.successors: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.incoming: dict[str, int] = {n: 0 for n in self.nodes}
        self.outgoing: dict[str, int] = {n: 0 for n in self.nodes}
        for flow in self.flows:
            if flow.get("sourceRef") in self.nodes:
                self.outgoing[flow.get("sourceRef")] += 1
            if flow.get("targetRef") in self.nodes:
                self.incoming[flow.get("targetRef")] += 1
        for flow in self.valid_flows:
            self.successors[flow.get("sourceRef")].append(flow.get("targetRef"))
        links: dict[str, list[str]] = {}
        for node_id, node in self.nodes.items():
            if _local(node) == "boundaryEvent" and node.get("attachedToRef") in self.nodes:
                self.successors[node.get("attachedToRef")].append(node_id)
            if _local(node) == "intermediateCatchEvent":
                for link in node.xpath("./bpmn:linkEventDefinition", namespaces=NS):
                    links.setdefault(link.get("name") or "", []).append(node_id)
        for node_id, node in self.nodes.items():
            if _local(node) == "intermediateThrowEvent":
                for link in node.xpath("./bpmn:linkEventDefinition", namespaces=NS):
                    self.successors[node_id].extend(links.get(link.get("name") or "", []))

    def kind(self, node_id: str) -> str:
        return _local(self.nodes[node_id])

    def predecessors(self) -> dict[str, list[str]]:
        preds: dict[str, list[str]] = {n: [] for n in self.nodes}
        for source, targets in self.successors.items():
            for target in targets:
                preds[target].append(source)
        return preds

    def starts(self) -> list[str]:
        return [n for n in self.nodes if self.kind(n) == "startEvent"]

    def ends(self) -> list[str]:
        return [n for n in self.nodes if self.kind(n) == "endEvent"]

    def is_event_subprocess(self, node_id: str) -> bool:
        return self.kind(node_id) in _SCOPES and self.nodes[node_id].get("triggeredByEvent") == "true"

    def is_self_started(self, node_id: str) -> bool:
        """Entered without an incoming flow by design: start events, event subprocesses,
        compensation handlers and link catch events (reached by their throw)."""
        node = self.nodes[node_id]
        return (self.kind(node_id) == "startEvent" or self.is_event_subprocess(node_id)
                or node.get("isForCompensation") == "true"
                or bool(node.xpath("./bpmn:compensateEventDefinition", namespaces=NS)))


def _scopes(root) -> list[_Scope]:
    return [_Scope(el) for el in root.iter(f"{{{BPMN_NS}}}process", *(f"{{{BPMN_NS}}}{t}" for t in _SCOPES))]


def _reach(starts, edges: dict[str, list[str]]) -> set[str]:
    seen, queue = set(starts), deque(starts)
    while queue:
        for nxt in edges.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _name(node) -> str:
    name = (node.get("name") or "").strip()
    return f"“{name}”（{node.get('id')}）" if name else node.get("id")


# --- duplicate ids, dangling flows ----------------------------------------------------------------

_XML_ID = re.compile(r"^[A-Za-z_][\w.-]*$", re.ASCII)   # xs:ID, as the BPMN schema requires


def _duplicate_ids(root, filename: str) -> list[Problem]:
    """Ids used twice, and ids the BPMN schema refuses (2m, 甲): the parser words both the same way."""
    first: dict[str, int | None] = {}
    problems = []
    for element in root.iter():
        element_id = element.get("id") if isinstance(element.tag, str) else None
        # only BPMN's own elements carry XML ids: an extension's `id` is a name (a connector
        # http/GetRequest, a parameter url that several service tasks use)
        if not element_id or not (etree.QName(element).namespace or "").startswith("http://www.omg.org/spec/"):
            continue
        if not _XML_ID.match(element_id):
            problems.append(Problem(f"id “{element_id}” 无效：id 须以英文字母或下划线开头，只含英文字母、数字、"
                                    "下划线、连字符和点", filename, element.sourceline, element_id))
        if element_id in first:
            where = f"（第 {first[element_id]} 行已使用）" if first[element_id] else ""
            problems.append(Problem(f"id “{element_id}” 重复{where}：文件中每个元素的 id 必须唯一，请改名",
                                    filename, element.sourceline, element_id))
        else:
            first[element_id] = element.sourceline
    return problems


def _flow_problems(scope: _Scope, all_nodes: set[str], ids: set[str], filename: str) -> list[Problem]:
    problems = []
    for flow in scope.flows:
        for attr, end in (("sourceRef", "起点"), ("targetRef", "终点")):
            ref = (flow.get(attr) or "").strip()
            if ref in scope.nodes:
                continue
            if not ref:
                message = f"顺序流没有{end}（{attr} 为空）：请把它连接到一个元素，或删除它"
            elif ref in all_nodes:
                message = f"顺序流的{end} {ref} 不在同一流程（子流程）中：顺序流不能跨越子流程边界"
            elif ref in ids:
                message = f"顺序流的{end} {ref} 不是任务、网关或事件"
            else:
                message = f"顺序流的{end} {ref} 不存在（该元素可能已被删除）：请重新连接或删除此顺序流"
            problems.append(Problem(message, filename, flow.sourceline, flow.get("id")))
    for node_id, node in scope.nodes.items():
        attached = node.get("attachedToRef")
        if scope.kind(node_id) == "boundaryEvent" and attached not in scope.nodes:
            problems.append(Problem(f"边界事件附着的元素 {attached or '（空）'} 不存在：请把它放到一个任务上，或删除它",
                                    filename, node.sourceline, node_id))
        if scope.kind(node_id) == "eventBasedGateway":
            for target in scope.successors[node_id]:
                if scope.kind(target) not in ("intermediateCatchEvent", "receiveTask"):
                    problems.append(Problem(f"基于事件的网关之后只能是中间捕获事件（消息、定时、信号）或接收任务，"
                                            f"{_name(scope.nodes[target])}不是", filename, node.sourceline, node_id))
    return problems


_EVENT_REFERENCES = {"messageRef": ("message", "消息"), "signalRef": ("signal", "信号"),
                     "errorRef": ("error", "错误"), "escalationRef": ("escalation", "升级")}


def _reference_problems(root, filename: str) -> list[Problem]:
    """An event definition must name a message, signal, error or escalation the file defines."""
    problems = []
    for attr, (tag, title) in _EVENT_REFERENCES.items():
        defined = {e.get("id") for e in root.iter(f"{{{BPMN_NS}}}{tag}")}
        for definition in root.xpath(f"//*[@{attr}]"):
            ref = definition.get(attr)
            if not _is_bpmn(definition) or not _local(definition).endswith("EventDefinition") or ref in defined:
                continue
            owner = definition.getparent()
            problems.append(Problem(f"{_KIND.get(_local(owner), '事件')}引用的{title} {ref} 不存在：请在流程图中定义它，"
                                    "或选择已有的" + title, filename, definition.sourceline, owner.get("id")))
    return problems


# --- reachability ---------------------------------------------------------------------------------

def _connection_problems(scope: _Scope, filename: str) -> list[Problem]:
    """Gateways without a way in or out, isolated elements, elements no start event reaches, and
    elements from which no end event can be reached; one problem for the first element of each
    unreachable or dead region, not one per element in it."""
    problems = []
    is_process = _local(scope.element) == "process"
    where = "流程" if is_process else f"子流程 {scope.element.get('id')}"
    starts, ends = scope.starts(), scope.ends()
    if not starts and scope.nodes:
        problems.append(Problem(f"{where}没有开始事件：请添加一个开始事件并连到第一个环节",
                                filename, scope.element.sourceline, scope.element.get("id")))
    if not ends and scope.nodes:
        problems.append(Problem(f"{where}没有结束事件：请添加结束事件，流程才能办结",
                                filename, scope.element.sourceline, scope.element.get("id")))
    explained_in, explained_out = set(), set()   # elements whose own problem already says it
    explained_in |= {n for n, node in scope.nodes.items()   # detached: _flow_problems says so
                     if scope.kind(n) == "boundaryEvent" and node.get("attachedToRef") not in scope.nodes}
    for flow in scope.flows:
        if flow.get("sourceRef") in scope.nodes and flow.get("targetRef") not in scope.nodes:
            explained_out.add(flow.get("sourceRef"))
        if flow.get("targetRef") in scope.nodes and flow.get("sourceRef") not in scope.nodes:
            explained_in.add(flow.get("targetRef"))
    for node_id, node in scope.nodes.items():
        kind = scope.kind(node_id)
        if kind == "startEvent" and scope.incoming[node_id]:
            problems.append(Problem(f"开始事件{_name(node)}不能有入口顺序流：流程从这里开始，请把这条顺序流接到别的环节",
                                    filename, node.sourceline, node_id))
        if kind == "endEvent" and scope.outgoing[node_id]:
            problems.append(Problem(f"结束事件{_name(node)}不能有出口顺序流：流程到这里就结束了，请删除这条顺序流或改用中间事件",
                                    filename, node.sourceline, node_id))
        if kind == "boundaryEvent" or scope.is_self_started(node_id):
            continue
        no_in, no_out = not scope.incoming[node_id], not scope.outgoing[node_id] and kind != "endEvent"
        if kind == "intermediateThrowEvent" and scope.successors[node_id]:
            no_out = False   # a link throw continues at its catch
        if kind == "intermediateCatchEvent" and node.xpath("./bpmn:linkEventDefinition", namespaces=NS):
            no_in = False
        if no_in and no_out:
            problems.append(Problem(f"{_KIND.get(kind, '元素')}{_name(node)}没有任何顺序流连接：请连接或删除它",
                                    filename, node.sourceline, node_id, severity=WARNING))
            explained_in.add(node_id)
            explained_out.add(node_id)
        elif kind in _GATEWAYS and no_in:
            problems.append(Problem(f"网关{_name(node)}没有入口顺序流：流程永远到不了这里",
                                    filename, node.sourceline, node_id, severity=WARNING))
            explained_in.add(node_id)
        elif kind in _GATEWAYS and no_out:
            problems.append(Problem(f"网关{_name(node)}没有出口顺序流：流程到这里会停住",
                                    filename, node.sourceline, node_id))
            explained_out.add(node_id)
    roots = [n for n in scope.nodes if scope.is_self_started(n)]
    reached = _reach(roots, scope.successors)
    unreachable = [n for n in scope.nodes if n not in reached]
    problems += _region_problems(scope, unreachable, scope.predecessors(), scope.successors, explained_in,
                                 "从开始事件无法到达{kind}{name}：请用顺序流把它接入流程，或删除它",
                                 "（其后 {n} 个元素也因此无法到达）", filename, severity=WARNING)
    alive = _reach(ends, scope.predecessors())
    # an event subprocess ends inside itself; a path that stops without an end event ends there
    # (the engine finishes the token), so a dead end is a warning, not a refusal
    dead = [n for n in scope.nodes if n not in alive and scope.kind(n) != "endEvent"
            and not scope.is_event_subprocess(n)]
    problems += _region_problems(scope, dead, scope.successors, scope.predecessors(), explained_out,
                                 "从{kind}{name}无法到达结束事件：请给它接一条通往结束事件的顺序流",
                                 "（其前 {n} 个元素也只能走到这里）", filename, severity=WARNING)
    return problems


def _region_problems(scope: _Scope, region: list[str], inward: dict, outward: dict, explained: set[str],
                     template: str, more: str, filename: str, severity: str = "error") -> list[Problem]:
    """One problem per entry of a region: an element that nothing else in the region leads into (or,
    for a closed loop, its first element in the file), counting the rest of the region it accounts
    for. `inward` edges lead towards where the region is entered, `outward` ones away from it."""
    inside = set(region)
    into = {n: [m for m in inward[n] if m in inside] for n in inside}
    away = {n: [m for m in outward[n] if m in inside] for n in inside}
    behind = {n: _reach([n], into) for n in region}
    # an entry's whole strongly connected component is entered from outside the region only
    entries = [n for n in region if all(n in behind[m] for m in behind[n])]
    covered: set[str] = set()
    problems = []
    for node_id in entries:
        if node_id in covered:
            continue
        part = _reach([node_id], away)
        covered |= part
        if node_id in explained:
            continue
        node = scope.nodes[node_id]
        message = template.format(kind=_KIND.get(scope.kind(node_id), "元素"), name=_name(node))
        if len(part) > 1:
            message += more.format(n=len(part) - 1)
        problems.append(Problem(message, filename, node.sourceline, node_id, severity=severity))
    return problems


# --- forms ----------------------------------------------------------------------------------------

def _form_problems(root, filename: str, forms_dir: Path) -> list[Problem]:
    """Every form file a task or start event names must exist in forms/ (same message as the loader)."""
    base = forms_dir.resolve()
    problems = []
    for prop in root.xpath("//spiffworkflow:properties/spiffworkflow:property", namespaces=NS):
        if prop.get("name") not in FORM_PROPERTIES or not (prop.get("value") or "").strip():
            continue
        relpath = prop.get("value").strip()
        owner = prop.getparent()
        while owner is not None and owner.get("id") is None:
            owner = owner.getparent()
        path = (base / relpath).resolve()
        if base not in path.parents:
            message = f"表单文件路径不允许跳出 forms/ 目录：{relpath}"
        elif not path.is_file():
            message = f"找不到表单文件 forms/{relpath}"
        else:
            continue
        problems.append(Problem(message, filename, prop.sourceline,
                                owner.get("id") if owner is not None else None))
    return problems


# --- outcomes -------------------------------------------------------------------------------------

def records_outcome_variable(name: str) -> bool:
    return name in OUTCOME_VARIABLES or any(name.endswith("_" + v) for v in OUTCOME_VARIABLES)


def _script_records_outcome(script: str) -> bool:
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return False   # the compile check reports it
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and records_outcome_variable(name.id):
                    return True
    return False


class _Outcomes:
    """Which elements record a business outcome, and the silent paths of a scope."""

    def __init__(self, root, scopes: list[_Scope]):
        self.by_element = {s.element: s for s in scopes}
        self.processes = {p.get("id"): p for p in root.xpath("//bpmn:process", namespaces=NS)}
        self._silent: dict[object, list[str]] = {}

    def records(self, scope: _Scope, node_id: str) -> bool:
        node, kind = scope.nodes[node_id], scope.kind(node_id)
        if kind in _PERSON_TASKS or kind == "sendTask":
            return True
        if kind in ("intermediateThrowEvent", "endEvent") and \
                node.xpath("./bpmn:messageEventDefinition", namespaces=NS):
            return True
        if kind == "scriptTask":
            return any(_script_records_outcome(s.text or "") for s in node.xpath("./bpmn:script", namespaces=NS))
        if kind in _SCOPES:
            inner = self.by_element.get(node)
            return inner is not None and not self.silent_path(inner)
        if kind == "callActivity":
            called = self.processes.get(node.get("calledElement"))
            if called is None or called not in self.by_element:
                return True   # defined elsewhere: not ours to judge
            return not self.silent_path(self.by_element[called])
        return False

    def silent_path(self, scope: _Scope) -> list[str] | None:
        """The shortest start-to-end path that records no outcome, or None."""
        key = scope.element
        if key in self._silent:
            return self._silent[key] or None
        self._silent[key] = []   # a scope calling itself: assume it records (no infinite recursion)
        path = self._find(scope)
        self._silent[key] = path or []
        return path

    def _find(self, scope: _Scope, only_end: str | None = None) -> list[str] | None:
        """The shortest silent path from a start event to an end event (to `only_end`, if given)."""
        def is_end(n: str) -> bool:
            return scope.kind(n) == "endEvent" and only_end in (None, n)

        silent = {n for n in scope.nodes if not self.records(scope, n) and not scope.is_event_subprocess(n)}
        succ = {n: [m for m in scope.successors[n] if m in silent] for n in silent}
        # can end silently: the least fixpoint; a parallel split only when every branch can
        can_end = {n for n in silent if is_end(n)}
        changed = True
        while changed:
            changed = False
            for n in silent - can_end:
                branches = scope.successors[n]
                splits = scope.kind(n) == "parallelGateway" and len(branches) > 1
                if branches and (all(b in can_end for b in branches) if splits else
                                 any(b in can_end for b in succ[n])):
                    can_end.add(n)
                    changed = True
        starts = [n for n in scope.starts() if n in can_end]
        parent = {n: None for n in starts}
        queue = deque(starts)
        while queue:
            current = queue.popleft()
            if is_end(current):
                path = [current]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1]
            for nxt in succ[current]:
                if nxt in can_end and nxt not in parent:
                    parent[nxt] = current
                    queue.append(nxt)
        return None

    def silent_ends(self, scope: _Scope) -> list[list[str]]:
        """Per end event reached silently, the shortest silent path to it."""
        if not self.silent_path(scope):
            return []
        return [path for end in scope.ends() if (path := self._find(scope, end))]


def _outcome_problems(root, scopes: list[_Scope], filename: str, called_elsewhere: set[str]) -> list[Problem]:
    outcomes = _Outcomes(root, scopes)
    called = {c.get("calledElement") for c in root.xpath("//bpmn:callActivity", namespaces=NS)} | called_elsewhere
    problems = []
    for scope in scopes:
        if _local(scope.element) != "process" or scope.element.get("id") in called:
            continue
        for path in outcomes.silent_ends(scope):
            end = scope.nodes[path[-1]]
            start = scope.nodes[path[0]]
            problems.append(Problem(
                f"从开始事件{_name(start)}到结束事件{_name(end)}的路径没有经过任何办理人，也没有记录办理结果"
                f"（{' → '.join(path)}）：流程会无人经手、无结果地自行办结，申请人也得不到任何告知。"
                "请把这条路径交给办理人（用户任务），在表单中拒绝这种情况，或用脚本记录办理结果"
                "（outcome / status / result）", filename, end.sourceline, end.get("id"), severity=WARNING))
    return problems


# --- the checker ----------------------------------------------------------------------------------

def check_structure(filename: str, content: bytes, forms_dir: str | Path | None = None, *,
                    called: set[str] | None = None) -> list[Problem]:
    """Every structural problem of a diagram as drawn (see the module docstring), from the raw XML.

    Returns [] when the XML itself does not parse (the engine's check reports that). Form files are
    checked only when forms_dir is given. `called`: processes that call activities in other files of
    the model call (not start-to-end paths of a case either).
    """
    try:
        root = parse_xml(content, filename).getroot()
    except BpmnInvalid:
        return []
    if camunda.is_camunda(root):   # implicit ends and id-less flows are Camunda 7's reading of a diagram
        camunda.normalise_structure(root)
    problems = _duplicate_ids(root, filename)
    scopes = _scopes(root)
    all_nodes = {n for s in scopes for n in s.nodes}
    ids = {e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    drawn_only = [s for s in scopes if not _is_executable(s.element)]   # a pool drawn for context
    for scope in scopes:
        problems += _flow_problems(scope, all_nodes, ids, filename)
        if scope not in drawn_only:
            problems += _connection_problems(scope, filename)
    problems += _reference_problems(root, filename)
    if forms_dir is not None:
        problems += _form_problems(root, filename, Path(forms_dir))
    problems += _outcome_problems(root, [s for s in scopes if s not in drawn_only], filename, called or set())
    return problems


def _is_executable(element) -> bool:
    while element is not None and not (_is_bpmn(element) and _local(element) == "process"):
        element = element.getparent()
    return element is None or (element.get("isExecutable") or "true").strip().lower() != "false"



def merge_problems(engine_problems: list[Problem], structural: list[Problem]) -> list[Problem]:
    """The engine's problems and the structural ones, each said once.

    A missing form both report keeps the structural one (it names the element and line); a parser
    failure (already in Chinese, app/engine/messages.py) is left out when the diagram is structurally
    broken and the failure is the parser's wording of that break (a flow to a deleted element).
    """
    said = {(p.file, p.message) for p in structural}
    return [p for p in engine_problems
            if (p.file, p.message) not in said and not (p.restates_structure and structural)] + structural
