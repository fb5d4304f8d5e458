"""Models of several files (#14): call activities resolve across the files of a model and against the
processes already deployed (the latest, or the version a call activity pins with calledVersion); the
called files travel with the caller's version, so its instances run and restore them; a missing
called process is refused at the call activity. Errors refuse, warnings (conventions, the BPMN
schema) do not."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.designer.conftest import HEADER, user, user_task

FOOTER = "</bpmn:definitions>\n"


def caller(key="main", called="review_sub", pin: str | None = None, name="主流程") -> str:
    pin_xml = (f'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="calledVersion" '
               f'value="{pin}" /></spiffworkflow:properties></bpmn:extensionElements>') if pin else ""
    return (HEADER + f'  <bpmn:process id="{key}" name="{name}" isExecutable="true">\n'
            '    <bpmn:startEvent id="start" name="开始" />\n'
            + user_task("register", "登记") +
            f'    <bpmn:callActivity id="call_review" name="复核" calledElement="{called}">{pin_xml}</bpmn:callActivity>\n'
            '    <bpmn:endEvent id="end" name="办结" />\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="register" />\n'
            '    <bpmn:sequenceFlow id="f2" sourceRef="register" targetRef="call_review" />\n'
            '    <bpmn:sequenceFlow id="f3" sourceRef="call_review" targetRef="end" />\n'
            '  </bpmn:process>\n' + FOOTER)


def called(key="review_sub", task_name="复核意见", name="复核子流程") -> str:
    return (HEADER + f'  <bpmn:process id="{key}" name="{name}" isExecutable="true">\n'
            '    <bpmn:startEvent id="s_start" name="开始复核" />\n'
            + user_task("check", task_name) +
            '    <bpmn:endEvent id="s_end" name="复核完毕" />\n'
            '    <bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="check" />\n'
            '    <bpmn:sequenceFlow id="s2" sourceRef="check" targetRef="s_end" />\n'
            '  </bpmn:process>\n' + FOOTER)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(key):
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    return db.session.execute(db.select(ProcessDefinition).where(ProcessDefinition.key == key)
                              .order_by(ProcessDefinition.version)).scalars().all()


def run_to_end(key, who="intake1"):
    """Start the process and complete each of its tasks (with a fresh engine cache before each, so
    every step deserializes the state: the called process's spec must be restored from the version)."""
    from app.extensions import db
    from app.processes.models import InstanceStatus, ProcessInstance
    from app.processes.running import start_process
    from app.tasks import services as tasks
    from app.tasks.models import HumanTask, TaskStatus
    from tests.conftest import clear_caches
    instance, _ = start_process(key, {}, user(who))
    done = []
    while True:
        clear_caches()
        ready = db.session.execute(db.select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)).scalars().all()
        if not ready:
            break
        done.append(ready[0].bpmn_id)
        tasks.complete_task(ready[0].id, {"note": "同意"}, user(who))
    db.session.expire_all()
    row = db.session.get(ProcessInstance, instance.id)
    assert row.status == InstanceStatus.COMPLETED, (row.status, row.error_message)
    return done


