"""Run workflows: start, complete, fire timers, deliver messages; state in and out as bytes, results as plain data."""
from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from uuid import UUID

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition, TimeDateEventDefinition, TimerEventDefinition)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module

from app.db import utcnow
from app.engine.camunda import due_in_from
from app.engine.definitions import ParsedProcess
from app.engine.messages import runtime_message_in_chinese
from app.engine.placeholders import PLACEHOLDER, has_placeholder
from app.engine.sandbox import configure_script_engine, current_script_engine


class _ApplicationClock(datetime):
    """SpiffWorkflow's timers ask datetime.now(timezone.utc); they get the application's clock, so
    an injected clock moves BPMN timers too (the reference's technique E1, made permanent)."""

    @classmethod
    def now(cls, tz=None):
        now = utcnow()
        return now.astimezone(tz) if tz is not None else now.astimezone().replace(tzinfo=None)


_timer_module.datetime = _ApplicationClock

SERIALIZER_VERSION = "1.5"
RESERVED_DATA_KEYS = {"typename"}  # a key named typename breaks SpiffWorkflow's deserializer


class EngineError(Exception):
    """Base class of the engine's errors."""


class ScriptError(EngineError):
    """A designer's script, condition or expression failed; names the element and the line."""

    def __init__(self, message: str, element_id: str | None, element_name: str | None,
                 line: int | None, source_line: str | None = None):
        self.message = message
        self.element_id = element_id
        self.element_name = element_name
        self.line = line
        self.source_line = source_line
        super().__init__(message)


class TaskNotReady(EngineError):
    def __init__(self, state: str):
        self.state = state
        super().__init__(f"task is {state}, not READY")


class UnknownTask(EngineError):
    pass


class NotWaiting(EngineError):
    """Nothing in the instance waits for this message."""


@dataclass
class ReadyTask:
    spiff_task_id: str
    bpmn_id: str
    name: str
    lane: str | None
    limit: str | None = None   # the case limit in its data (limit_value + limit_unit), e.g. "15WD"
    limit_start: str | None = None   # ISO time the case limit counts from (data `limit_start`), else now
    groups: list[str] | None = None   # candidateGroups resolved from `${var}` placeholders, if any
    due_in: str | None = None          # dueIn resolved from `${var}` placeholders, if any
    assignee: str | None = None        # an assignee `${var}` resolved from the data (a username), if any


@dataclass
class WaitingTimer:
    spiff_task_id: str
    bpmn_id: str
    name: str
    due_at: datetime


@dataclass
class StepResult:
    """What an action did, as plain data for the projection."""

    state: bytes
    status: str                       # running | completed | cancelled
    ready: list[ReadyTask]
    timers: list[WaitingTimer]
    ready_before: set[str] = field(default_factory=set)
    timers_before: set[str] = field(default_factory=set)
    fired: list[tuple[str, str]] = field(default_factory=list)   # (bpmn_id, name) of timers fired
    events: list[tuple[str, object]] = field(default_factory=list)  # outgoing (name, payload)
    data: dict = field(default_factory=dict)
    _workflow: object = None


# --- serialization: the spec is stored once per version, so instances store only their state ----

