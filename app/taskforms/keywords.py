"""Our own JSON Schema keywords, so a form designer can state a rule in the schema and the server
enforces it (the validator and the form workbench both run them):

- ``"x-notFuture": true`` on a date or date-time string: not later than now (the application
  clock, app.db.utcnow); a date is compared with today's date in Jiangmen, a date-time may be up to
  ``NOT_FUTURE_GRACE`` ahead (a PC clock a few minutes fast is not a caseworker's error).
- ``"x-distinctFrom": {"co_orgs": "handler_org"}`` on an object: the field named by the key must
  not equal the value of the other field, nor (an array) contain it.
- the designer's own words for a failing keyword are ajv-errors' ``"errorMessage"`` (a text, or
  ``{"pattern": "须包含……"}`` per keyword), read by app/taskforms/validation.py; its shape is checked here.

Messages are Chinese and land at the field. ``format: "jiangmen-address"`` (app/taskforms/formats.py)
is the third stated rule of this kind.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterator

from jsonschema.exceptions import ValidationError

from app.calendar import SHANGHAI
from app.db import utcnow

from .formats import is_valid_date, is_valid_date_time
from .schema import DATA_KEYWORDS, options_of, resolve, shown_value

__all__ = ["KEYWORDS", "NOT_FUTURE_GRACE", "keyword_problems"]

NOT_FUTURE_GRACE = timedelta(minutes=5)


def not_future(validator, value: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if value is not True or not isinstance(instance, str):
        return
    now = utcnow().astimezone(SHANGHAI)
    if schema.get("format") == "date" or (len(instance) == 10 and is_valid_date(instance)):
        try:
            day = date.fromisoformat(instance)
        except ValueError:
            return   # the format keyword reports it
        if day > now.date():
            yield ValidationError(f"不能晚于今天（{now.date().isoformat()}）")
        return
    if not is_valid_date_time(instance):
        return
    try:
        moment = datetime.fromisoformat(instance)
    except ValueError:
        return
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    if moment > now + NOT_FUTURE_GRACE:
        yield ValidationError(f"不能晚于当前时间（现在是 {now:%Y-%m-%d %H:%M}）")


def distinct_from(validator, value: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if not isinstance(value, dict) or not isinstance(instance, dict):
        return
    props = schema.get("properties") or {}
    for name, other in value.items():
        if name not in instance or other not in instance or instance[other] is None:
            continue
        mine, theirs = instance[name], instance[other]
        is_list = isinstance(mine, list)
        clashes = [t for t in (theirs if isinstance(theirs, list) else [theirs])
                   if any(_same(t, m) for m in (mine if is_list else [mine]))]
        if not clashes:
            continue
        node = resolve(props.get(other), validator.schema)
        title = node.get("title") or other
        choices = options_of(resolve(node.get("items"), validator.schema) if isinstance(theirs, list) else node, {})
        shown = "、".join(next((o.label for o in choices if _same(o.const, t)), shown_value(t)) for t in clashes)
        text = f"不能包含{title}（{shown}）" if is_list else f"不能与{title}相同（{shown}）"
        yield ValidationError(text, path=(name,))


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    return type(a) is type(b) and a == b


KEYWORDS = {"x-notFuture": not_future, "x-distinctFrom": distinct_from}


def keyword_problems(node: Any, path: list | None = None) -> Iterator[tuple[list, str]]:
    """(where, Chinese problem) for each misuse of our keywords in a schema."""
    path = path or []
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from keyword_problems(item, path + [index])
        return
    if not isinstance(node, dict):
        return
    if "x-notFuture" in node and not isinstance(node["x-notFuture"], bool):
        yield path + ["x-notFuture"], "x-notFuture 应为 true 或 false"
    if "x-distinctFrom" in node:
        rule, props = node["x-distinctFrom"], node.get("properties") or {}
        if not isinstance(rule, dict):
            yield path + ["x-distinctFrom"], "x-distinctFrom 应为对象，如 {\"co_orgs\": \"handler_org\"}"
        else:
            for name, other in rule.items():
                for field in (name, other):
                    if not isinstance(field, str) or field not in props:
                        yield path + ["x-distinctFrom", name], f"x-distinctFrom 引用了不存在的字段 {field}"
    if "errorMessage" in node and not isinstance(node["errorMessage"], str) and not (
            isinstance(node["errorMessage"], dict)
            and all(isinstance(text, str) for text in node["errorMessage"].values())):
        yield path + ["errorMessage"], "errorMessage 应为文字，或键为校验关键字的对象，如 {\"pattern\": \"须包含……\"}"
    for key, sub in node.items():
        if key not in DATA_KEYWORDS:
            yield from keyword_problems(sub, path + [key])
