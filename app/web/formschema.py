"""JSON Schema + UI schema -> a tree of fields that the templates render on the server.

The schema is read through app/taskforms/schema.py, whose `kind_of` decides both how a field is
shown and how its posted strings are read back (app/web/formdata.py), so rendering and parsing
cannot disagree; this module builds only the view model. Supported: ui:order (with "*"),
ui:widget (textarea, radio, select, checkbox(es), date, datetime, hidden, password, email, file),
ui:help / description, ui:placeholder, ui:title, ui:readonly, ui:options (rows, inline), ui:initialFrom
(a first value taken from another data key, see first_values), enums
(enum + enumNames, or oneOf/anyOf of const + title), nested objects, arrays of objects or of
scalars (rows added and removed by submit buttons, no JavaScript needed), and conditional fields
(if/then/else, dependentRequired, dependentSchemas, draft-7 dependencies): all are shown, the
conditional ones marked with their condition.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.calendar import SHANGHAI
from app.taskforms.schema import (MAX_ROWS, Option, html_value, join_path, kind_of, options_of, ordered_properties,
                                  resolve, row_path, shown_value, ui_of)

FORMAT_NAMES = {"cn-id-card": "居民身份证号码", "uscc": "统一社会信用代码", "cn-mobile": "手机号码",
                "cn-phone": "电话号码", "date": "日期", "date-time": "日期时间", "email": "电子邮箱",
                "jiangmen-address": "江门市地址"}


@dataclass
class Field:
    path: str                 # data path as the validator reports it: a.b[0].c
    name: str
    label: str
    kind: str
    required: bool = False
    help: list[str] = field(default_factory=list)
    placeholder: str | None = None
    options: list[Option] = field(default_factory=list)
    value: Any = None         # what the input shows: a string, a bool (checkbox) or a list (checkboxes)
    errors: list[str] = field(default_factory=list)
    children: list["Field"] = field(default_factory=list)   # object: its fields; array: its rows
    condition: str | None = None
    show_if: dict | None = None   # {"field": html name, "values": [...]}: JavaScript may hide it otherwise
    readonly: bool = False
    inline: bool = False
    rows: int = 4
    minlength: int | None = None
    maxlength: int | None = None   # shown and counted, never a maxlength attribute: browsers cut pastes silently
    can_add: bool = True
    can_remove: bool = True
    item_label: str = ""

    @property
    def id(self) -> str:
        return "f_" + re.sub(r"[^A-Za-z0-9_-]", "_", self.path)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(child.has_errors for child in self.children)

    @property
    def option_values(self) -> set[str]:
        return {o.value for o in self.options}

    @property
    def length_hint(self) -> str | None:
        """The length rule in words, shown before anyone submits: 至少 10 字，最多 5000 字."""
        parts = [f"至少 {self.minlength} 字"] if self.minlength and self.minlength > 1 else []
        if self.maxlength:
            parts.append(f"最多 {self.maxlength} 字")
        return "，".join(parts) or None


# --- first values ---------------------------------------------------------------------------------

def first_values(schema: dict | None, ui: dict | None, data: dict, hidden=frozenset()) -> dict:
    """What a form shows before anyone typed into it: the task's data for the form's own fields (less
    `hidden` ones), and for a field whose ui schema says ``"ui:initialFrom": "<data key>"`` (派单's
    主办单位 from the rule table's recommendation) that data value while the field itself has none.
    A draft or a posted form is shown as it is instead, so neither is ever overwritten."""
    schema, ui = schema or {}, ui or {}
    props = schema.get("properties") or {}
    values = {k: v for k, v in data.items() if k in props and k not in hidden}
    for name in props:
        source = ui_of(ui, name).get("ui:initialFrom")
        if not isinstance(source, str) or values.get(name) is not None or data.get(source) is None:
            continue
        node = resolve(props[name], schema)
        options = options_of(node, ui_of(ui, name))
        if not options or any(o.const == data[source] for o in options):
            values[name] = data[source]
    return values


# --- display values -------------------------------------------------------------------------------

def local_datetime_input(value: Any) -> str:
    """An ISO date-time (any offset) as the value of <input type=datetime-local> in Asia/Shanghai."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(SHANGHAI)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _display(kind: str, value: Any) -> Any:
    if kind == "checkbox":
        return value is True
    if kind == "checkboxes":
        return [html_value(v) for v in value] if isinstance(value, list) else []
    if value is None:
        return ""
    if kind in ("select", "radio"):
        return html_value(value)
    if kind == "datetime":
        return local_datetime_input(value)
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- conditions -----------------------------------------------------------------------------------

@dataclass
class _Condition:
    hints: list[str] = field(default_factory=list)
    show_if: dict | None = None


def _conditions(node: dict, root: dict, prefix: str, ui: dict) -> dict[str, _Condition]:
    """Which properties of this object are conditional, and on what (described in Chinese)."""
    found: dict[str, _Condition] = {}

    def add(name: str, hint: str, show_if: dict | None = None) -> None:
        entry = found.setdefault(name, _Condition())
        if hint not in entry.hints:
            entry.hints.append(hint)
        if show_if is not None and entry.show_if is None:
            entry.show_if = show_if

    for branch in [node] + [resolve(b, root) for b in node.get("allOf") or [] if isinstance(b, dict)]:
        if isinstance(branch.get("if"), dict):
            _if_then_else(branch, node, root, prefix, ui, add)
    _dependencies(node, root, add)
    return found


def _if_then_else(branch: dict, node: dict, root: dict, prefix: str, ui: dict, add) -> None:
    text, show_if = _describe_if(resolve(branch["if"], root), node, root, prefix, ui)
    then, otherwise = resolve(branch.get("then"), root), resolve(branch.get("else"), root)
    for name in then.get("required") or []:
        add(name, f"当{text}时必填", show_if)
    props = node.get("properties") or {}

    def rule(name: str, sub: Any) -> str:
        return _rule_of(resolve(sub, root), options_of(resolve(props.get(name), root), ui_of(ui, name)))
    for name, sub in (then.get("properties") or {}).items():
        add(name, f"当{text}时{rule(name, sub)}")
    for name in otherwise.get("required") or []:
        add(name, f"除非{text}，否则必填")
    for name, sub in (otherwise.get("properties") or {}).items():
        add(name, f"除非{text}，否则{rule(name, sub)}")


def _rule_of(sub: dict, options: list[Option]) -> str:
    fmt = sub.get("format")
    if fmt in FORMAT_NAMES:
        return f"按{FORMAT_NAMES[fmt]}规则校验"
    if "const" in sub:
        shown = _labels(options, [sub["const"]])[0]
        return "须勾选" if sub["const"] is True and shown == "是" else f"只能选“{shown}”"
    return "另有填写要求"


def _labels(options: list[Option], wanted: list) -> list[str]:
    """How the options show these constants (the constant itself when no option has it)."""
    return [next((o.label for o in options if o.const == w and type(o.const) is type(w)), shown_value(w))
            for w in wanted]


def _describe_if(cond: dict, node: dict, root: dict, prefix: str, ui: dict) -> tuple[str, dict | None]:
    parts, show_if = [], None
    props = cond.get("properties") or {}
    for name, sub in props.items():
        sub = resolve(sub, root)
        target = resolve((node.get("properties") or {}).get(name), root)
        title = target.get("title") or name
        options = options_of(target, ui_of(ui, name))
        wanted = [sub["const"]] if "const" in sub else list(sub.get("enum") or [])
        negated = resolve(sub.get("not"), root)
        unwanted = [negated["const"]] if "const" in negated else list(negated.get("enum") or [])
        if not wanted and unwanted:
            parts.append(f"“{title}”不为“{'或'.join(_labels(options, unwanted))}”")
            continue
        if not wanted:
            parts.append(f"“{title}”符合条件")
            continue
        parts.append(f"“{title}”为“{'或'.join(_labels(options, wanted))}”")
        if len(props) == 1:
            show_if = {"field": join_path(prefix, name), "values": [html_value(w) for w in wanted]}
    return ("且".join(parts) or "满足条件"), show_if


def _dependencies(node: dict, root: dict, add) -> None:
    titles = {n: resolve(s, root).get("title") or n for n, s in (node.get("properties") or {}).items()}
    required = dict(node.get("dependentRequired") or {})
    schemas = dict(node.get("dependentSchemas") or {})
    for key, dep in (node.get("dependencies") or {}).items():   # draft-7 spelling
        (required if isinstance(dep, list) else schemas)[key] = dep
    for key, names in required.items():
        for name in names if isinstance(names, list) else []:
            add(name, f"填写“{titles.get(key, key)}”后必填")
    for key, sub in schemas.items():
        sub = resolve(sub, root)
        for name in sub.get("required") or []:
            add(name, f"填写“{titles.get(key, key)}”后必填")
        for name in (sub.get("properties") or {}):
            if name not in (sub.get("required") or []):
                add(name, f"填写“{titles.get(key, key)}”后另有填写要求")


# --- the builder -----------------------------------------------------------------------------------

class FormView:
    """The fields of one form with their values and errors, ready for templates/web/_form.html.

    values: the data to show (task data, a draft, or what was just posted); raw: strings that could
    not be converted (shown as typed); errors: validator paths -> Chinese messages; defaults: fill
    schema defaults for absent values (first display only).
    """

    def __init__(self, schema: dict, ui: dict | None, values: dict | None = None, *,
                 errors: dict | None = None, raw: dict | None = None, defaults: bool = False,
                 attachments: dict | None = None):
        self.schema = schema or {}
        self.ui = ui or {}
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.raw = raw or {}
        self.defaults = defaults
        self.attachments = attachments or {}   # attachment id (str) -> {"filename", "url"}
        self._paths: set[str] = set()
        self.fields = self._object_fields(self.schema, self.ui, "", values if isinstance(values, dict) else {})

    @property
    def title(self) -> str | None:
        return self.schema.get("title")

    @property
    def description(self) -> str | None:
        return self.schema.get("description")

    @property
    def other_errors(self) -> list[tuple[str, list[str]]]:
        """Errors not shown at any field (the whole form, or fields the form does not have)."""
        return [(path, msgs) for path, msgs in self.errors.items() if path not in self._paths]

    @property
    def error_count(self) -> int:
        return len(self.errors)

    def all_errors(self) -> list[tuple[str, str, list[str]]]:
        """(field id, label, messages) for the summary at the top of the form; a field in a row is
        named with its row ("车辆 第2项 · 总质量")."""
        out = []

        def walk(fields, prefix):
            for f in fields:
                label = f"{prefix}{f.label}"
                if f.errors:
                    out.append((f.id, label, f.errors))
                if f.kind == "array":
                    for row in f.children:
                        if row.errors:
                            out.append((row.id, f"{prefix}{row.label}", row.errors))
                        walk(row.children, f"{prefix}{row.label} · ")
                else:
                    walk(f.children, prefix)
        walk(self.fields, "")
        return out

    def file_values(self) -> set[str]:
        """The values of the file fields (attachment numbers), to look their names up."""
        found: set[str] = set()

        def walk(fields):
            for f in fields:
                if f.kind == "file" and f.value:
                    found.add(str(f.value))
                walk(f.children)
        walk(self.fields)
        return found

    def attachment(self, value: Any) -> dict | None:
        return self.attachments.get(str(value)) if value not in (None, "") else None

    # --- walking
    def _object_fields(self, node: dict, ui: dict, prefix: str, values: dict) -> list[Field]:
        node = resolve(node, self.schema)
        props = node.get("properties") or {}
        required = set(node.get("required") or [])
        conditions = _conditions(node, self.schema, prefix, ui)
        out = []
        for name in ordered_properties(node, ui):
            sub_ui = ui_of(ui, name)
            value = values.get(name) if name in values else self._default(props[name])
            item = self._field(resolve(props[name], self.schema), sub_ui, join_path(prefix, name), name,
                               value, name in required)
            cond = conditions.get(name)
            if cond is not None:
                item.condition = "；".join(cond.hints)
                item.show_if = cond.show_if
            out.append(item)
        return out

    def _default(self, node: Any) -> Any:
        node = resolve(node, self.schema)
        return node.get("default") if self.defaults else None

    def _field(self, node: dict, ui: dict, path: str, name: str, value: Any, required: bool) -> Field:
        kind = kind_of(node, ui, name, self.schema)
        options = options_of(resolve(node.get("items"), self.schema) if kind == "checkboxes" else node, ui) \
            if kind in ("select", "radio", "checkboxes") else []
        self._paths.add(path)
        item = Field(path=path, name=name, label=str(ui.get("ui:title") or node.get("title") or name), kind=kind,
                     required=required, help=_help(node, ui), placeholder=ui.get("ui:placeholder"),
                     options=options, errors=self._messages(path, ui.get("ui:title") or node.get("title")),
                     readonly=bool(ui.get("ui:readonly") or ui.get("ui:disabled") or node.get("readOnly")),
                     inline=bool(ui_of(ui, "ui:options").get("inline")),
                     rows=_int(ui_of(ui, "ui:options").get("rows"), 4),
                     minlength=_length(node, "minLength"), maxlength=_length(node, "maxLength"))
        if kind == "object":
            item.children = self._object_fields(node, ui, path, value if isinstance(value, dict) else {})
        elif kind == "array":
            self._rows(item, node, ui, value)
        else:
            item.value = self.raw[path] if path in self.raw else _display(kind, value)
        return item

    def _rows(self, item: Field, node: dict, ui: dict, value: Any) -> None:
        rows = value if isinstance(value, list) else []
        if not rows and value is None and item.required:
            rows = [None] * min(_int(node.get("minItems"), 0), 5)
        items = resolve(node.get("items"), self.schema)
        item_ui = ui_of(ui, "items")
        item.item_label = str(items.get("title") or item.label)
        for index, row in enumerate(rows[:MAX_ROWS]):
            child = self._field(items, item_ui, row_path(item.path, index), item.name, row, False)
            child.label = f"{item.item_label} 第{index + 1}项"
            item.children.append(child)
        max_items = node.get("maxItems")
        item.can_add = not (isinstance(max_items, int) and len(rows) >= max_items) and len(rows) < MAX_ROWS
        item.can_remove = len(rows) > _int(node.get("minItems"), 0)

    def _messages(self, path: str, title: Any) -> list[str]:
        """Messages at a field, without the field's own name in front (it is already the label)."""
        prefix = f"{title}：" if title else None
        return [m[len(prefix):] if prefix and m.startswith(prefix) else m for m in self.errors.get(path, [])]


def _help(node: dict, ui: dict) -> list[str]:
    texts = [ui.get("ui:description") or node.get("description"), ui.get("ui:help")]
    return [str(t) for t in texts if t]


def _length(node: dict, keyword: str) -> int | None:
    """A string field's minLength/maxLength, when it has one."""
    value = node.get(keyword)
    return value if node.get("type") == "string" and _int(value, -1) >= 0 else None


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
