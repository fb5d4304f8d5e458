"""What people add to a case beside the process data, and who may open it: case access (write, or a
watching supervisor's read), comments, attachments. Used by the caseworker pages and by any other
edge that adds to a case (the public portal's 补充材料). Each public action is one transaction and
commits."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import FileStorage

from app.auth.models import User
from app.auth.services import user_names
from app.cases.models import Case
from app.cases.records import Attachment, Comment
from app.cases.uploads import check_upload
from app.db import utcnow
from app.errors import AppError, Forbidden, NotFound
from app.extensions import db
from app.numbers import whole_number
from app.processes.instances import instance_access
from app.processes.models import ProcessInstance

COMMENT_MAX = 5000


# --- access ---------------------------------------------------------------------------------------

def get_case(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("找不到该案件")
    return case


def case_instance(case_id: int) -> ProcessInstance:
    instance = db.session.execute(
        sa.select(ProcessInstance).where(ProcessInstance.case_id == case_id)
        .order_by(ProcessInstance.id.desc()).limit(1)).scalar_one_or_none()
    if instance is None:
        raise NotFound("找不到该案件的流程实例")
    return instance


def get_visible_case(case_id: int, user: User, *, writing: bool = False) -> tuple[Case, ProcessInstance]:
    """The case and its instance if the user may see them (`writing`: add comments or files to it,
    which a supervisor who only watches the case may not). Raises NotFound, Forbidden."""
    case, instance, access = case_access(case_id, user)
    if writing and access != "write":
        raise Forbidden("督办查看的案件为只读，意见和附件由办理人员添加")
    return case, instance


def case_access(case_id: int, user: User) -> tuple[Case, ProcessInstance, str]:
    """The case, its instance and the user's access: "write" (a part in the case: may add comments and
    files) or "read" (a supervisor watching it). Raises NotFound, Forbidden."""
    case = get_case(case_id)
    instance = case_instance(case_id)
    access = instance_access(user, instance)
    if access is None:
        raise Forbidden("您无权查看此案件")
    return case, instance, access


# --- comments -------------------------------------------------------------------------------------

def list_comments(case_id: int) -> list[tuple[Comment, str | None]]:
    rows = list(db.session.execute(sa.select(Comment).where(Comment.case_id == case_id)
                                   .order_by(Comment.created_at, Comment.id)).scalars())
    names = user_names({c.author_id for c in rows})
    return [(c, names.get(c.author_id)) for c in rows]


def add_comment(case_id: int, user: User, body: str) -> Comment:
    """Add a comment to a case the user may see. Raises NotFound, Forbidden, AppError (empty/too long). Commits."""
    get_visible_case(case_id, user, writing=True)
    text = (body or "").strip()
    if not text:
        raise AppError("请填写意见内容", fields={"body": ["不能为空"]})
    if len(text) > COMMENT_MAX:
        raise AppError(f"意见不能超过 {COMMENT_MAX} 字（当前 {len(text)} 字）",
                       fields={"body": [f"不能超过 {COMMENT_MAX} 字（当前 {len(text)} 字）"]})
    comment = Comment(case_id=case_id, author_id=user.id, body=text, created_at=utcnow())
    db.session.add(comment)
    db.session.commit()
    return comment


# --- attachments ----------------------------------------------------------------------------------

def list_attachments(case_id: int) -> list[tuple[Attachment, str | None]]:
    rows = list(db.session.execute(sa.select(Attachment).where(Attachment.case_id == case_id)
                                   .order_by(Attachment.uploaded_at, Attachment.id)).scalars())
    names = user_names({a.uploaded_by_id for a in rows})
    return [(a, names.get(a.uploaded_by_id)) for a in rows]


def add_attachment(user: User, upload: FileStorage, *, case_id: int | None, task_id: int | None = None,
                   field_path: str | None = None) -> Attachment:
    """Store one upload (checked by size and content) on a case, or, from a start form, pending for its
    uploader until the case exists. Raises UploadRefused, NotFound, Forbidden. Commits."""
    if case_id is not None:
        get_visible_case(case_id, user, writing=True)
    checked = check_upload(upload, current_app.config["MAX_ATTACHMENT_BYTES"])
    row = Attachment(case_id=case_id, human_task_id=task_id, field=field_path, filename=checked.filename,
                     content_type=checked.content_type, size=checked.size, sha256=checked.sha256,
                     content=checked.content, uploaded_by_id=user.id, uploaded_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def link_pending_attachments(user: User, ids: list[int], case_id: int) -> int:
    """Attach the user's pending uploads (made on a start form) to the case just started. Commits."""
    if not ids:
        return 0
    changed = db.session.execute(
        sa.update(Attachment).where(Attachment.id.in_(ids), Attachment.uploaded_by_id == user.id,
                                    Attachment.case_id.is_(None))
        .values(case_id=case_id).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed


def get_attachment_for(user: User, attachment_id: int) -> Attachment:
    """An attachment the user may read: of a case they may see, or their own pending upload.
    Raises NotFound, Forbidden."""
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("找不到该附件")
    if row.case_id is not None:
        get_visible_case(row.case_id, user)
    elif row.uploaded_by_id != user.id:
        raise Forbidden("您无权下载此附件")
    return row


def attachment_refs(user: User, ids: set[str], case_id: int | None) -> dict[str, dict]:
    """id (as a form keeps it) -> {"id", "filename"} for the attachments a form refers to that belong to
    its case (or are the user's own pending uploads, on a start form); any other number stays a number."""
    numbers = [n for n in map(whole_number, ids) if n is not None]
    if not numbers:
        return {}
    rows = db.session.execute(sa.select(Attachment.id, Attachment.filename, Attachment.case_id,
                                        Attachment.uploaded_by_id).where(Attachment.id.in_(numbers))).all()
    return {str(r.id): {"id": r.id, "filename": r.filename} for r in rows
            if (case_id is not None and r.case_id == case_id)
            or (r.case_id is None and r.uploaded_by_id == user.id)}
