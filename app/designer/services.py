"""The designer's actions: validate and deploy diagrams, list and compare versions, export, drafts.

Deploying goes through processes.services.deploy_file (one code path for every deploy); a diagram
from the designer is first checked against every rule, the modelling conventions included, and
refused with all its problems.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app import engine
from app.auth.models import ROLE_DESIGNER, User
from app.designer.diff import DiffError, diff_bpmn, parse_document
from app.designer.models import DesignerDraft
from app.errors import AppError, FormInvalid, Forbidden, NotFound
from app.extensions import db
from app.processes import services as processes
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance

MAX_XML_BYTES = 5 * 1024 * 1024
LIVE_STATUSES = (InstanceStatus.RUNNING, InstanceStatus.ERROR)   # not finished: can still move on


class DiagramInvalid(AppError):
    """A diagram with problems: nothing was deployed; `problems` lists every one."""

    status, code, default_message = 422, "bpmn_invalid", "流程图有问题，未部署"

    def __init__(self, problems: list[engine.Problem]):
        super().__init__(f"流程图有 {len(problems)} 处问题，未部署", problems=[p.as_dict() for p in problems])
        self.problems = problems


# --- who may design ---------------------------------------------------------------------------

def can_design(user: User) -> bool:
    return user.is_admin or user.has_role(ROLE_DESIGNER)


def ensure_designer(user: User) -> None:
    """Raises Forbidden unless the user is a designer or an administrator."""
    if not can_design(user):
        raise Forbidden("仅流程设计员和系统管理员可以使用流程设计功能")


# --- validation -------------------------------------------------------------------------------

def validate_path(path: str | Path, forms_dir: str | None = None) -> list[engine.Problem]:
    """Every problem of a BPMN file: what deploy checks (XML, structure, scripts, timers, forms)
    plus the modelling conventions (groups, forms, names). Deploys nothing."""
    path = Path(path)
    problems = processes.validate_file(path, forms_dir)
    try:
        content = path.read_bytes()
    except OSError:
        return problems   # validate_file reported it
    return _sorted(problems + engine.check_conventions(path.name, content))


def validate_xml(xml: str | bytes, filename: str | None = None, forms_dir: str | None = None
                 ) -> list[engine.Problem]:
    """Every problem of a diagram given as text (the designer's edited XML). Deploys nothing."""
    content = _content(xml)
    with _staged(content, filename or _filename_for(content)) as path:
        return validate_path(path, forms_dir)


def _sorted(problems: list[engine.Problem]) -> list[engine.Problem]:
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0))


def _content(xml: str | bytes) -> bytes:
    content = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml or b"")
    if not content.strip():
        raise FormInvalid("流程图内容为空", fields={"xml": ["请提供 BPMN XML"]})
    if len(content) > MAX_XML_BYTES:
        raise FormInvalid(f"流程图过大（上限 {MAX_XML_BYTES // (1024 * 1024)} MB）", fields={"xml": ["内容过大"]})
    return content


def _filename_for(content: bytes) -> str:
    """The file name the diagram is known by: its process's last deployed file, else <key>.bpmn."""
    try:
        root = parse_document(content)
    except DiffError:
        return "diagram.bpmn"
    keys = [p.get("id") for p in root.iter("{*}process")
            if p.get("id") and (p.get("isExecutable") or "true").lower() == "true"]
    if not keys:
        return "diagram.bpmn"
    latest = _latest(keys[0])
    name = Path(latest.source_file).name if latest is not None else f"{keys[0]}.bpmn"
    return name if name.endswith(".bpmn") and not name.startswith(".") else f"{keys[0]}.bpmn"


@contextmanager
def _staged(content: bytes, filename: str):
    """The diagram as a file in a temporary folder, beside the DMN tables of bpmn/ (what deploy_file
    reads): the designer's diagram is checked and deployed exactly like a file of bpmn/."""
    with tempfile.TemporaryDirectory(prefix="wuyi-designer-") as folder:
        folder = Path(folder)
        bpmn_dir = Path(current_app.config["BPMN_DIR"])
        for dmn in sorted(bpmn_dir.glob("*.dmn")):
            shutil.copyfile(dmn, folder / dmn.name)
        path = folder / Path(filename).name
        path.write_bytes(content)
        yield path


# --- deploy -----------------------------------------------------------------------------------

