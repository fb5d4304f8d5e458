"""The registry of connectors and the caller the engine's service tasks use (retries, backoff)."""
from __future__ import annotations

import importlib
import logging
import time
from importlib.metadata import entry_points
from typing import Callable

from app.connectors import http
from app.connectors.errors import ConnectorError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "wuyi.connectors"
Connector = Callable[[dict, dict], object]


def _load(target: str) -> Connector:
    module, _, attr = target.strip().partition(":")
    fn = importlib.import_module(module)
    for part in attr.split("."):
        fn = getattr(fn, part)
    if not callable(fn):
        raise TypeError(f"{target} is not callable")
    return fn


def _configured(setting) -> dict[str, str]:
    """CONNECTORS: a dict {name: "module:function"} or a string "name=module:function,..."."""
    if not setting:
        return {}
    if isinstance(setting, dict):
        return dict(setting)
    pairs = [item.split("=", 1) for item in str(setting).split(",") if item.strip()]
    return {name.strip(): target.strip() for name, target in pairs}


def build_registry(config) -> dict[str, Connector]:
    """The built-in connectors, then the entry points, then the CONNECTORS setting (later names win)."""
    registry: dict[str, Connector] = dict(http.connectors(config))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            registry[ep.name] = ep.load()
        except Exception:   # a broken plug-in must not stop the application; deploy refuses its name
            log.exception("connector entry point %s could not be loaded", ep.name)
    for name, target in _configured(config.get("CONNECTORS")).items():
        registry[name] = _load(target)   # a bad setting fails at start-up, where the operator sees it
    return registry


def make_caller(registry: dict[str, Connector], config) -> Callable:
    """The engine's service caller: the named connector, retried with exponential backoff.

    The attempts come from the operator's <spiffworkflow:retry retries=".." backoff_base=".."/>, else
    CONNECTOR_RETRIES; the whole wait is capped by CONNECTOR_MAX_BACKOFF_SECONDS (the step holds
    the instance while it waits). The last failure is raised: the step rolls back and the instance
    shows as an incident a supervisor can retry.
    """
    default_retries = int(config.get("CONNECTOR_RETRIES", 2))
    base = float(config.get("CONNECTOR_BACKOFF_SECONDS", 0.5))
    cap = float(config.get("CONNECTOR_MAX_BACKOFF_SECONDS", 5))
    sleep = config.get("CONNECTOR_SLEEP") or time.sleep

    def call(name: str, params: dict, data: dict, options: dict):
        connector = registry.get(name)
        if connector is None:
            raise ConnectorError(f"连接器“{name}”未注册（可用：{'、'.join(sorted(registry)) or '无'}）")
        retries = options.get("retries")
        retries = default_retries if retries is None else max(0, int(retries))
        backoff = options.get("backoff")
        backoff = base if backoff is None else float(backoff)
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            try:
                return connector(params, data)
            except ConnectorError as err:
                if not err.retryable or attempt > retries:
                    if attempt > 1:
                        raise ConnectorError(f"{err}（已尝试 {attempt} 次）") from err
                    raise
                delay = min(backoff * 2 ** (attempt - 1), max(0.0, cap - waited))
                waited += delay
                if delay:
                    sleep(delay)
    return call