class _StateOnlyConverter(BpmnWorkflowConverter):
    """Serialize a workflow without its spec; restore it onto the cached spec objects."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_StateOnlyConverter(BpmnWorkflow, _registry)
_serializer = BpmnWorkflowSerializer(_registry, version=SERIALIZER_VERSION)


FINAL_MARK = "final"


def _dump(workflow) -> bytes:
    """The running state (spec excluded), or for a finished workflow only its history summary.

    Like Camunda's runtime vs history tables: a finished instance never runs again, so its full
    task tree is not kept; its final data and the steps it completed are.
    """
    _registry._encoder_mode = True
    try:
        if workflow.is_completed():
            dct = {FINAL_MARK: True, "success": workflow.success,
                   "data": _registry.convert(_registry.clean(workflow.data)),
                   "completed_steps": _completed_steps(workflow)}
        else:
            dct = _registry.convert(workflow)
        text = json.dumps(dct, cls=_serializer._encoder_cls, separators=(",", ":"), ensure_ascii=False)
    finally:
        _registry._encoder_mode = False
    compressor = zlib.compressobj(6, zdict=_STATE_DICTIONARY)
    return compressor.compress(text.encode("utf-8")) + compressor.flush()


def _decode(state: bytes) -> dict:
    if len(state) > 6 and state[1] & 0x20:     # zlib's FDICT flag: the adler32 of its dictionary follows
        decompressor = zlib.decompressobj(zdict=_DICTIONARIES[int.from_bytes(state[2:6], "big")])
        return json.loads(decompressor.decompress(state) + decompressor.flush())
    return json.loads(zlib.decompress(state))    # written without a dictionary (before issue #16)


# A zlib preset dictionary: what every stored state repeats (the serializer's task keys, a finished
# instance's summary), so a small state does not pay to spell it out: a finished three-step instance
# 180 -> ~120 bytes. NEVER EDIT IT: each stored state names its dictionary by checksum; to change it,
# add another to _DICTIONARIES and write with that.
_STATE_DICTIONARY = (
    '"bpmn_events":[],"subprocesses":{},"root":"","correlations":{},"last_task":"","completed":false,'
    '"success":true,"tasks":{"":{"id":"","parent":null,"children":[""],"last_state_change":17,"state":64,'
    '"task_spec":"Start","triggered":false,"internal_data":{},"data":{},"delta":{"updates":{},"deletions":[]},'
    '"typename":"Task"},"":{"id":"","parent":"","children":[""],"last_state_change":17,"state":16,'
    '"task_spec":"StartEvent_1","triggered":false,"internal_data":{"event_fired":true},"data":{},'
    '"delta":{"updates":{},"deletions":[]},"typename":"Task"},"EndJoin","End","EndEvent_1",'
    '"completed_steps":["EndEvent_1","StartEvent_1","Task_',
    '{"final":true,"success":true,"data":{"case_number":"JM-20","received_at":"20',
)
_STATE_DICTIONARY = "".join(_STATE_DICTIONARY).encode("utf-8")
_DICTIONARIES = {zlib.adler32(_STATE_DICTIONARY): _STATE_DICTIONARY}


def _load(process: ParsedProcess, dct: dict):
    dct["spec"] = process.spec
    dct["subprocess_specs"] = process.subprocess_specs
    workflow = _registry.restore(dct)
    workflow.script_engine = current_script_engine()
    return workflow


def _completed_steps(workflow) -> list[str]:
    # iterate everything: get_tasks(state=COMPLETED) misses children of unfinished parents
    return sorted({t.task_spec.bpmn_id for t in workflow.get_tasks()
                   if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id})


# --- the script engine (sandboxed) and the helpers designers may call ------------------------

def configure(helpers: dict | None = None, time_limit: float = 1.0, services=None, service_names=()) -> None:
    """Install the helper functions scripts may call (now(), due_in(), ...), the time limit and the
    connectors of service tasks (see sandbox.configure_script_engine)."""
    configure_script_engine(helpers=helpers, time_limit=time_limit, services=services,
                            service_names=service_names)
    _live.clear()


# --- live workflows: skip deserialization when the row's rev is the one we saved -----------

_LIVE_MAX = 512
_live: OrderedDict[tuple[int, int], object] = OrderedDict()   # (instance id, rev) -> workflow
_live_lock = threading.Lock()


def _take(process: ParsedProcess, instance_key: int | None, rev: int | None, state):
    """The workflow at this rev: the cached object if it is exactly this rev, else deserialized.

    `state` is the stored bytes, or a function returning them (read only on a cache miss).
    """
    if instance_key is not None:
        with _live_lock:
            workflow = _live.pop((instance_key, rev), None)
        if workflow is not None and workflow.spec is process.spec:
            return workflow
    dct = _decode(state() if callable(state) else state)
    if dct.get(FINAL_MARK):
        raise EngineError("the instance has finished; only its history remains")
    return _load(process, dct)


def remember(instance_key: int, rev: int, result: StepResult) -> None:
    """Keep the workflow of a committed action for the next action on the same rev."""
    if result._workflow is not None and result.status == "running":
        _keep(instance_key, rev, result._workflow)


def _keep(instance_key: int, rev: int, workflow) -> None:
    with _live_lock:
        _live[(instance_key, rev)] = workflow
        while len(_live) > _LIVE_MAX:
            _live.popitem(last=False)


def forget(instance_key: int) -> None:
    with _live_lock:
        for key in [k for k in _live if k[0] == instance_key]:
            del _live[key]


# --- reading a workflow ----------------------------------------------------------------------

def _ready_tasks(workflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def _timer_due(task):
    """(definition, aware UTC due) of a waiting timer task, else None."""
    ed = task.task_spec.event_definition
    for sub in (ed.event_definitions if isinstance(ed, MultipleEventDefinition) else [ed]):
        if not isinstance(sub, TimerEventDefinition):
            continue
        value = task.internal_data.get("event_value")
        if value is None:
            continue
        if isinstance(sub, CycleTimerEventDefinition):
            if value["cycles"] == 0:
                continue
            value = value["next"]
        due = (TimerEventDefinition.parse_time_or_duration(value)
               if isinstance(sub, TimeDateEventDefinition) else TimerEventDefinition.get_datetime(value))
        if due.tzinfo is None:
            due = due.replace(tzinfo=timezone.utc)
        return sub, due.astimezone(timezone.utc)
    return None


def _scan(workflow):
    """One walk of the task tree: READY human tasks and waiting timers [(task, definition, due)]."""
    ready, timers = [], []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if task.state == TaskState.READY:
            if task.task_spec.manual:
                ready.append(task)
        elif isinstance(task.task_spec, CatchingEvent):
            found = _timer_due(task)
            if found is not None:
                timers.append((task, *found))
    return ready, timers


def _visible_data(workflow, ready=None) -> dict:
    if workflow.is_completed():
        return dict(workflow.data)
    ready = _ready_tasks(workflow) if ready is None else ready
    if ready:
        return dict(ready[0].data)
    last = workflow.last_task
    return dict(last.data) if last is not None else {}


def _status(workflow) -> str:
    if workflow.is_completed():
        return "completed" if workflow.success else "cancelled"
    return "running"


def _snapshot(workflow) -> tuple[set[str], set[str]]:
    ready, timers = _scan(workflow)
    return {str(t.id) for t in ready}, {str(t.id) for t, _, _ in timers}


def _result(workflow, before, fired=None) -> StepResult:
    ready_tasks, waiting = _scan(workflow)
    ready = [_ready_task(t) for t in ready_tasks]
    timers = [WaitingTimer(str(t.id), t.task_spec.bpmn_id, t.task_spec.bpmn_name or t.task_spec.bpmn_id, due)
              for t, _, due in waiting]
    events = [(e.event_definition.name, e.payload) for e in workflow.get_events()]
    return StepResult(
        state=_dump(workflow), status=_status(workflow), ready=ready, timers=timers,
        ready_before=before[0], timers_before=before[1], fired=fired or [], events=events,
        data=_visible_data(workflow, ready_tasks), _workflow=workflow)


def _ready_task(task) -> ReadyTask:
    spec, data = task.task_spec, task.data
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    groups = due_in = None
    template = props.get("candidateGroups") or ""
    if has_placeholder(template):
        groups = resolve_groups(template, data)
    if has_placeholder(props.get("dueIn")):
        due_in = PLACEHOLDER.sub(lambda m: str(data.get(m.group(1)) or ""), props["dueIn"]).strip() or None
        due_in = due_in_from(due_in, utcnow()) or due_in   # a Camunda variable: P3D, or a date-time
    if props.get("dueAt"):   # a Camunda diagram's fixed due date
        due_in = due_in_from(props["dueAt"], utcnow())
    assignee = None
    match = PLACEHOLDER.fullmatch((props.get("assignee") or "").strip())
    if match and match.group(1) != "initiator" and isinstance(data.get(match.group(1)), str):
        assignee = data[match.group(1)].strip() or None
    start = data.get("limit_start")
    return ReadyTask(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, spec.lane, _limit_of(data),
                     start if isinstance(start, str) else None, groups, due_in, assignee)


def resolve_groups(template: str, data: dict) -> list[str]:
    """`candidateGroups="${handler_org}, dispatch"`: a placeholder takes a string or a list from the
    task data; an empty or missing value drops out. Order kept, duplicates removed."""
    groups: list[str] = []
    for part in template.split(","):
        part = part.strip()
        match = PLACEHOLDER.fullmatch(part)
        values = [part] if match is None else data.get(match.group(1))
        if isinstance(values, str):
            values = [values]
        for value in values or []:
            if isinstance(value, str) and value.strip() and value.strip() not in groups:
                groups.append(value.strip())
    return groups


def _limit_of(data: dict) -> str | None:
    value, unit = data.get("limit_value"), data.get("limit_unit")
    if value is None or not unit or isinstance(value, (dict, list)) or isinstance(unit, (dict, list)):
        return None
    return f"{value}{unit}"


def _script_error(exc: Exception) -> ScriptError:
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None)
    line = getattr(exc, "line_number", None) or None
    inner = getattr(exc, "error_type", None)
    message = getattr(exc, "message", None) or str(exc)
    notes = [n for n in getattr(exc, "notes", None) or [] if isinstance(n, str) and ": " in n]
    if inner == "unknown":
        inner = None
    if inner and inner not in message:
        # "Error evaluating expression 'x'" says nothing: the note SandboxScriptEngine added has the cause
        cause = next((n for n in notes if n.startswith(inner + ":")), None)
        message = cause or f"{inner}: {message}"
    return ScriptError(runtime_message_in_chinese(message), getattr(spec, "bpmn_id", None),
                       getattr(spec, "bpmn_name", None), line if isinstance(line, int) else None,
                       getattr(exc, "error_line", None))


def _run_engine(workflow, fn):
    """Run engine steps; every failure inside becomes a located ScriptError (element, line, Chinese
    message), never a raw exception: the caller rolls back and records an incident."""
    try:
        fn()
    except EngineError:
        raise
    except WorkflowTaskException as exc:
        raise _script_error(exc) from exc
    except Exception as exc:
        # e.g. "No conditions satisfied on gateway", a missing multi-instance collection (bare TypeError),
        # or anything else SpiffWorkflow raises: the element is the task in ERROR, else the one that ran last
        task = getattr(exc, "task", None) or next(iter(workflow.get_tasks(state=TaskState.ERROR)), None)
        spec = getattr(task, "task_spec", None) or getattr(exc, "task_spec", None)
        text = str(exc) if isinstance(exc, (WorkflowException, SpiffWorkflowException)) \
            else f"{type(exc).__name__}: {exc}"
        raise ScriptError(runtime_message_in_chinese(text), getattr(spec, "bpmn_id", None),
                          getattr(spec, "bpmn_name", None), None) from exc


def check_data_keys(data: dict) -> list[str]:
    """Paths of keys the engine cannot store: `typename` at any depth; at the top, private names and
    the names of the helpers scripts call (a variable `now` would hide now())."""
    reserved = set(current_script_engine().environment.globals)
    bad = [k for k in data if isinstance(k, str) and (k.startswith("_") or k in reserved)]

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                here = f"{path}.{key}" if path else str(key)
                if key in RESERVED_DATA_KEYS:
                    bad.append(here)
                walk(item, here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
    walk(data, "")
    return sorted(set(bad))


# --- actions ---------------------------------------------------------------------------------

def start(process: ParsedProcess, data: dict, message: str | None = None) -> StepResult:
    """Create a workflow with the start data and run it to its first wait state.

    `message` starts it through the message start event of that name (one per intake channel);
    a timer start event fires at once (the app's scheduler decided it is time). Raises NotWaiting
    for a message no start event catches.
    """
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=current_script_engine())
    workflow.get_next_task(state=TaskState.READY).data.update(data)

    def run():
        workflow.do_engine_steps()
        if message is not None:
            definition = _waiting_event_definition(workflow, message)
            if definition is None:
                raise NotWaiting(message)
            workflow.send_event(BpmnEvent(definition, payload=None))
            workflow.do_engine_steps()
        elif process.start_cycle:
            past = (utcnow() - timedelta(seconds=1)).isoformat()
            for task, definition, _ in _scan(workflow)[1]:
                if task.parent is not None and task.parent.task_spec.name == "Start":
                    if isinstance(definition, CycleTimerEventDefinition):
                        # once: the scheduler starts a new instance for each period
                        task.internal_data["event_value"].update(next=past, cycles=1)
                    else:
                        task.internal_data["event_value"] = past
            workflow.refresh_timers()
            workflow.do_engine_steps()
    _run_engine(workflow, run)
    return _result(workflow, (set(), set()))


def complete_task(process: ParsedProcess, instance_key: int, rev: int, state,
                  spiff_task_id: str, data: dict) -> StepResult:
    """Complete a READY user/manual task with data. Raises UnknownTask, TaskNotReady, ScriptError."""
    workflow = _take(process, instance_key, rev, state)
    try:
        task = workflow.get_task_from_id(UUID(spiff_task_id))
    except (TaskNotFoundException, ValueError):
        raise UnknownTask(spiff_task_id) from None
    if task.state != TaskState.READY or not task.task_spec.manual:
        raise TaskNotReady(TaskState.get_name(task.state))
    before = _snapshot(workflow)
    task.data.update(data)

    def run():
        task.run()
        workflow.do_engine_steps()
    _run_engine(workflow, run)
    return _result(workflow, before)


def fire_timers(process: ParsedProcess, instance_key: int, rev: int, state,
                now: datetime) -> StepResult | None:
    """Fire every timer due at `now` (an injected clock may be ahead of the real one); None if none is due."""
    workflow = _take(process, instance_key, rev, state)
    due_now = [(task, definition, due) for task, definition, due in _scan(workflow)[1] if due <= now]
    if not due_now:
        _keep(instance_key, rev, workflow)   # untouched: keep it for the next action
        return None
    before = _snapshot(workflow)
    clock_now = utcnow()   # the engine's clock; `now` may be ahead of it (a dispatcher run given a time)
    fired = []
    for task, definition, due in due_now:
        fired.append((task.task_spec.bpmn_id, task.task_spec.bpmn_name or task.task_spec.bpmn_id))
        if due > clock_now - timedelta(seconds=1):
            past = (clock_now - timedelta(seconds=1)).isoformat()
            value = task.internal_data["event_value"]
            if isinstance(definition, CycleTimerEventDefinition):
                value["next"] = past
            else:
                task.internal_data["event_value"] = past

    def run():
        workflow.refresh_timers()
        workflow.do_engine_steps()
    _run_engine(workflow, run)
    return _result(workflow, before, fired)


def deliver_message(process: ParsedProcess, instance_key: int, rev: int, state,
                    name: str, payload, correlations: dict | None = None) -> StepResult:
    """Deliver a named message to whatever waits for it. Raises NotWaiting."""
    workflow = _take(process, instance_key, rev, state)
    before = _snapshot(workflow)
    definition = _waiting_event_definition(workflow, name)
    if definition is None:
        raise NotWaiting(name)
    event = BpmnEvent(definition, payload=payload, correlations=correlations or {})

    def run():
        try:
            workflow.send_event(event)
        except WorkflowException as exc:
            if "not waiting" in str(exc):
                raise NotWaiting(name) from exc
            raise
        workflow.do_engine_steps()
    _run_engine(workflow, run)
    return _result(workflow, before)


def _waiting_event_definition(workflow, name):
    for task in workflow.get_tasks(state=TaskState.WAITING, spec_class=CatchingEvent):
        ed = task.task_spec.event_definition
        candidates = ed.event_definitions if isinstance(ed, MultipleEventDefinition) else [ed]
        for sub in candidates:
            if getattr(sub, "name", None) == name:
                return sub
    return None


def read(process: ParsedProcess, instance_key: int, rev: int, state) -> dict:
    """Plain data about an instance: visible data, READY tasks' data, completed steps."""
    workflow = None
    if instance_key is not None:
        with _live_lock:
            workflow = _live.pop((instance_key, rev), None)
    if workflow is None:
        dct = _decode(state() if callable(state) else state)
        if dct.get(FINAL_MARK):
            return {"data": dct["data"], "task_data": {}, "completed_steps": dct["completed_steps"]}
        workflow = _load(process, dct)
    try:
        ready = _ready_tasks(workflow)
        return {"data": _visible_data(workflow, ready), "task_data": {str(t.id): dict(t.data) for t in ready},
                "completed_steps": _completed_steps(workflow)}
    finally:
        if not workflow.is_completed():
            _keep(instance_key, rev, workflow)
