"""Posted form fields (strings) -> JSON data per the form's schema, before validation.

HTML posts only strings. Each value is converted by the schema type of its field (integer, number,
boolean, arrays, date-times); a value that cannot be converted is kept as typed (`raw`), gets a
Chinese message at its field, and is left out of the data so the validator reports the rest of the
form at the same time. Empty inputs are left out (so `required` reports them). Uploads go through
a callback that stores them and returns the attachment number the field keeps.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from werkzeug.datastructures import FileStorage, MultiDict

from app import jsondepth
from app.calendar import SHANGHAI
from app.numbers import whole_number
from app.taskforms.schema import (MAX_ROWS, join_path, kind_of, options_of, ordered_properties, resolve, row_path,
                                  ui_of)

ROWS_PREFIX = "__rows__:"     # hidden input: how many rows an array has on the page
FILE_PREFIX = "__file__:"     # file input beside a file field
_ABSENT = object()
_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")

# store(path, upload) -> (value for the field, None) or (None, Chinese error)
UploadStore = Callable[[str, FileStorage], tuple[Any, str | None]]


@dataclass
class Submission:
    data: dict = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)              # path -> input that did not convert
    errors: dict[str, list[str]] = field(default_factory=dict)     # path -> conversion/upload messages

    def draft(self) -> dict:
        """The data with the unconverted inputs put back as typed: what a draft keeps."""
        out = json.loads(json.dumps(self.data))
        for path, text in self.raw.items():
            set_path(out, path, text)
        return out


def parse_submission(schema: dict, ui: dict | None, form: MultiDict, files: MultiDict | None = None,
                     store: UploadStore | None = None) -> Submission:
    sub = Submission()
    reader = _Reader(schema or {}, form, files or MultiDict(), store, sub)
    sub.data = reader.object(schema or {}, ui or {}, "")
    return sub


class _Reader:
    def __init__(self, root: dict, form: MultiDict, files: MultiDict, store: UploadStore | None, sub: Submission):
        self.root, self.form, self.files, self.store, self.sub = root, form, files, store, sub

    def fail(self, path: str, text: str, message: str) -> Any:
        self.sub.raw[path] = text
        self.sub.errors.setdefault(path, []).append(message)
        return _ABSENT

    def object(self, node: dict, ui: dict, prefix: str) -> dict:
        node = resolve(node, self.root)
        props = node.get("properties") or {}
        required = set(node.get("required") or [])
        out = {}
        for name in ordered_properties(node, ui):
            value = self.value(resolve(props[name], self.root), ui_of(ui, name), join_path(prefix, name), name,
                               name in required)
            if value is not _ABSENT:
                out[name] = value
        return out

    def value(self, node: dict, ui: dict, path: str, name: str, required: bool) -> Any:
        kind = kind_of(node, ui, name, self.root)
        reader = getattr(self, "read_" + kind, None) or self.read_text
        return reader(node, ui, path, name, required)

    # --- one reader per kind
    def read_text(self, node, ui, path, name, required):
        text = self.form.get(path)
        if text is None:
            return _ABSENT
        text = text.strip()
        return text if text else _ABSENT

    def read_textarea(self, node, ui, path, name, required):
        text = self.form.get(path)
        if text is None or not text.strip():
            return _ABSENT
        return text.replace("\r\n", "\n")

    def read_integer(self, node, ui, path, name, required):
        text = (self.form.get(path) or "").strip()
        if not text:
            return _ABSENT
        if not _INT.fullmatch(text):
            return self.fail(path, text, "请填写整数，如 42")
        return int(text)

    def read_number(self, node, ui, path, name, required):
        text = (self.form.get(path) or "").strip()
        if not text:
            return _ABSENT
        if not _NUMBER.fullmatch(text):
            return self.fail(path, text, "请填写数字，如 3.5")
        if _INT.fullmatch(text):
            return int(text)
        number = float(text)
        return number if math.isfinite(number) else self.fail(path, text, "数字超出范围")

    def read_datetime(self, node, ui, path, name, required):
        text = (self.form.get(path) or "").strip()
        if not text:
            return _ABSENT
        if not _DATETIME.fullmatch(text):
            return self.fail(path, text, "请填写日期时间，如 2026-03-01 09:30")
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            return self.fail(path, text, "日期时间不存在，请检查")
        return moment.replace(tzinfo=SHANGHAI).isoformat(timespec="seconds")

    def read_checkbox(self, node, ui, path, name, required):
        return self.form.get(path) not in (None, "", "false")

    def read_select(self, node, ui, path, name, required):
        text = self.form.get(path)
        if text is None or text == "":
            return _ABSENT
        for option in options_of(node, ui):
            if option.value == text:
                return option.const
        return text   # not an option: the validator says which values are allowed

    read_radio = read_select

    def read_checkboxes(self, node, ui, path, name, required):
        options = {o.value: o.const for o in options_of(resolve(node.get("items"), self.root), ui)}
        chosen = [options.get(text, text) for text in self.form.getlist(path) if text != ""]
        if not chosen and required:
            return _ABSENT
        return chosen

    def read_file(self, node, ui, path, name, required):
        current = (self.form.get(path) or "").strip()
        upload = self.files.get(FILE_PREFIX + path)
        if upload is not None and upload.filename and self.store is not None:
            value, error = self.store(path, upload)
            if error:
                self.sub.errors.setdefault(path, []).append(error)
            else:
                return value
        return current if current else _ABSENT

    def read_hidden(self, node, ui, path, name, required):
        text = self.form.get(path)
        if text is None or text == "":
            return _ABSENT
        return text

    read_password = read_text
    read_email = read_text
    read_date = read_text

    def read_json(self, node, ui, path, name, required):
        text = (self.form.get(path) or "").strip()
        if not text:
            return _ABSENT
        try:
            return jsondepth.loads(text)
        except jsondepth.JsonTooDeep as exc:
            return self.fail(path, text, str(exc))
        except ValueError:
            return self.fail(path, text, "请填写有效的 JSON")

    def read_object(self, node, ui, path, name, required):
        return self.object(node, ui, path)

    def read_array(self, node, ui, path, name, required):
        if ROWS_PREFIX + path not in self.form:
            return _ABSENT   # the array is not on the page
        count = _row_count(self.form.get(ROWS_PREFIX + path))
        items = resolve(node.get("items"), self.root)
        item_ui = ui_of(ui, "items")
        rows = []
        for index in range(count):
            value = self.value(items, item_ui, row_path(path, index), name, False)
            if value is not _ABSENT:
                rows.append(value)
            elif row_path(path, index) in self.sub.raw:
                rows.append(None)   # keeps the indexes of later rows (the row's raw text is kept)
        if not rows and required:
            return _ABSENT
        return rows


def _row_count(text: str | None) -> int:
    try:
        return max(0, min(int(text or 0), MAX_ROWS))
    except ValueError:
        return 0


# --- paths and row actions ------------------------------------------------------------------------

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _TOKEN.findall(path)]


def get_path(data: Any, path: str) -> Any:
    for token in split_path(path):
        if isinstance(token, int):
            data = data[token] if isinstance(data, list) and token < len(data) else None
        else:
            data = data.get(token) if isinstance(data, dict) else None
    return data


def set_path(data: dict, path: str, value: Any) -> None:
    tokens = split_path(path)
    node: Any = data
    for token, following in zip(tokens, tokens[1:]):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(token, int):
            while len(node) <= token:
                node.append(None)
            if not isinstance(node[token], (dict, list)):
                node[token] = empty
            node = node[token]
        else:
            if not isinstance(node.get(token), (dict, list)):
                node[token] = empty
            node = node[token]
    last = tokens[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def apply_row_action(data: dict, action: str) -> str | None:
    """"add:<path>" appends an empty row, "remove:<path>:<index>" drops one. Returns the array path."""
    verb, _, rest = action.partition(":")
    if verb == "add" and rest:
        rows = get_path(data, rest)
        set_path(data, rest, (rows if isinstance(rows, list) else []) + [None])
        return rest
    if verb == "remove" and ":" in rest:
        path, _, index = rest.rpartition(":")
        rows = get_path(data, path)
        position = whole_number(index)
        if isinstance(rows, list) and position is not None and position < len(rows):
            del rows[position]
            return path
    return None

