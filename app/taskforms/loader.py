"""Read form files from forms/ (JSON Schema + UI schema), refusing paths that leave the folder."""
from __future__ import annotations

import json
from pathlib import Path


class FormFileError(Exception):
    """A form file is missing, outside forms/, or not JSON; the message is for the designer."""


def read_form_file(forms_dir: str | Path, relpath: str) -> dict:
    base = Path(forms_dir).resolve()
    path = (base / relpath).resolve()
    if base not in path.parents:
        raise FormFileError(f"表单文件路径不允许跳出 forms/ 目录：{relpath}")
    if not path.is_file():
        raise FormFileError(f"找不到表单文件 forms/{relpath}")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormFileError(f"表单文件 forms/{relpath} 不是有效的 JSON：第 {exc.lineno} 行，{exc.msg}") from None
    if not isinstance(value, dict):
        raise FormFileError(f"表单文件 forms/{relpath} 顶层必须是 JSON 对象")
    return value
