"""The only importer of SpiffWorkflow: parse/check BPMN, run workflows, return plain data."""
from app.engine.definitions import (  # noqa: F401
    ERROR, PIN_PROPERTY, SEVERITY_TITLES, WARNING, BpmnInvalid, CallRef, ParsedProcess, Problem, TaskInfo,
    call_title, check_bpmn, check_conventions, check_model, cycle_period, errors_of, load_process, model_calls,
    parse_bpmn, warnings_of)
from app.engine.runtime import (  # noqa: F401
    EngineError, NotWaiting, ReadyTask, ScriptError, StepResult, TaskNotReady, UnknownTask,
    WaitingTimer, check_data_keys, complete_task, configure, deliver_message, fire_timers, forget,
    read, remember, start)
from app.engine.migration import Migration, MigrationRefused, migrate  # noqa: F401,E402
from app.engine.placeholders import has_placeholder  # noqa: F401,E402
from app.engine.sandbox import ServiceFailure  # noqa: F401,E402
from app.engine.structure import check_structure, merge_problems  # noqa: F401,E402
