"""The designer's actions: validate and deploy diagrams, list and compare versions, export, drafts.

Deploying goes through processes.deploy.deploy_model (one code path for every deploy); a diagram
from the designer is first checked against every rule, the modelling conventions included, and
refused with all its problems.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from lxml import etree

from app import engine, jsondepth
from app.auth.models import ROLE_DESIGNER, User
from app.designer.diff import BPMN_NS, DiffError, diff_bpmn, parse_document
from app.designer.models import DesignerDraft
from app.errors import AppError, FormInvalid, Forbidden, NotFound
from app.extensions import db
from app.processes.deploy import deploy_model, DeployOutcome, validate_file, validate_model
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.processes.versions import Bundle, validate_form
from app.taskforms.validation import check_schema

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
    """Every problem of a BPMN file, errors and warnings: what deploy checks (XML, structure,
    scripts, timers, forms, call activities), the diagram as drawn (engine.check_structure: flows,
    reachability, outcomes) and the modelling conventions (groups, forms, names). The one checker
    of the CLI, the API and the modeler page. Deploys nothing."""
    return _sorted(validate_file(path, forms_dir))


def validate_paths(paths: list[str | Path], forms_dir: str | None = None) -> list[engine.Problem]:
    """Every problem of a model of several files (call activities resolved across them)."""
    return _sorted(validate_model(paths, forms_dir))


def validate_xml(xml: str | bytes, filename: str | None = None, forms_dir: str | None = None
                 ) -> list[engine.Problem]:
    """Every problem of a diagram given as text (the designer's edited XML). Deploys nothing."""
    content = _content(xml)
    with _staged(content, filename or _filename_for(content)) as paths:
        return validate_paths(paths, forms_dir)


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
    key = process_key_of(content)
    if key is None:
        return "diagram.bpmn"
    latest = _latest(key)
    name = Path(latest.source_file).name if latest is not None else f"{key}.bpmn"
    return name if name.endswith(".bpmn") and not name.startswith(".") else f"{key}.bpmn"


@contextmanager
def _staged(content: bytes, filename: str):
    """The diagram as a file in a temporary folder, beside the DMN tables of bpmn/ (what deploy_model
    reads) and the files of its model that its last version carries (the processes its call
    activities call that were deployed with it, not on their own): the designer's diagram is
    checked and deployed exactly like a model of bpmn/. Yields the model's BPMN paths, the
    diagram's first."""
    with tempfile.TemporaryDirectory(prefix="wuyi-designer-") as folder:
        folder = Path(folder)
        bpmn_dir = Path(current_app.config["BPMN_DIR"])
        for dmn in sorted(bpmn_dir.glob("*.dmn")):
            shutil.copyfile(dmn, folder / dmn.name)
        path = folder / Path(filename).name
        path.write_bytes(content)
        paths = [path]
        for name, xml in _model_files_of(content, path.name).items():
            paths.append(folder / name)
            paths[-1].write_text(xml, encoding="utf-8")
        yield paths


def _model_files_of(content: bytes, filename: str) -> dict[str, str]:
    """The files of the diagram's model that its latest version carries and that its call activities
    still call (directly or through each other); a deployed process it calls resolves on its own."""
    key = process_key_of(content)
    latest = _latest(key) if key else None
    carried = {name: xml for name, xml in ((latest.called_xml or {}) if latest is not None else {}).items()
               if "/" not in name and name != filename}   # "key@vN/file": a deployed version, not the model's
    wanted, needed = {}, {c.called for c in engine.model_calls({filename: content})[0]}
    while True:
        more = {name: xml for name, xml in carried.items() if name not in wanted
                and engine.model_calls({name: xml.encode("utf-8")})[1] & needed}
        if not more:
            return wanted
        wanted.update(more)
        needed |= {c.called for name, xml in more.items() for c in engine.model_calls({name: xml.encode("utf-8")})[0]}


# --- deploy -----------------------------------------------------------------------------------

def deploy_xml(xml: str | bytes, message: str, actor: User | None, *, forms_dir: str | None = None
               ) -> list[DeployOutcome]:
    """Deploy a diagram given as text, with a message; an unchanged diagram makes no new version.

    Raises FormInvalid (no message, empty or too large), DiagramInvalid (422, every problem, when
    one is an error; warnings alone do not stop it: they come back in the outcomes). Commits.
    """
    message = (message or "").strip()
    if not message:
        raise FormInvalid("请填写部署说明", fields={"message": ["部署说明不能为空"]})
    content = _content(xml)
    filename = _filename_for(content)
    with _staged(content, filename) as paths:
        problems = validate_paths(paths, forms_dir)
        if engine.errors_of(problems):   # warnings are shown, and do not stop a deploy
            raise DiagramInvalid(problems)
        outcomes = deploy_model(paths, actor=actor, message=message, forms_dir=forms_dir)
    problems = [p for o in outcomes for p in o.problems]
    if problems:   # deploy_model checks again; only a race with a changed form could get here
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
        # the processes its call activities use: of its own model, or a deployed version (pinned or
        # the latest when it was deployed)
        "calls": (row.meta or {}).get("calls", []), "model_files": (row.meta or {}).get("model_files", []),
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


def find_draft(user: User, key: str) -> DesignerDraft | None:
    """The user's draft of a process, or None."""
    return _draft(user, key)


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


def list_drafts(user: User) -> list[DesignerDraft]:
    """The user's drafts, most recently saved first."""
    return list(db.session.execute(sa.select(DesignerDraft).where(DesignerDraft.user_id == user.id)
                                   .order_by(DesignerDraft.updated_at.desc())).scalars())


# --- files the designer opens: bpmn/ and forms/ (read only: they change through code review) ------

def list_bpmn_files() -> list[str]:
    """The names of the diagrams in bpmn/."""
    return sorted(p.name for p in Path(current_app.config["BPMN_DIR"]).glob("*.bpmn") if p.is_file())


def read_bpmn_file(name: str) -> str:
    """The text of one diagram of bpmn/ (by its file name only). Raises NotFound."""
    if name not in list_bpmn_files():
        raise NotFound(f"bpmn/ 目录中没有文件：{name}")
    return (Path(current_app.config["BPMN_DIR"]) / name).read_text(encoding="utf-8")


def read_uploaded_diagram(content: bytes) -> str:
    """A diagram a designer uploads to open in the modeler: UTF-8 XML whose root is
    bpmn:definitions. Raises FormInvalid with the reason (nothing is stored)."""
    content = _content(content)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormInvalid("文件不是 UTF-8 编码的文本", fields={"file": ["请上传 UTF-8 编码的 .bpmn 文件"]}) from None
    try:
        root = parse_document(content)   # no entities, DTD or network (diff._PARSER)
    except DiffError as exc:
        raise FormInvalid(f"无法打开该文件：{exc}", fields={"file": [str(exc)]}) from None
    tag = etree.QName(root)
    if tag.localname != "definitions" or tag.namespace != BPMN_NS:
        raise FormInvalid("该文件不是 BPMN 2.0 流程图（根元素应为 bpmn:definitions）",
                          fields={"file": ["根元素应为 bpmn:definitions"]})
    return text


def process_key_of(xml: str | bytes) -> str | None:
    """The id of the diagram's first executable process (the key it deploys as), if it parses."""
    try:
        root = parse_document(xml)
    except DiffError:
        return None
    keys = [p.get("id") for p in root.iter("{*}process")
            if p.get("id") and (p.get("isExecutable") or "true").lower() == "true"]
    return keys[0] if keys else None


def _forms_dir() -> Path:
    return Path(current_app.config["FORMS_DIR"])


def list_form_files() -> list[str]:
    """Every form file under forms/, as the paths diagrams use (complaint/handle.schema.json)."""
    base = _forms_dir()
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*.json") if p.is_file())


def read_form_text(path: str) -> str:
    """The text of one form file of forms/. Raises NotFound (also for a path outside forms/)."""
    if path not in list_form_files():
        raise NotFound(f"forms/ 目录中没有文件：{path}")
    return (_forms_dir() / path).read_text(encoding="utf-8")


def ui_schema_path(schema_path: str) -> str:
    """The UI schema beside a JSON Schema: a/b.schema.json -> a/b.uischema.json."""
    stem = schema_path[:-len(".schema.json")] if schema_path.endswith(".schema.json") else schema_path
    return stem + ".uischema.json"


NEW_FORM = '{\n  "type": "object",\n  "properties": {}\n}\n'


def open_form(path: str | None) -> tuple[str, str, str]:
    """(schema text, UI schema path, UI schema text) of a form of forms/ for the workbench; a blank
    form when path is empty; "{}" when the form has no UI schema. Raises NotFound."""
    if not path:
        return NEW_FORM, "", "{}\n"
    files = set(list_form_files())   # one walk of forms/ per call
    if path not in files:
        raise NotFound(f"forms/ 目录中没有文件：{path}")
    ui_path = ui_schema_path(path)
    schema_text = (_forms_dir() / path).read_text(encoding="utf-8")
    ui_text = (_forms_dir() / ui_path).read_text(encoding="utf-8") if ui_path in files else "{}\n"
    return schema_text, ui_path, ui_text


@dataclass
class FormCheck:
    """A form as the workbench edits it: the parsed texts, what is wrong with them, and the sample
    data's errors per field (None when the data was not validated)."""

    schema: dict | None = None
    ui: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)   # "schema" | "ui" | "data" -> messages
    errors: dict[str, list[str]] | None = None

    @property
    def is_valid(self) -> bool:
        return not self.problems and not self.errors


