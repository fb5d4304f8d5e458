"""Uploads are checked before a case keeps them, whichever page or edge took them: by size, and by
their content (magic numbers via `filetype`), never by the name or the Content-Type the browser
sent. Allowed: PDF, PNG, JPEG, Word/Excel (docx/xlsx, zip-based Office) and plain text (UTF-8 or
GBK without control characters)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import filetype
from werkzeug.datastructures import FileStorage

from app.errors import AppError

ALLOWED = {
    "application/pdf": "PDF",
    "image/png": "PNG 图片",
    "image/jpeg": "JPEG 图片",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word 文档（docx）",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel 表格（xlsx）",
    "text/plain": "纯文本",
}
ALLOWED_TEXT = "PDF、PNG、JPEG、Word（docx）、Excel（xlsx）或纯文本"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class UploadRefused(AppError):
    """An upload refused at the edge: 413 too large, 415 not an allowed type, 400 otherwise."""

    status, code, default_message = 400, "upload_refused", "上传的文件不被接受"
    STATUS = {"too_large": 413, "bad_type": 415}

    def __init__(self, message: str, reason: str = "upload_refused"):
        super().__init__(message)
        self.code = reason
        self.status = self.STATUS.get(reason, 400)


@dataclass
class CheckedUpload:
    filename: str
    content: bytes
    content_type: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def check_upload(upload: FileStorage, max_bytes: int) -> CheckedUpload:
    """Read and check one upload. Raises UploadRefused (Chinese message) when it is empty, too big,
    or not an allowed type by content."""
    content = upload.stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise UploadRefused(f"文件过大：每个附件不能超过 {size_text(max_bytes)}", reason="too_large")
    if not content:
        raise UploadRefused("文件是空的，请重新选择", reason="empty_file")
    mime = detect_type(content)
    if mime is None:
        raise UploadRefused(f"不支持的文件类型（按文件内容识别）：只接受 {ALLOWED_TEXT}", reason="bad_type")
    return CheckedUpload(clean_filename(upload.filename), content, mime, hashlib.sha256(content).hexdigest())


def detect_type(content: bytes) -> str | None:
    """The MIME type of an allowed file, from its bytes; None for anything else."""
    kind = filetype.guess(content)
    if kind is not None:
        return kind.mime if kind.mime in ALLOWED else None
    return "text/plain" if is_plain_text(content) else None


def is_plain_text(content: bytes) -> bool:
    for encoding in ("utf-8-sig", "gbk"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return not _CONTROL.search(text)
    return False


def clean_filename(name: str | None) -> str:
    """The name to show and offer on download: no folders, no control characters, at most 255."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _CONTROL.sub("", base).strip().strip(".") or "附件"
    if len(base) > 255:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 10 else base[:255]
    return base


def size_text(size: int) -> str:
    """A file size for people: 1.2 MB, 10 MB, 35 KB."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} 字节"
