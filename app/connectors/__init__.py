"""Connectors: what a BPMN service task calls (`spiffworkflow:serviceTaskOperator`).

A connector is a function `fn(params: dict, data: dict) -> JSON-able result`: `params` are the
operator's parameters, evaluated in the sandbox; `data` is a copy of the task data. The result is
stored under the operator's resultVariable. Built in: the `http` connector (http.py), also under
spiff-arena's operator names (`http/GetRequestV2`, `http/PostRequestV2`, ...). A deployment adds
its own as Python entry points (group `wuyi.connectors`) or in the CONNECTORS setting
("name=module:function,..."). A connector raises ConnectorError with a Chinese message; anything
else it raises is reported by its type, never its traceback.
"""
from app.connectors.errors import ConnectorError  # noqa: F401
from app.connectors.registry import build_registry, make_caller  # noqa: F401
