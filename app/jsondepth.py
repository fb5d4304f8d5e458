"""JSON nested too deeply (#15): refused with a clear error before anything recurses into it.

Python's json module raises RecursionError at about 1,000 levels, and every recursive walk after
it (marshmallow, the engine's serializer, deepcopy) has its own limit; 5,000 levels answered 500.
`loads` parses and measures without recursion of its own: deeper than MAX_JSON_DEPTH is JsonTooDeep
(a ValueError, so callers that catch broken JSON catch this too)."""
from __future__ import annotations

import json

DEFAULT_MAX_DEPTH = 64


class JsonTooDeep(ValueError):
    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        super().__init__(f"JSON 嵌套层数过多（最多 {max_depth} 层）")


def depth_of(value) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), iteratively."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads(text: str | bytes, max_depth: int = DEFAULT_MAX_DEPTH):
    """json.loads, refusing more than `max_depth` levels (JsonTooDeep); other errors as json's."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    if depth_of(value) > max_depth:
        raise JsonTooDeep(max_depth)
    return value