def deploy_xml(xml: str | bytes, message: str, actor: User | None, *, forms_dir: str | None = None
               ) -> list[processes.DeployOutcome]:
    """Deploy a diagram given as text, with a message; an unchanged diagram makes no new version.

    Raises FormInvalid (no message, empty or too large), DiagramInvalid (422, every problem).
    Commits.
    """
    message = (message or "").strip()
    if not message:
        raise FormInvalid("请填写部署说明", fields={"message": ["部署说明不能为空"]})
    content = _content(xml)
    filename = _filename_for(content)
    with _staged(content, filename) as path:
        problems = validate_path(path, forms_dir)
        if problems:
            raise DiagramInvalid(problems)
        outcomes = processes.deploy_file(path, actor=actor, message=message, forms_dir=forms_dir)
    problems = [p for o in outcomes for p in o.problems]
    if problems:   # deploy_file checks again; only a race with a changed form could get here
        raise DiagramInvalid(problems)
    return outcomes


# --- versions ---------------------------------------------------------------------------------

def _latest(key: str) -> ProcessDefinition | None:
    return db.session.execute(
        sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()


def get_version(key: str, version: int | None = None) -> ProcessDefinition:
    """One deployed version (the latest when version is None). Raises NotFound."""
    if version is None:
        row = _latest(key)
        if row is None:
            raise NotFound(f"没有已部署的流程：{key}")
        return row
    row = db.session.execute(sa.select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version)).scalar_one_or_none()
    if row is None:
        if _latest(key) is None:
            raise NotFound(f"没有已部署的流程：{key}")
        raise NotFound(f"流程 {key} 没有版本 {version}")
    return row


def export_xml(key: str, version: int | None = None) -> str:
    """The stored BPMN XML of a version (latest by default). Raises NotFound."""
    return get_version(key, version).bpmn_xml


def list_versions(key: str) -> list[dict]:
    """Every version of a process, newest first: who deployed it when with which message, and how
    many of its instances are running (and in error). Raises NotFound."""
    rows = db.session.execute(
        sa.select(ProcessDefinition, User.username, User.display_name)
        .outerjoin(User, User.id == ProcessDefinition.deployed_by_id)
        .where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())).all()
    if not rows:
        raise NotFound(f"没有已部署的流程：{key}")
    counts: dict[tuple[int, str], int] = {
        (definition_id, status): n for definition_id, status, n in db.session.execute(
            sa.select(ProcessInstance.definition_id, ProcessInstance.status, sa.func.count())
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessDefinition.key == key, ProcessInstance.status.in_(LIVE_STATUSES))
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)).all()}
    latest_version = rows[0][0].version
    return [{
        "id": row.id, "key": row.key, "version": row.version, "name": row.name,
        "deployed_at": row.deployed_at, "deployed_by": username, "deployed_by_name": display_name,
        "message": row.message, "source_file": row.source_file, "content_hash": row.content_hash,
        "running_instances": counts.get((row.id, InstanceStatus.RUNNING), 0),
        "error_instances": counts.get((row.id, InstanceStatus.ERROR), 0),
        "is_latest": row.version == latest_version,
    } for row, username, display_name in rows]


def diff_versions(key: str, from_version: int, to_version: int) -> dict:
    """What changed between two versions, element by element. Raises NotFound."""
    old, new = get_version(key, from_version), get_version(key, to_version)
    try:
        result = diff_bpmn(old.bpmn_xml, new.bpmn_xml)
    except DiffError as exc:   # stored diagrams were validated at deploy: not expected
        raise AppError(f"无法比较版本：{exc}") from None
    return {"key": key, "from_version": old.version, "to_version": new.version, **result}


# --- drafts -----------------------------------------------------------------------------------

def get_draft(user: User, key: str) -> DesignerDraft:
    """The user's draft of a process. Raises NotFound."""
    draft = _draft(user, key)
    if draft is None:
        raise NotFound(f"您没有流程 {key} 的草稿")
    return draft


def _draft(user: User, key: str) -> DesignerDraft | None:
    return db.session.execute(sa.select(DesignerDraft).where(
        DesignerDraft.user_id == user.id, DesignerDraft.process_key == key)).scalar_one_or_none()


def save_draft(user: User, key: str, xml: str, *, base_version: int | None = None,
               message: str | None = None) -> DesignerDraft:
    """Save (or replace) the user's draft of a process; a draft may have problems. Commits."""
    content = _content(xml)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise FormInvalid("草稿不是 UTF-8 文本", fields={"xml": ["请以 UTF-8 保存"]}) from None
    if len(key) > 100 or not key.strip():
        raise FormInvalid("流程标识无效", fields={"key": ["1 到 100 个字符"]})
    draft = _draft(user, key)
    if draft is None:
        draft = DesignerDraft(user_id=user.id, process_key=key, bpmn_xml=text)
        db.session.add(draft)
    draft.bpmn_xml = text
    draft.base_version = base_version
    draft.message = message
    db.session.commit()
    return draft


def delete_draft(user: User, key: str) -> None:
    """Discard the user's draft of a process (nothing to do when there is none). Commits."""
    draft = _draft(user, key)
    if draft is not None:
        db.session.delete(draft)
        db.session.commit()
