"""Chinese labels for the codes the pages show (SLA colours, audit actions, statuses)."""
from __future__ import annotations

from typing import Any

SLA = {"green": "正常", "yellow": "预警", "orange": "环节超时", "red": "超期", "paused": "暂停计时", "none": "无时限"}
SCOPES = {"all": "全部待办", "mine": "我的任务", "group": "组内待认领"}
ACTIONS = {
    "start": "发起流程", "claim": "认领任务", "unclaim": "退回任务", "delegate": "转办任务",
    "complete": "办理完成", "timer": "定时触发", "message": "收到消息", "error": "流程异常",
    "deploy": "部署流程", "escalate": "催办/督办", "pause": "暂停计时", "resume": "恢复计时",
    "extend": "延期", "recalculate": "重新计算时限", "view_identity": "查阅身份信息", "end": "流程结束",
    "remind": "催办", "supervise": "督办", "reassign": "改派任务", "refuse_extension": "不批准延期",
    "retry": "重试异常", "migrate": "迁移流程版本", "cancel": "撤销流程",
    "lock": "锁定账户", "unlock": "解锁账户",
}
# the data keys of a supervisor's actions and of the system's records in the audit trail
# (app/supervision/actions.py, app/deadlines/escalation.py, timers, delegation, migration), for the timeline
ACTION_DETAILS = {"note": "说明", "deadline": "督办期限", "from": "原办理人", "to": "改派给", "days": "延期工作日",
                  "reason": "理由", "duration": "延期时长", "error": "错误信息", "rung": "升级环节",
                  "due_at": "办理时限", "fired_at": "触发时间", "notified": "已通知",
                  "from_version": "原版本", "to_version": "新版本", "cancelled_tasks": "取消的环节"}
ACTION_TIMES = ("deadline", "due_at", "fired_at")   # of ACTION_DETAILS: instants, shown in Beijing time
SUPERVISION_ACTIONS = ("remind", "supervise", "reassign", "refuse_extension", "extend", "retry", "cancel")
# the records whose data the timeline shows by ACTION_DETAILS only (the rest of their data is bookkeeping)
RECORD_ACTIONS = (*SUPERVISION_ACTIONS, "escalate", "timer", "delegate", "migrate")
INSTANCE_STATUS = {"running": "办理中", "completed": "已办结", "error": "异常", "suspended": "已挂起",
                   "cancelled": "已撤销"}
TASK_STATUS = {"ready": "待办", "completed": "已办理", "cancelled": "已取消"}
NOTIFICATION_KINDS = {"remind": "催办", "notice": "催办通知书", "supervise": "督办", "criticise": "通报",
                      "warn": "预警", "overdue": "超期", "assigned": "任务分派", "info": "通知"}


def sla(state: str | None) -> str:
    return SLA.get(state or "none", state or "")


def action(code: str) -> str:
    return ACTIONS.get(code, code)


def quoted(name: str) -> str:
    """A name in “ ” quotes, or in 「」 when it has quotes of its own (开办运输企业“一件事”)."""
    return f"「{name}」" if any(q in name for q in "“”\"") else f"“{name}”"


def key_titles(node: dict) -> dict[str, str]:
    """{key: title} of an object schema's properties (a dict value is shown by its keys' titles)."""
    props = node.get("properties") if isinstance(node, dict) else None
    if not isinstance(props, dict):
        return {}
    return {key: str(prop.get("title") or key) for key, prop in props.items() if isinstance(prop, dict)}


def value_text(value: Any, options: dict | None = None) -> str:
    """A data value for people: 是/否, lists joined with 、, option titles instead of codes, an object's
    (or a list of objects') keys by the titles in `options`."""
    options = options or {}
    if value is True:
        return "是"
    if value is False:
        return "否"
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(value_text(v, options) for v in value) or "—"
    if isinstance(value, dict):   # options: the titles of its keys (key_titles)
        return "；".join(f"{options.get(k, k)}：{value_text(v)}" for k, v in value.items()) or "—"
    if isinstance(value, str) and value in options:
        return options[value]
    return str(value)