PART_TITLES = {"schema": "JSON Schema", "ui": "UI schema", "data": "示例数据"}
JSON_ERRORS = {   # json.JSONDecodeError.msg -> what the designer reads
    "Expecting property name enclosed in double quotes": "此处应为用双引号括起的属性名（或多了一个逗号）",
    "Expecting ':' delimiter": "缺少冒号",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting value": "此处缺少值",
    "Extra data": "JSON 结束后还有多余内容",
    "Unterminated string starting at": "字符串缺少结束的双引号",
    "Invalid \\escape": "无效的转义字符",
    "Invalid control character at": "字符串中有不允许的控制字符（如直接换行）",
}


def _parse_json_part(check: FormCheck, part: str, text: str | None, *, required: bool) -> dict | None:
    text = (text or "").strip()
    if not text:
        if required:
            check.problems.setdefault(part, []).append(f"{PART_TITLES[part]}不能为空")
        return None
    try:
        value = jsondepth.loads(text)
    except jsondepth.JsonTooDeep as exc:
        check.problems.setdefault(part, []).append(f"{PART_TITLES[part]}：{exc}")
        return None
    except json.JSONDecodeError as exc:
        check.problems.setdefault(part, []).append(
            f"{PART_TITLES[part]}不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{JSON_ERRORS.get(exc.msg, exc.msg)}")
        return None
    if not isinstance(value, dict):
        check.problems.setdefault(part, []).append(f"{PART_TITLES[part]}顶层必须是 JSON 对象")
        return None
    return value


