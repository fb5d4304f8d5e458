"""app.engine.migrate on shapes the service tests do not cover: parallel joins and subprocesses."""
from __future__ import annotations

import pytest

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
          'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="x">\n')
PARALLEL = HEADER + '''<bpmn:process id="par" name="并行" isExecutable="true">
<bpmn:startEvent id="s" name="开始"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="fork"/>
<bpmn:parallelGateway id="fork"/>{branches}<bpmn:parallelGateway id="join"/>
<bpmn:sequenceFlow id="fj" sourceRef="join" targetRef="{after}"/>{tail}<bpmn:endEvent id="e" name="结束"/>
</bpmn:process></bpmn:definitions>'''
SUBPROCESS = HEADER + '''<bpmn:process id="sp" name="子流程" isExecutable="true">
<bpmn:startEvent id="s" name="开始"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="sub"/>
<bpmn:subProcess id="sub" name="子流程">
  <bpmn:startEvent id="ss" name="子开始"/><bpmn:sequenceFlow id="g0" sourceRef="ss" targetRef="inner"/>
  <bpmn:userTask id="inner" name="{inner}"/><bpmn:sequenceFlow id="g1" sourceRef="inner" targetRef="se"/>
  <bpmn:endEvent id="se" name="子结束"/>
</bpmn:subProcess>
<bpmn:sequenceFlow id="f1" sourceRef="sub" targetRef="{after}"/>{tail}<bpmn:endEvent id="e" name="结束"/>
</bpmn:process></bpmn:definitions>'''
STEP_D = '<bpmn:userTask id="d" name="新步骤"/><bpmn:sequenceFlow id="fd" sourceRef="d" targetRef="e"/>'


def branches(ids):
    return "".join(f'<bpmn:userTask id="{i}" name="{i}"/><bpmn:sequenceFlow id="fa{i}" sourceRef="fork" '
                   f'targetRef="{i}"/><bpmn:sequenceFlow id="fb{i}" sourceRef="{i}" targetRef="join"/>'
                   for i in ids)


def parse(xml):
    from app import engine
    return engine.parse_bpmn("t.bpmn", xml.encode("utf-8"))[0]


def complete(process, result, bpmn_id):
    from app import engine
    task = next(t for t in result.ready if t.bpmn_id == bpmn_id)
    return engine.complete_task(process, None, None, result.state, task.spiff_task_id, {})


@pytest.fixture
def half_done_parallel(app):
    from app import engine
    v1 = parse(PARALLEL.format(branches=branches("ab"), after="e", tail=""))
    return v1, complete(v1, engine.start(v1, {}), "a")   # a done: the join waits, b is READY


def test_a_waiting_join_migrates_when_its_branches_are_the_same(half_done_parallel):
    from app import engine
    v1, state = half_done_parallel
    v2 = parse(PARALLEL.format(branches=branches("ab"), after="d", tail=STEP_D))
    migration = engine.migrate(v1, v2, state.state)
    assert migration.waiting == ["b", "join"] and migration.task_ids_kept
    after_b = complete(v2, migration.result, "b")
    assert [t.bpmn_id for t in after_b.ready] == ["d"]


def test_a_waiting_join_with_a_new_branch_is_refused(half_done_parallel):
    from app import engine
    v1, state = half_done_parallel
    v3 = parse(PARALLEL.format(branches=branches("abx"), after="e", tail=""))
    with pytest.raises(engine.MigrationRefused) as refused:
        engine.migrate(v1, v3, state.state)
    assert refused.value.reasons == ["实例正在等待的步骤 join 在新版本中有改动：汇入的分支"]


def test_a_running_subprocess_continues_on_the_new_steps_after_it(app):
    from app import engine
    v1 = parse(SUBPROCESS.format(inner="内部", after="e", tail=""))
    started = engine.start(v1, {})
    assert [t.bpmn_id for t in started.ready] == ["inner"]
    v2 = parse(SUBPROCESS.format(inner="内部", after="d", tail=STEP_D))
    migration = engine.migrate(v1, v2, started.state)
    assert migration.waiting == ["inner", "sub"]
    assert [t.bpmn_id for t in complete(v2, migration.result, "inner").ready] == ["d"]
    v3 = parse(SUBPROCESS.format(inner="内部（改）", after="e", tail=""))
    with pytest.raises(engine.MigrationRefused, match="inner（内部） 在新版本中有改动：名称"):
        engine.migrate(v1, v3, started.state)
