"""Move a running instance onto a newer version of its process, only when that is safe.

SpiffWorkflow 3.2's bpmn.util.diff aligns the task specs of two versions by BPMN id, and
migrate_workflow re-points the instance's tasks at the new specs and re-predicts the branches of its
READY/WAITING tasks. Safe here means:

- every task the instance waits on (READY, WAITING, STARTED) exists in the new version with the
  same id and unchanged: its type, name, lane, properties, scripts, event definition, the boundary
  events attached to it, and for a join its incoming branches. What follows it may change: that is
  what a new version is for, and the migration re-predicts it;
- no task of its history lost its element: the stored state names every task's spec, and a task
  whose spec is gone could not be loaded again;
- the migrated state can be stepped, saved and loaded on the new version.

Otherwise the migration is refused with every reason, naming the elements.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.specs.Join import Join

from app.engine import runtime
from app.engine.definitions import ParsedProcess

WAITING_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED
# where a task leads (and, but for joins, where it came from) may change between versions
_CONNECTIONS = {"inputs", "outputs"}
_ATTRIBUTE_TITLES = {
    "typename": "元素类型", "bpmn_name": "名称", "lane": "泳道",
    "extensions": "扩展属性（表单、办理组、时限、说明等）", "prescript": "前置脚本", "postscript": "后置脚本",
    "documentation": "文档说明", "event_definition": "事件定义", "manual": "人工/自动", "script": "脚本",
    "cond_task_specs": "条件", "default_task_spec": "默认流", "cancel_activity": "是否中断",
    "data_input_associations": "输入数据", "data_output_associations": "输出数据",
    "io_specification": "输入输出定义", "variable": "变量", "description": "元素类型",
    "spec": "子流程", "decision_ref": "决策表", "inputs": "汇入的分支", "boundary_events": "边界事件",
    "task_spec": "多实例内部任务", "cardinality": "多实例数量", "data_input": "多实例输入集合",
    "data_output": "多实例输出集合", "input_item": "多实例输入项", "output_item": "多实例输出项",
    "condition": "完成条件",
}


class MigrationRefused(runtime.EngineError):
    """The instance cannot move to the new version; `reasons` (Chinese) name the elements."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("；".join(reasons))


@dataclass
class Migration:
    """A migrated state, ready to be saved as the instance's new state on the new version."""

    result: runtime.StepResult
    waiting: list[str] = field(default_factory=list)   # BPMN ids of the tasks the instance waits on
    task_ids_kept: bool = True                          # every READY task kept its SpiffWorkflow id


def migrate(old: ParsedProcess, new: ParsedProcess, state) -> Migration:
    """Migrate a stored state (bytes, or a function returning them) from `old` to `new`.

    Works on a freshly loaded workflow, never on the live cache: a refusal leaves nothing behind,
    and the caller calls runtime.forget() for the instance after committing the new state.
    Raises MigrationRefused with every reason.
    """
    dct = runtime._decode(state() if callable(state) else state)
    if dct.get(runtime.FINAL_MARK):
        raise MigrationRefused(["实例已结束，无需迁移"])
    workflow = runtime._load(old, dct)
    before = runtime._snapshot(workflow)

    # (workflow, its spec diff, its new spec) for the top level and every running subprocess
    parts, reasons = [], []
    parts.append((workflow, SpecDiff(runtime._registry, workflow.spec, new.spec), new.spec))
    for subworkflow in workflow.subprocesses.values():
        new_spec = (new.subprocess_specs or {}).get(subworkflow.spec.name)
        if new_spec is None:
            reasons.append(f"子流程 {subworkflow.spec.name} 在新版本中不存在")
            continue
        parts.append((subworkflow, SpecDiff(runtime._registry, subworkflow.spec, new_spec), new_spec))

    waiting: list[str] = []
    for part, spec_diff, new_spec in parts:
        for task in part.get_tasks(state=WAITING_STATES, skip_subprocesses=True):
            waiting.append(task.task_spec.bpmn_id or task.task_spec.name)
            reason = _waiting_task_reason(task, spec_diff, part.spec, new_spec)
            if reason:
                reasons.append(reason)
    if reasons:
        raise MigrationRefused(_unique(reasons))

    try:
        for part, spec_diff, new_spec in parts:
            _migrate_part(part, spec_diff, new_spec)
        workflow.subprocess_specs = new.subprocess_specs
    except Exception as exc:  # noqa: BLE001 - refusing is always safe: nothing was saved
        raise MigrationRefused([f"迁移失败：{type(exc).__name__}: {exc}"]) from exc
    reasons.extend(_orphan_reasons(parts))
    if reasons:
        raise MigrationRefused(_unique(reasons))

    try:
        runtime._run_engine(workflow, workflow.do_engine_steps)
    except runtime.ScriptError as exc:
        where = f"（元素 {exc.element_id}）" if exc.element_id else ""
        raise MigrationRefused([f"迁移后在新版本上推进流程出错{where}：{exc.message}"]) from exc
    result = runtime._result(workflow, before)
    try:   # the saved state must load on the new version, or the instance would be lost
        runtime._load(new, runtime._decode(result.state))
    except Exception as exc:  # noqa: BLE001
        raise MigrationRefused([f"迁移后的状态无法在新版本上加载：{type(exc).__name__}: {exc}"]) from exc
    result._workflow = None   # never offered to the live cache: the caller forgets the instance
    kept = before[0] <= {r.spiff_task_id for r in result.ready}
    return Migration(result=result, waiting=sorted(set(waiting)), task_ids_kept=kept)


