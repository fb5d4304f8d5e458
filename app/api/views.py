"""Shape service results for the schemas (no queries here)."""
from __future__ import annotations


def instance_payload(details: dict) -> dict:
    instance = details["instance"]
    error = None
    if instance.error_message:
        error = {"message": instance.error_message, "element_id": instance.error_element,
                 "line": instance.error_line, "at": instance.error_at}
    return {
        "id": instance.id, "process_key": details["definition"].key,
        "process_version": details["definition"].version, "status": instance.status,
        "started_at": instance.started_at, "ended_at": instance.ended_at, "case": details.get("case"),
        "error": error, "data": details["data"], "open_tasks": details["open_tasks"],
        "history": [{"id": e.id, "at": e.at, "action": e.action, "actor": details["actors"].get(e.actor_id),
                     "human_task_id": e.human_task_id, "bpmn_id": e.bpmn_id, "label": e.label, "data": e.data}
                    for e in details["history"]] + _end_entry(instance),
    }


def _end_entry(instance) -> list[dict]:
    """The end of a finished instance, from the instance row (not stored twice in the audit trail)."""
    if instance.ended_at is None:
        return []
    return [{"id": None, "at": instance.ended_at, "action": "end", "actor": None, "human_task_id": None,
             "bpmn_id": None, "label": "流程结束" if instance.status == "completed" else "流程取消",
             "data": {"status": instance.status}}]