def test_a_model_of_two_files_deploys_as_one_version_and_runs_across_them(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_model
    paths = [write(tmp_path, "main.bpmn", caller()), write(tmp_path, "review_sub.bpmn", called())]
    outcomes = deploy_model(paths, message="两个文件")
    assert [(o.file, o.key, o.version, o.created, o.part_of) for o in outcomes] == [
        ("main.bpmn", "main", 1, True, []), ("review_sub.bpmn", None, None, False, ["main"])]
    assert rows("review_sub") == []   # a called process is part of its caller, not a process of its own
    [row] = rows("main")
    assert set(row.called_xml) == {"review_sub.bpmn"} and "复核意见" in row.called_xml["review_sub.bpmn"]
    assert row.meta["calls"] == [{"element": "call_review", "name": "复核", "file": "main.bpmn",
                                  "process": "review_sub", "process_name": "复核子流程", "version": None,
                                  "pinned": False, "source": "model"}]
    assert row.meta["model_files"] == ["main.bpmn", "review_sub.bpmn"]
    assert "check" in row.meta["tasks"]   # the called process's task is offered like the caller's
    assert run_to_end("main") == ["register", "check"]
    again = deploy_model(paths, message="未改")
    assert [(o.key, o.created) for o in again if o.key] == [("main", False)]
    write(tmp_path, "review_sub.bpmn", called(task_name="再次复核"))   # only the called file changed
    changed = deploy_model(paths, message="子流程改了")
    assert [(o.key, o.version, o.created) for o in changed if o.key] == [("main", 2, True)]


def test_without_its_called_file_the_caller_is_refused_at_the_call_activity(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_model, validate_model
    path = write(tmp_path, "main.bpmn", caller())
    [outcome] = deploy_model([path])
    [problem] = outcome.problems
    assert (problem.file, problem.line, problem.element_id) == ("main.bpmn", 11, "call_review")
    assert "调用活动“复核”（call_review）" in problem.message and "review_sub 不存在" in problem.message
    assert "第 11 行" in str(problem) and problem.is_error
    assert rows("main") == []
    assert [p for p in validate_model([path]) if p.is_error] == [problem]


def test_a_call_resolves_against_the_latest_deployed_version_or_the_pinned_one(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_file, deploy_model
    sub = tmp_path / "sub"
    sub.mkdir()
    deploy_file(write(sub, "review_sub.bpmn", called(task_name="第一版复核")))
    deploy_file(write(sub, "review_sub.bpmn", called(task_name="第二版复核")))
    assert [r.version for r in rows("review_sub")] == [1, 2]
    [latest] = deploy_model([write(tmp_path, "main.bpmn", caller())])
    assert (latest.key, latest.version, latest.problems) == ("main", 1, [])
    row = rows("main")[0]
    assert row.meta["calls"] == [{"element": "call_review", "name": "复核", "file": "main.bpmn",
                                  "process": "review_sub", "process_name": "复核子流程", "version": 2,
                                  "pinned": False, "source": "deployed"}]
    assert list(row.called_xml) == ["review_sub@v2/review_sub.bpmn"]
    assert "第二版复核" in row.called_xml["review_sub@v2/review_sub.bpmn"]
    assert run_to_end("main") == ["register", "check"]

    [pinned] = deploy_model([write(tmp_path, "main.bpmn", caller(pin="1"))])
    assert (pinned.version, pinned.problems) == (2, [])
    row = rows("main")[1]
    assert row.meta["calls"][0]["version"] == 1 and row.meta["calls"][0]["pinned"] is True
    assert "第一版复核" in row.called_xml["review_sub@v1/review_sub.bpmn"]
    from app.processes.versions import get_bundle
    assert get_bundle(row.id).meta["tasks"]["check"]["name"] == "第一版复核"


@pytest.mark.parametrize("pin, needle", [
    ("9", "固定调用流程 review_sub 的第 9 版，但该版本不存在（已部署到第 1 版）"),
    ("最新", "calledVersion 属性“最新”不是版本号"),
    ("0", "calledVersion 属性“0”不是版本号"),
])
def test_a_pin_to_no_version_is_refused_with_its_reason(users, fixture_forms, tmp_path, pin, needle):
    from app.processes.deploy import deploy_file, deploy_model
    deploy_file(write(tmp_path, "review_sub.bpmn", called()))
    main = tmp_path / "m"
    main.mkdir()
    [outcome] = deploy_model([write(main, "main.bpmn", caller(pin=pin))])
    assert [(p.element_id, p.line) for p in outcome.problems] == [("call_review", 11)], \
        [str(p) for p in outcome.problems]
    assert needle in outcome.problems[0].message
    assert rows("main") == []


def test_a_process_that_calls_itself_is_refused(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_model
    [outcome] = deploy_model([write(tmp_path, "loop.bpmn", caller(key="loop", called="loop"))])
    assert any("循环调用" in p.message and p.element_id == "call_review" for p in outcome.problems), \
        [str(p) for p in outcome.problems]


def test_a_folder_deploys_files_joined_by_calls_as_one_model_and_the_others_alone(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_folder, model_groups
    write(tmp_path, "a_main.bpmn", caller())
    write(tmp_path, "b_other.bpmn", caller(key="other", called="nowhere"))   # broken: its own model
    write(tmp_path, "c_review_sub.bpmn", called())
    groups = model_groups(sorted(tmp_path.glob("*.bpmn")))
    assert [[p.name for p in g] for g in groups] == [["a_main.bpmn", "c_review_sub.bpmn"], ["b_other.bpmn"]]
    by_file = {o.file: o for o in deploy_folder(tmp_path)}
    assert by_file["a_main.bpmn"].created and by_file["c_review_sub.bpmn"].part_of == ["main"]
    assert "nowhere 不存在" in by_file["b_other.bpmn"].problems[0].message
    assert rows("other") == []


# --- errors and warnings -------------------------------------------------------------------------

MESSAGE_REF_ON_START = Path(__file__).parents[1] / "fixtures" / "bpmn" / "compat_message_ref_on_start.bpmn"


def test_a_harmless_schema_break_is_a_warning_with_its_line_and_deploys(users, fixture_forms, tmp_path):
    """messageRef written on the startEvent itself (older modelers): the schema refuses it, the engine
    reads the diagram well."""
    from app.processes.deploy import deploy_file, validate_file
    problems = validate_file(MESSAGE_REF_ON_START)
    assert [(p.severity, p.line, p.element_id) for p in problems] == [("warning", 6, "start")], \
        [str(p) for p in problems]
    assert "BPMN 规范（XSD）检查：元素 startEvent 不允许有属性 messageRef" in problems[0].message
    [outcome] = deploy_file(MESSAGE_REF_ON_START)
    assert outcome.created and not outcome.problems
    assert any("messageRef" in w and "第 6 行" in w for w in outcome.warnings), outcome.warnings
    assert run_to_end("old_modeler") == ["review"]


def test_what_the_engine_would_skip_is_still_an_error(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_file
    text = MESSAGE_REF_ON_START.read_text(encoding="utf-8").replace(
        '<bpmn:endEvent id="end"', '<bpmn:userTsk id="typo" name="拼错" />\n    <bpmn:endEvent id="end"')
    [outcome] = deploy_file(write(tmp_path, "typo.bpmn", text))
    assert any(p.element_id == "typo" and "没有元素 userTsk" in p.message for p in outcome.problems), \
        [str(p) for p in outcome.problems]
    assert rows("old_modeler") == []


def _unnamed(key="plain"):
    """A diagram that runs but breaks the house conventions: unnamed events, a task without a form."""
    return (HEADER + f'  <bpmn:process id="{key}" name="约定" isExecutable="true">\n'
            '    <bpmn:startEvent id="start" />\n'
            + user_task("review", "审核").replace(
                '        <spiffworkflow:property name="formJsonSchemaFilename" value="note.schema.json" />\n', '') +
            '    <bpmn:endEvent id="end" />\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />\n'
            '    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />\n'
            '  </bpmn:process>\n' + FOOTER)


def test_conventions_are_warnings_deploy_takes_the_diagram_and_the_designer_too(users, fixture_forms, tmp_path):
    from app.designer.services import deploy_xml, validate_xml
    from app.processes.deploy import deploy_file
    problems = validate_xml(_unnamed())
    assert sorted((p.element_id, p.severity) for p in problems) == [
        ("end", "warning"), ("review", "warning"), ("start", "warning")], [str(p) for p in problems]
    [outcome] = deploy_file(write(tmp_path, "plain.bpmn", _unnamed()))
    assert outcome.created and not outcome.problems and len(outcome.warnings) == 3
    [designed] = deploy_xml(_unnamed("plain_designed"), "有警告也可部署", user("designer"))
    assert designed.created and len(designed.warnings) == 3


def test_the_api_marks_each_problem_error_or_warning_and_valid_means_no_errors(users, fixture_forms, api):
    body = api.post("/api/v1/designer/validate", user="designer", json={"xml": _unnamed()}).get_json()
    assert body["valid"] is True and {p["severity"] for p in body["problems"]} == {"warning"}
    resp = api.post("/api/v1/designer/deploy", user="designer", json={"xml": _unnamed(), "message": "部署"})
    assert resp.status_code == 201, resp.get_json()
    assert len(resp.get_json()["deployed"][0]["warnings"]) == 3
    broken = api.post("/api/v1/designer/validate", user="designer",
                      json={"xml": caller(called="nowhere")}).get_json()
    assert broken["valid"] is False
    assert [p["severity"] for p in broken["problems"] if p["element_id"] == "call_review"] == ["error"]


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["bpmn", *args])


def test_validate_prints_errors_and_warnings_apart_and_strict_fails_on_warnings(app, users, fixture_forms,
                                                                                tmp_path):
    path = write(tmp_path, "plain.bpmn", _unnamed())
    lenient = cli(app, "validate", str(path))
    assert lenient.exit_code == 0, lenient.output
    assert "⚠ plain.bpmn: 3 problem(s)" in lenient.output
    assert all(line.strip().startswith("警告 ") for line in lenient.output.splitlines()[1:]), lenient.output
    strict = cli(app, "validate", "--strict", str(path))
    assert strict.exit_code == 1 and "✗ plain.bpmn: 3 problem(s)" in strict.stderr
    broken = write(tmp_path, "broken.bpmn", caller(key="broken", called="nowhere"))
    result = cli(app, "validate", str(broken))
    assert result.exit_code == 1
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert lines[0] == "✗ broken.bpmn: 1 problem(s)" and lines[1].startswith("错误 broken.bpmn, 第 11 行, 元素 call_review：")


def test_validate_and_deploy_take_the_files_given_as_one_model(app, users, fixture_forms, tmp_path):
    main = write(tmp_path, "main.bpmn", caller())
    sub = write(tmp_path, "review_sub.bpmn", called())
    alone = cli(app, "validate", str(main))
    assert alone.exit_code == 1 and "review_sub 不存在" in alone.stderr
    together = cli(app, "validate", str(main), str(sub))
    assert together.exit_code == 0, together.output
    assert "✓ main.bpmn" in together.output and "✓ review_sub.bpmn" in together.output
    folder = cli(app, "validate", "--strict", str(tmp_path))
    assert folder.exit_code == 0, folder.output
    deployed = cli(app, "deploy", str(tmp_path))
    assert deployed.exit_code == 0, deployed.output
    assert "✓ main.bpmn: main version 1 deployed" in deployed.output
    assert "✓ review_sub.bpmn: called by main, deployed with it" in deployed.output
    refused = cli(app, "deploy", str(write(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
                                             "other.bpmn", caller(key="other", called="nowhere"))))
    assert refused.exit_code == 1 and "错误 other.bpmn, 第 11 行, 元素 call_review：" in refused.stderr


def test_a_problem_of_a_called_file_is_named_at_that_file_and_line(users, fixture_forms, tmp_path):
    from app.processes.deploy import deploy_model
    broken = called().replace('value="note.schema.json"', 'value="missing.schema.json"')
    outcomes = deploy_model([write(tmp_path, "main.bpmn", caller()), write(tmp_path, "review_sub.bpmn", broken)])
    by_file = {o.file: o for o in outcomes}
    [problem] = by_file["review_sub.bpmn"].problems
    assert (problem.file, problem.element_id, problem.line) == ("review_sub.bpmn", "check", 8)
    assert "missing.schema.json" in problem.message
    assert "review_sub.bpmn 有错误" in by_file["main.bpmn"].problems[0].message
    assert rows("main") == []


def test_the_designer_edits_the_caller_of_a_model_with_the_files_its_version_carries(users, fixture_forms,
                                                                                     tmp_path):
    from app.designer.services import deploy_xml, validate_xml
    from app.processes.deploy import deploy_model
    deploy_model([write(tmp_path, "main.bpmn", caller()), write(tmp_path, "review_sub.bpmn", called())])
    edited = caller(name="主流程（改）")
    assert [p for p in validate_xml(edited) if p.is_error] == []   # review_sub comes with the version
    [outcome] = [o for o in deploy_xml(edited, "改名", user("designer")) if o.key]
    assert (outcome.key, outcome.version, outcome.created) == ("main", 2, True)
    row = rows("main")[1]
    assert list(row.called_xml) == ["review_sub.bpmn"] and row.meta["calls"][0]["source"] == "model"
    assert run_to_end("main") == ["register", "check"]
    # without the call activity the called file is no longer part of the model
    alone = (HEADER + '  <bpmn:process id="main" name="主流程" isExecutable="true">\n'
             '    <bpmn:startEvent id="start" name="开始" />\n' + user_task("register", "登记") +
             '    <bpmn:endEvent id="end" name="办结" />\n'
             '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="register" />\n'
             '    <bpmn:sequenceFlow id="f2" sourceRef="register" targetRef="end" />\n'
             '  </bpmn:process>\n' + FOOTER)
    outcomes = deploy_xml(alone, "去掉复核", user("designer"))
    assert [(o.key, o.version) for o in outcomes] == [("main", 3)]
    assert rows("main")[2].called_xml == {} and rows("review_sub") == []