def check_form(schema_text: str | None, ui_text: str | None = None, data_text: str | None = None, *,
               validate: bool = False) -> FormCheck:
    """Parse a form's JSON Schema, UI schema and sample data as the workbench sends them; report
    every problem (JSON syntax, what deploy refuses in a schema) and, when `validate`, the sample
    data's errors exactly as a task submission gets them (validate_form). Writes nothing."""
    check = FormCheck()
    for part, text in (("schema", schema_text), ("ui", ui_text), ("data", data_text)):
        if len(text or "") > MAX_XML_BYTES:
            check.problems.setdefault(part, []).append(f"{PART_TITLES[part]}过大")
    if check.problems:
        return check
    check.schema = _parse_json_part(check, "schema", schema_text, required=True)
    check.ui = _parse_json_part(check, "ui", ui_text, required=False) or {}
    check.data = _parse_json_part(check, "data", data_text, required=False) or {}
    if check.schema is not None:
        for message in check_schema(check.schema):
            check.problems.setdefault("schema", []).append(message)
    if validate and not check.problems:
        check.errors = form_data_errors(check.schema, check.data)
    return check


def form_data_errors(schema: dict, data: dict) -> dict[str, list[str]]:
    """Per-field Chinese errors of data against a form, by the task submission's validation
    (validate_form on a one-form bundle); {} when the data is valid."""
    path = "workbench.schema.json"
    bundle = Bundle(id=0, key="", version=0, name="", meta={}, forms={path: schema}, process=None)
    try:
        validate_form(bundle, path, data)
    except FormInvalid as exc:
        return dict(exc.fields or {})
    return {}
