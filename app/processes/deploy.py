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
    problems: list[engine.Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
    content: bytes = b""
    dmn_files: dict = field(default_factory=dict)
    processes: list = field(default_factory=list)   # [(ParsedProcess, forms snapshot)]
    problems: list = field(default_factory=list)


def _prepare(path: Path, forms_dir: str) -> _Prepared:
    """Read, parse and check one BPMN file and the forms it references; deploys nothing."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        return _Prepared(problems=[engine.Problem(f"无法读取文件：{exc.strerror}", path.name)])
    dmn_files = {p.name: p.read_bytes() for p in sorted(path.parent.glob("*.dmn"))}
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        return _Prepared(problems=[engine.Problem("文件不是 UTF-8 编码（请以 UTF-8 保存）", path.name, line)])
    processes, problems = engine.check_bpmn(path.name, content, dmn_files)
    prepared = _Prepared(content, dmn_files, problems=list(problems))
    for process in processes:
        forms, form_problems = _form_problems(process, forms_dir, path.name)
        prepared.problems.extend(form_problems)
        prepared.problems.extend(_duration_problems(process, path.name))
        prepared.processes.append((process, forms))
    for problem in prepared.problems:   # the form and time-limit checks work on specs, not on the XML
        if problem.line is None and problem.element_id:
            problem.line = _line_of(content, problem.element_id)
    return prepared


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
    """Every problem of one BPMN file (XML, structure, scripts, forms), deploying nothing."""
    return _prepare(Path(path), forms_dir or current_app.config["FORMS_DIR"]).problems


def _unmatched_groups(meta: dict) -> list[str]:
    """Tasks offered to a group that does not exist (yet): nobody would see them."""
    wanted = {g: bpmn_id for bpmn_id, t in meta["tasks"].items() for g in t["candidate_groups"]}
    known = set(db.session.execute(sa.select(Group.name).where(Group.name.in_(list(wanted)))).scalars())
    return [f"任务 {bpmn_id} 的候选组“{g}”不存在：请先创建该用户组（标题与泳道名称一致），再重新部署"
            for g, bpmn_id in sorted(wanted.items()) if g not in known]


def deploy_file(path: str | Path, *, actor: User | None = None, message: str | None = None,
                forms_dir: str | None = None) -> list[DeployOutcome]:
    """Deploy the processes of one BPMN file; an unchanged file makes no new version.

    A file with any problem deploys nothing and returns its problems. Commits.
    """
    path = Path(path)
    prepared = _prepare(path, forms_dir or current_app.config["FORMS_DIR"])
    if prepared.problems:
        return [DeployOutcome(path.name, problems=prepared.problems)]
    content, dmn_files = prepared.content, prepared.dmn_files
    outcomes = []
    for process, forms in prepared.processes:
        dmn = {name: dmn_files[name].decode("utf-8") for name in sorted(process.referenced_dmn)}
        meta = _task_meta(process)
        digest = _content_hash(content, dmn, forms, meta)
        warnings = _unmatched_groups(meta)
        latest = db.session.execute(
            sa.select(ProcessDefinition).where(ProcessDefinition.key == process.key)
            .order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
        if latest is not None and latest.content_hash == digest:
            outcomes.append(DeployOutcome(path.name, process.key, latest.version, created=False,
                                          warnings=warnings))
            continue
        row = ProcessDefinition(
            key=process.key, version=(latest.version + 1) if latest else 1, name=process.name,
            content_hash=digest, source_file=path.name, bpmn_xml=content.decode("utf-8"),
            dmn_xml=dmn, forms=forms, meta=meta, message=message,
            deployed_by_id=actor.id if actor else None)
        db.session.add(row)
        db.session.flush()
        db.session.add(AuditEvent(actor_id=row.deployed_by_id, action=AuditAction.DEPLOY, label=process.name,
                                  bpmn_id=process.key, data={"version": row.version, "file": path.name}))
        outcomes.append(DeployOutcome(path.name, process.key, row.version, created=True, warnings=warnings))
    for process, _ in prepared.processes:
        if process.start_cycle:   # started by the scheduler once per period
            ensure_schedule(process.key, process.start_cycle)
    db.session.commit()
    return outcomes


def deploy_folder(folder: str | Path | None = None, *, actor: User | None = None,
                  message: str | None = None) -> list[DeployOutcome]:
    """Deploy every *.bpmn of the folder, each file on its own: a broken file does not stop the others."""
    folder = Path(folder or current_app.config["BPMN_DIR"])
    outcomes = []
    for path in sorted(folder.glob("*.bpmn")):
        try:
            outcomes.extend(deploy_file(path, actor=actor, message=message))
        except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the others
            db.session.rollback()
            log.exception("deploying %s failed", path)
            outcomes.append(DeployOutcome(path.name, problems=[engine.Problem(f"部署失败：{exc}", path.name)]))
    return outcomes
