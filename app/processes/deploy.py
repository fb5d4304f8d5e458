"""Deploy and validate BPMN files: parse and check a file with its DMN and forms, and make a new
version only when the file, its forms or the groups its lanes resolve to changed. Commits."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import Group, User
from app.auth.services import lane_group_names
from app.calendar import DurationError, parse_duration
from app.extensions import db
from app.processes.models import ProcessDefinition
from app.processes.periodic import ensure_schedule
from app.processes.versions import FORM_PROPERTY, UI_PROPERTY
from app.taskforms.loader import FormFileError, read_form_file
from app.taskforms.validation import check_schema


log = logging.getLogger(__name__)


@dataclass
class DeployOutcome:
    file: str
    key: str | None = None
    version: int | None = None
    created: bool = False
    problems: list[engine.Problem] = field(default_factory=list)   # errors: nothing was deployed
    warnings: list[str] = field(default_factory=list)
    part_of: list[str] = field(default_factory=list)   # a called file: the processes whose versions carry it


def _form_problems(process: engine.ParsedProcess, forms_dir: str, filename: str) -> tuple[dict, list]:
    """Load every form the process references; report each problem at the element using it."""
    users: dict[str, str] = {}
    for task in process.tasks.values():
        for prop in (FORM_PROPERTY, UI_PROPERTY):
            if task.properties.get(prop):
                users.setdefault(task.properties[prop], task.bpmn_id)
    for prop in (FORM_PROPERTY, UI_PROPERTY):
        if process.start_properties.get(prop):
            users.setdefault(process.start_properties[prop], "start event")
    forms, problems = {}, []
    for path, element in sorted(users.items()):
        try:
            forms[path] = process.generated_forms.get(path) or read_form_file(forms_dir, path)
        except FormFileError as exc:
            problems.append(engine.Problem(str(exc), filename, None, element))
            continue
        if not path.endswith(".uischema.json") and path in {
                t.properties.get(FORM_PROPERTY) for t in process.tasks.values()} | {
                process.start_properties.get(FORM_PROPERTY)}:
            for message in check_schema(forms[path]):
                problems.append(engine.Problem(f"表单 {path}：{message}", filename, None, element))
    return forms, problems


def _content_hash(content: bytes, dmn: dict[str, str], forms: dict, meta: dict) -> str:
    """What makes a version: the file, its DMN and forms, and the groups its lanes resolved to
    (so deploying again after creating a lane's group makes a version that offers tasks to it)."""
    digest = hashlib.sha256(content)
    for name in sorted(dmn):
        digest.update(name.encode() + b"\0" + dmn[name].encode())
    digest.update(json.dumps([forms, meta], sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def _task_meta(process: engine.ParsedProcess) -> dict:
    tasks = {}
    for task in process.tasks.values():
        props = task.properties
        explicit = [g.strip() for g in props.get("candidateGroups", "").split(",") if g.strip()]
        # `${handler_org}`: resolved from the task data when it becomes ready (engine.ReadyTask.groups)
        dynamic = any(engine.has_placeholder(g) for g in explicit)
        groups = [] if dynamic else lane_group_names(explicit or ([task.lane] if task.lane else []))
        try:
            priority = int(props.get("priority", 50))
        except ValueError:
            priority = 50
        tasks[task.bpmn_id] = {
            "name": task.name, "lane": task.lane, "candidate_groups": groups,
            "candidate_template": props.get("candidateGroups") if dynamic else None,
            "assignee": props.get("assignee"), "form": props.get(FORM_PROPERTY),
            "ui_form": props.get(UI_PROPERTY), "instructions": task.instructions,
            "due_in": props.get("dueIn"), "warn_before": props.get("warnBefore"), "priority": priority,
        }
    return {
        "tasks": tasks,
        "start_form": process.start_properties.get(FORM_PROPERTY),
        "start_ui_form": process.start_properties.get(UI_PROPERTY),
        "starter_groups": lane_group_names(process.starter_groups),
        "has_timers": process.has_timers,
    }


@dataclass
class _Prepared:
    files: dict = field(default_factory=dict)        # the model's BPMN files: {name: bytes}
    dmn_files: dict = field(default_factory=dict)
    called_files: dict = field(default_factory=dict)  # deployed processes' files the calls use
    calls: list = field(default_factory=list)         # [engine.CallRef]
    resolved: dict = field(default_factory=dict)      # called key -> (version, pinned) of deployed ones
    reported_calls: set = field(default_factory=set)  # (file, call activity id) refused here already
    processes: list = field(default_factory=list)     # [(ParsedProcess, forms snapshot)]
    problems: list = field(default_factory=list)      # errors and warnings

    @property
    def errors(self) -> list[engine.Problem]:
        return engine.errors_of(self.problems)


def _prepare(path: Path, forms_dir: str) -> _Prepared:
    """Read, parse and check one BPMN file (a model of one file) and its forms; deploys nothing."""
    return _prepare_model([path], forms_dir)


def _read_model(paths: list[Path]) -> tuple[dict, dict, list]:
    """The BPMN files of the model, its DMN files (those given, and those beside the BPMN files)."""
    files, dmn, problems = {}, {}, []
    for path in paths:
        if path.suffix == ".dmn":
            continue
        try:
            content = path.read_bytes()
        except OSError as exc:
            problems.append(engine.Problem(f"无法读取文件：{exc.strerror}", path.name))
            continue
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = content[:exc.start].count(b"\n") + 1
            problems.append(engine.Problem("文件不是 UTF-8 编码（请以 UTF-8 保存）", path.name, line))
            continue
        if path.name in files:
            problems.append(engine.Problem(f"模型中有两个同名文件 {path.name}：请改名", path.name))
            continue
        files[path.name] = content
    folders = dict.fromkeys(p.parent for p in paths if p.suffix != ".dmn")
    for dmn_path in [*(d for folder in folders for d in sorted(folder.glob("*.dmn"))),
                     *(p for p in paths if p.suffix == ".dmn")]:
        try:
            dmn.setdefault(dmn_path.name, dmn_path.read_bytes())
        except OSError as exc:
            problems.append(engine.Problem(f"无法读取文件：{exc.strerror}", dmn_path.name))
    return files, dmn, problems


def _resolve_deployed_calls(prepared: _Prepared, defined: set[str]) -> None:
    """Calls to processes the model does not define resolve against those already deployed: the
    version the call activity pins (calledVersion), else the latest at deploy time. Their stored
    files (and the files and DMN they use in turn) join the parse; a missing one is an error at the
    call activity."""
    for call in prepared.calls:
        if call.called in defined:
            continue
        query = sa.select(ProcessDefinition).where(ProcessDefinition.key == call.called)
        if call.version is not None:
            query = query.where(ProcessDefinition.version == call.version)
        row = db.session.execute(query.order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
        title = engine.call_title(call)
        if row is None:   # not deployed at all: the engine's check says so at the call activity
            if call.version is not None and _latest_version(call.called):
                prepared.problems.append(engine.Problem(
                    f"{title}：固定调用流程 {call.called} 的第 {call.version} 版，但该版本不存在"
                    f"（已部署到第 {_latest_version(call.called)} 版）：请改正 {engine.PIN_PROPERTY} 属性",
                    call.file, call.line, call.element_id))
                prepared.reported_calls.add((call.file, call.element_id))
            continue
        earlier = prepared.resolved.get(call.called)
        if earlier is not None and earlier[0] != row.version:
            prepared.problems.append(engine.Problem(
                f"{title}：调用流程 {call.called} 的第 {row.version} 版，而本模型的另一调用活动用的是第 {earlier[0]} 版："
                "一个流程实例只能使用被调用流程的一个版本，请统一 calledVersion", call.file, call.line,
                call.element_id))
            prepared.reported_calls.add((call.file, call.element_id))
            continue
        prepared.resolved[call.called] = (row.version, call.version is not None)
        prepared.called_files.setdefault(deployed_file_name(row), row.bpmn_xml.encode("utf-8"))
        for name, xml in (row.called_xml or {}).items():
            prepared.called_files.setdefault(name, xml.encode("utf-8"))
        for name, xml in (row.dmn_xml or {}).items():
            prepared.dmn_files.setdefault(name, xml.encode("utf-8"))


def deployed_file_name(row: ProcessDefinition) -> str:
    """The name a deployed version's file goes by in the versions that call it."""
    return f"{row.key}@v{row.version}/{Path(row.source_file).name}"


def _latest_version(key: str) -> int | None:
    return db.session.execute(sa.select(sa.func.max(ProcessDefinition.version))
                              .where(ProcessDefinition.key == key)).scalar()


def _prepare_model(paths: list[Path], forms_dir: str) -> _Prepared:
    """Read, parse and check a model of one or more BPMN files (call activities resolved across
    them and against deployed processes), its forms, its structure and the house conventions.
    Deploys nothing; `problems` holds errors and warnings."""
    files, dmn, problems = _read_model(paths)
    prepared = _Prepared(files=files, dmn_files=dmn, problems=problems)
    calls, defined, _ = engine.model_calls(files)   # check_model reports the calls' own problems
    prepared.calls = calls
    _resolve_deployed_calls(prepared, defined)
    processes, engine_problems = engine.check_model(files, prepared.dmn_files, prepared.called_files,
                                                    reported_calls=prepared.reported_calls)
    for process in processes:
        forms, form_problems = _form_problems(process, forms_dir, process.file)
        engine_problems += form_problems + _duration_problems(process, process.file)
        prepared.processes.append((process, forms))
    for problem in engine_problems:   # the form and time-limit checks work on specs, not on the XML
        if problem.line is None and problem.element_id and problem.file in files:
            # a task of a called process is checked with its caller: named at the file it is in
            where = [name for name in (problem.file, *files) if _line_of(files[name], problem.element_id)]
            if where:
                problem.file, problem.line = where[0], _line_of(files[where[0]], problem.element_id)
    called = {c.called for c in calls}
    for name, content in files.items():
        structural = engine.check_structure(name, content, forms_dir, called=called)
        own = [p for p in engine_problems if p.file == name]
        prepared.problems += engine.merge_problems(own, structural) + engine.check_conventions(name, content)
    prepared.problems += [p for p in engine_problems if p.file not in files]
    prepared.problems = _unique(sorted(prepared.problems, key=lambda p: (p.file or "", p.line or 0)))
    return prepared


def _unique(problems: list[engine.Problem]) -> list[engine.Problem]:
    seen, result = set(), []
    for p in problems:
        if (p.file, p.line, p.element_id, p.message) not in seen:
            seen.add((p.file, p.line, p.element_id, p.message))
            result.append(p)
    return result


def _line_of(content: bytes, element_id: str) -> int | None:
    """The line of the element with this id in the file (its first id="…" attribute), for the designer."""
    at = content.find(f'id="{element_id}"'.encode())
    return content[:at].count(b"\n") + 1 if at >= 0 else None


def _duration_problems(process: engine.ParsedProcess, filename: str) -> list[engine.Problem]:
    """dueIn / warnBefore must be business durations the calendar understands."""
    problems = []
    for task in process.tasks.values():
        for prop in ("dueIn", "warnBefore"):
            value = task.properties.get(prop)
            if value is None or engine.has_placeholder(value):   # resolved from the data at run time
                continue
            try:
                parse_duration(value)
            except DurationError as exc:
                problems.append(engine.Problem(f"属性 {prop}：{exc.chinese}", filename, None, task.bpmn_id))
    return problems


def validate_file(path: str | Path, forms_dir: str | None = None) -> list[engine.Problem]:
    """Every problem of one BPMN file (XML, structure, scripts, forms, conventions; errors and
    warnings), deploying nothing."""
    return validate_model([Path(path)], forms_dir)


def validate_model(paths: list[str | Path], forms_dir: str | None = None) -> list[engine.Problem]:
    """Every problem of a model of several files (call activities resolved across them and against
    the deployed processes), errors and warnings, deploying nothing."""
    return _prepare_model([Path(p) for p in paths], forms_dir or current_app.config["FORMS_DIR"]).problems


def _unmatched_groups(meta: dict) -> list[str]:
    """Tasks offered to a group that does not exist (yet): nobody would see them."""
    wanted = {g: bpmn_id for bpmn_id, t in meta["tasks"].items() for g in t["candidate_groups"]}
    known = set(db.session.execute(sa.select(Group.name).where(Group.name.in_(list(wanted)))).scalars())
    return [f"任务 {bpmn_id} 的候选组“{g}”不存在：请先创建该用户组（标题与泳道名称一致），再重新部署"
            for g, bpmn_id in sorted(wanted.items()) if g not in known]


def deploy_file(path: str | Path, *, actor: User | None = None, message: str | None = None,
                forms_dir: str | None = None) -> list[DeployOutcome]:
    """Deploy the processes of one BPMN file (a model of one file); an unchanged file makes no new
    version. Its call activities resolve against the deployed processes. Commits."""
    return deploy_model([Path(path)], actor=actor, message=message, forms_dir=forms_dir)


def deploy_model(paths: list[str | Path], *, actor: User | None = None, message: str | None = None,
                 forms_dir: str | None = None) -> list[DeployOutcome]:
    """Deploy a model of one or more BPMN files (with their DMN) as one: call activities resolve
    across the files and against the deployed processes (the pinned version, else the latest).
    Each process that no other process of the model calls becomes a version that carries the files
    of the processes it calls; an unchanged process makes no new version.

    A model with any error deploys nothing and returns, per file, its errors; warnings do not stop
    a deploy and come back in each outcome's `warnings`. Commits.
    """
    paths = [Path(p) for p in paths]
    prepared = _prepare_model(paths, forms_dir or current_app.config["FORMS_DIR"])
    warnings = {name: [str(p) for p in engine.warnings_of(prepared.problems) if p.file == name]
                for name in prepared.files}
    if prepared.errors:
        return _refused(paths, prepared)
    outcomes = []
    model_files = sorted(prepared.files)
    for process, forms in prepared.processes:
        content = prepared.files[process.file]
        dmn = {name: prepared.dmn_files[name].decode("utf-8") for name in sorted(process.referenced_dmn)}
        called_xml = {name: (prepared.files.get(name) or prepared.called_files[name]).decode("utf-8")
                      for name in process.called_files}
        meta = _task_meta(process)
        meta["calls"] = _calls_meta(process, prepared)
        if len(model_files) > 1:
            meta["model_files"] = model_files
        digest = _content_hash(content, {**dmn, **{f"called:{k}": v for k, v in called_xml.items()}}, forms, meta)
        file_warnings = warnings.get(process.file, []) + _unmatched_groups(meta)
        latest = db.session.execute(
            sa.select(ProcessDefinition).where(ProcessDefinition.key == process.key)
            .order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
        if latest is not None and latest.content_hash == digest:
            outcomes.append(DeployOutcome(process.file, process.key, latest.version, created=False,
                                          warnings=file_warnings))
            continue
        row = ProcessDefinition(
            key=process.key, version=(latest.version + 1) if latest else 1, name=process.name,
            content_hash=digest, source_file=process.file, bpmn_xml=content.decode("utf-8"),
            dmn_xml=dmn, called_xml=called_xml, forms=forms, meta=meta, message=message,
            deployed_by_id=actor.id if actor else None)
        db.session.add(row)
        db.session.flush()
        db.session.add(AuditEvent(actor_id=row.deployed_by_id, action=AuditAction.DEPLOY, label=process.name,
                                  bpmn_id=process.key, data={"version": row.version, "file": process.file}))
        outcomes.append(DeployOutcome(process.file, process.key, row.version, created=True, warnings=file_warnings))
    for process, _ in prepared.processes:
        if process.start_cycle:   # started by the scheduler once per period
            ensure_schedule(process.key, process.start_cycle)
    deployed_files = {o.file for o in outcomes}
    for name in model_files:   # a file whose processes are all called by others: part of their versions
        if name not in deployed_files:
            outcomes.append(DeployOutcome(name, warnings=warnings.get(name, []), part_of=sorted(
                {p.key for p, _ in prepared.processes if name in p.called_files})))
    db.session.commit()
    return outcomes


def _refused(paths: list[Path], prepared: _Prepared) -> list[DeployOutcome]:
    """One outcome per file of a refused model, with its errors (a file without errors of its own is
    refused because of the others)."""
    names = [p.name for p in paths if p.suffix != ".dmn"] or [p.name for p in paths]
    errors = prepared.errors
    by_file: dict[str, list] = {}
    for problem in errors:
        by_file.setdefault(problem.file if problem.file in names else None, []).append(problem)
    stray = by_file.pop(None, [])   # a DMN table or a deployed process the model uses
    outcomes = []
    broken = sorted(by_file)
    for name in names:
        own = by_file.get(name, []) + (stray if name == names[0] else [])
        if not own:
            own = [engine.Problem(f"同一模型的文件 {'、'.join(broken)} 有错误，本文件也未部署", name)]
        outcomes.append(DeployOutcome(name, problems=own, warnings=[
            str(p) for p in engine.warnings_of(prepared.problems) if p.file == name]))
    return outcomes


def _calls_meta(process: engine.ParsedProcess, prepared: _Prepared) -> list[dict]:
    """The processes this version calls, for the designer's version list: from the same model, or
    a deployed version (pinned, or the latest at deploy time)."""
    used = {process.file, *process.called_files}
    calls = []
    for call in prepared.calls:
        if call.file not in used:
            continue
        spec = process.subprocess_specs.get(call.called)
        entry = {"element": call.element_id, "name": call.name, "file": call.file, "process": call.called,
                 "process_name": getattr(spec, "description", None) or call.called}
        if call.called in prepared.resolved:
            version, pinned = prepared.resolved[call.called]
            entry.update(version=version, pinned=pinned, source="deployed")
        else:
            entry.update(version=None, pinned=False, source="model")
        calls.append(entry)
    return calls


def model_groups(paths: list[Path]) -> list[list[Path]]:
    """The files of a folder as models: files joined by call activities (one calls a process the
    other defines) form one model; every other file is a model of its own."""
    bpmn = [p for p in paths if p.suffix == ".bpmn"]
    parent = {p: p for p in bpmn}

    def find(p):
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p
    defined_in: dict[str, Path] = {}
    calls_of: dict[Path, set[str]] = {}
    for path in bpmn:
        try:
            content = path.read_bytes()
        except OSError:
            continue
        calls, defined, _ = engine.model_calls({path.name: content})
        for key in defined:
            defined_in.setdefault(key, path)
        calls_of[path] = {c.called for c in calls}
    for path, called in calls_of.items():
        for key in called:
            other = defined_in.get(key)
            if other is not None and other != path:
                parent[find(path)] = find(other)
    groups: dict[Path, list[Path]] = {}
    for path in bpmn:
        groups.setdefault(find(path), []).append(path)
    return sorted(groups.values(), key=lambda g: g[0].name)


def deploy_folder(folder: str | Path | None = None, *, actor: User | None = None,
                  message: str | None = None) -> list[DeployOutcome]:
    """Deploy every *.bpmn of the folder (with the folder's DMN): files joined by call activities as
    one model, every other file on its own; a broken model does not stop the others."""
    folder = Path(folder or current_app.config["BPMN_DIR"])
    outcomes = []
    for group in model_groups(sorted(folder.glob("*.bpmn"))):
        try:
            outcomes.extend(deploy_model(group, actor=actor, message=message))
        except Exception:  # noqa: BLE001 - one model's failure must not stop the others
            db.session.rollback()
            log.exception("deploying %s failed", ", ".join(p.name for p in group))
            outcomes += [DeployOutcome(p.name, problems=[engine.Problem(
                "部署失败：服务器内部错误，详情见服务器日志", p.name)]) for p in group]
    return outcomes