def _label(spec) -> str:
    element = spec.bpmn_id or spec.name
    return f"{element}（{spec.bpmn_name}）" if getattr(spec, "bpmn_name", None) else element


def _waiting_task_reason(task, spec_diff: SpecDiff, old_spec, new_spec) -> str | None:
    spec = task.task_spec
    aligned = spec_diff.alignment.get(spec)
    state = {TaskState.READY: "办理", TaskState.STARTED: "执行完毕"}.get(task.state, "")
    if aligned is None:
        return f"实例正在等待{state}的步骤 {_label(spec)} 在新版本中已删除"
    if aligned.name != spec.name:   # SpiffWorkflow matched another element at the same place
        return (f"实例正在等待{state}的步骤 {_label(spec)} 在新版本中已删除（同一位置现为 {_label(aligned)}；"
                "若是同一步骤，请保持元素 ID 不变）")
    changes = [key for key in spec_diff.comparisons.get(spec, []) if key not in _CONNECTIONS]
    if isinstance(spec, Join) and _aligned_names(spec.inputs, spec_diff) != {s.name for s in aligned.inputs}:
        changes.append("inputs")
    if _boundary_events(old_spec, spec.name) != _boundary_events(new_spec, spec.name):
        changes.append("boundary_events")
    if not changes:
        return None
    titles = "、".join(dict.fromkeys(_ATTRIBUTE_TITLES.get(key, key) for key in changes))
    return f"实例正在等待{state}的步骤 {_label(spec)} 在新版本中有改动：{titles}"


def _aligned_names(specs, spec_diff: SpecDiff) -> set[str]:
    return {(spec_diff.alignment.get(s).name if spec_diff.alignment.get(s) is not None else f"-{s.name}")
            for s in specs}


def _boundary_events(process_spec, name: str) -> list[str]:
    split = process_spec.task_specs.get(f"{name}.BoundaryEventSplit")
    return sorted(s.name for s in split.outputs if s.name != name) if split is not None else []


def _migrate_part(part, spec_diff: SpecDiff, new_spec) -> None:
    """migrate_workflow, keeping what it resets on the tasks the instance waits on (their data and
    internal data: a waiting timer's due time would otherwise restart from now), and re-predicting
    what follows a STARTED task."""
    kept = {task.id: (task.data, task.internal_data)
            for task in part.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)}
    migrate_workflow(WorkflowDiff(part, spec_diff), part, new_spec)
    # migrate_workflow re-predicts only READY/WAITING branches: a STARTED task (a running subprocess)
    # would go on to the steps of the old version when it finishes
    for task in part.get_tasks(state=TaskState.STARTED, skip_subprocesses=True):
        if any(child.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.FINISHED_MASK)
               for child in task.children):
            continue   # never drop work that has begun
        task._drop_children(force=True)
        task.task_spec._predict(task, mask=TaskState.STARTED | TaskState.PREDICTED_MASK | TaskState.FUTURE)
    for task_id, (data, internal_data) in kept.items():
        task = part.tasks.get(task_id)
        if task is not None:
            task.data = data
            task.internal_data = internal_data


def _orphan_reasons(parts) -> list[str]:
    """Tasks still on a spec of the old version after migrating: their element was removed."""
    reasons = []
    for part, _, new_spec in parts:
        known = {id(s) for s in new_spec.task_specs.values()}
        for task in part.tasks.values():
            spec = task.task_spec
            if id(spec) in known:
                continue
            if task.state == TaskState.COMPLETED:
                reasons.append(f"已完成的步骤 {_label(spec)} 在新版本中已删除：实例的办理历史无法对应到新版本")
            else:
                reasons.append(f"步骤 {_label(spec)}（{TaskState.get_name(task.state)}）在新版本中已删除")
    return reasons


def _unique(reasons: list[str]) -> list[str]:
    return list(dict.fromkeys(reasons))
