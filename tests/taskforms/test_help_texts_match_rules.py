"""Every rule a form's help text states is either enforced by the schema or is known not to be a field
rule (issue #12, defect 8): a clause of a description / ui:help that says 须, 必须, 不得, 不能,
不超过, 最多, 必填, 仅限… must match a recognised rule whose constraint the schema has, or be listed
below with the reason no field check applies (a time limit the deadline engine runs, a gateway, a
caseworker's duty). A new rule written into a form without its constraint fails here."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from app.taskforms.schema import resolve

FORMS = Path(__file__).resolve().parents[2] / "forms"
RULE_WORDS = re.compile(r"须|必须|应当|不得|不能|不超过|最多|至少|只能|仅限|必填|不少于|不含字母")

TIME_LIMIT = "时限：由流程图中该步骤的 dueIn/计时器和期限引擎执行，不是字段规则"
ROUTING = "流程走向：由流程图的网关或脚本执行"
DUTY = "办理人的职责，表单无法校验"
EXTENSION_CAP = "流程脚本 apply_extension 按此计算实际延长天数"

# (form, field path or "" for the form, clause) -> why no field constraint applies
NOT_FIELD_RULES = {
    ("complaint/callback", "callback_note", "不得诱导诉求人作出评价（不片面追求满意率）"): DUTY,
    ("complaint/handle", "", "核查诉求反映的情况并采取处置措施，须在办理时限内完成"): TIME_LIMIT,
    ("complaint/handle", "need_extension", "不能在时限内办结的，须在到期前申请延期"): DUTY,
    ("complaint/handle", "extension_days",
     "1–30 天，按原时限的单位顺延（小时制每天按 24 小时）；按工作日计的，实际延长不超过原办理时限"): EXTENSION_CAP,
    ("complaint/joint_meeting", "",
     "同一工单第二次退单，由热线联席会议（营商环境领导小组）裁定承办单位，裁定后不得再退"): ROUTING,
    ("complaint/jw_close", "", "办结问题线索，按“三个区分开来”认定错误性质（须在查明事实后填写）"): DUTY,
    ("complaint/jw_close", "fault_distinction", "不得在事实查清前作为“挡箭牌”"): DUTY,
    ("complaint/jw_register", "", "登记问题线索；移送件须在 1 个工作日内确认接收"): TIME_LIMIT,
    ("complaint/jw_register", "real_name", "实名举报须在 15 个工作日内告知受理情况"): TIME_LIMIT,
    ("complaint/register", "", "不予受理的，须写明理由并告知诉求人正确的反映渠道"):
        "out_of_scope_reason 与 out_of_scope_advice 在不予受理时必填（allOf if/then）",
    ("complaint/reply", "", "向诉求人答复办理结果并填报，须在办理时限内完成"): TIME_LIMIT,
    ("complaint/reply", "reply_text", "向诉求人答复的完整内容，应当事实清楚、依据明确"): DUTY,
    ("complaint/reply", "reply_text", "诉求人要求保密的，答复中不得透露其身份信息"): DUTY,
    ("complaint/return_review", "", "审核承办单位的退单申请：同意的重新派单；不同意的强制派单，原单位必须办理"): ROUTING,
    ("complaint/sign_in", "", "承办单位联络员签收工单；不属于本单位职责的，可在签收时限内申请退单，须写明理由和法规依据"):
        "return_reason 与 return_basis 在申请退单时必填（allOf if/then）；签收时限由 dueIn 执行",
    ("complaint/sign_in", "return_basis", "退单必须写明职责依据（三定方案、法规条款）"):
        "申请退单时必填，至少 2 字（allOf if/then + minLength）",
    ("dispute_escalation/follow_up", "urged", "未履行或部分履行的，须先督促履行"):
        "未履行或部分履行时须勾选（allOf if/else: const true）",
    ("dispute_escalation/sme_transfer", "",
     "受理部门自正式受理之日起 10 个工作日内移交；处理部门 30 日内书面反馈，最长不超过 90 日（保障中小企业款项支付条例第二十五条）"):
        TIME_LIMIT,
    ("one_thing_transport/precheck", "missing_items", "须一次性列明全部需补正的材料"):
        "材料不齐时必填（allOf if/then）；是否“全部”列明是窗口人员的职责",
    ("one_thing_transport/rating", "", "申请人对本次办理的评价（五级）；差评须记录原因，进入整改"):
        "差评时 rating_comment 必填（allOf if/then）；整改由流程图执行",
    ("one_thing_transport/start", "vehicles[].gross_mass_kg",
     "总质量超过 4500 千克的普通货运车辆须配发道路运输证（道路运输条例第二十四条）"): ROUTING,
    ("one_thing_transport/supplement", "vehicles[].gross_mass_kg",
     "总质量超过 4500 千克的普通货运车辆须配发道路运输证（道路运输条例第二十四条）"): ROUTING,
}


def _texts():
    """(form, field path, parent object node, field name, help text) of every form's texts."""
    for path in sorted(FORMS.rglob("*.schema.json")):
        form = str(path.relative_to(FORMS))[: -len(".schema.json")]
        schema = json.loads(path.read_text(encoding="utf-8"))
        ui_path = path.with_name(path.name.replace(".schema.json", ".uischema.json"))
        ui = json.loads(ui_path.read_text(encoding="utf-8")) if ui_path.exists() else {}
        if schema.get("description"):
            yield form, "", schema, schema, None, schema["description"]
        yield from _field_texts(form, schema, schema, ui, "")


def _field_texts(form, root, node, ui, prefix):
    for name, prop in (node.get("properties") or {}).items():
        prop = resolve(prop, root)
        sub_ui = ui.get(name) if isinstance(ui.get(name), dict) else {}
        path = f"{prefix}{name}"
        for text in (prop.get("description"), sub_ui.get("ui:help"), sub_ui.get("ui:description")):
            if text:
                yield form, path, root, node, name, text
        items = resolve(prop.get("items"), root)
        if isinstance(items.get("properties"), dict):
            yield from _field_texts(form, root, items, sub_ui.get("items") or {}, f"{path}[].")


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[。]", text) if RULE_WORDS.search(c)]


def _required_somewhere(node: dict, name: str) -> bool:
    """Whether `name` is required by the object, or by one of its conditions."""
    found = False

    def walk(part: Any) -> None:
        nonlocal found
        if isinstance(part, list):
            for item in part:
                walk(item)
        elif isinstance(part, dict):
            if name in (part.get("required") or []):
                found = True
            if any(name in deps for deps in (part.get("dependentRequired") or {}).values()):
                found = True
            for key in ("allOf", "anyOf", "oneOf", "if", "then", "else", "dependentSchemas"):
                walk(part.get(key) if key != "dependentSchemas" else list((part.get(key) or {}).values()))
    walk(node)
    return found


def _constrained_by_condition(node: dict, name: str) -> bool:
    return any(name in ((part.get(branch) or {}).get("properties") or {})
               for part in node.get("allOf") or [] for branch in ("then", "else"))


def _pattern_refuses_letters(prop: dict, letters: str) -> bool:
    pattern = re.compile(prop.get("pattern") or "")
    return bool(pattern.search("A" * 17)) and all(not pattern.search("A" * 16 + letter) for letter in letters)


Check = Callable[[dict, dict, str, re.Match], bool]
RECOGNISED: list[tuple[re.Pattern, Check]] = [
    (re.compile(r"不超过 ?(\d+) ?字"), lambda p, n, name, m: p.get("maxLength") == int(m.group(1))),
    (re.compile(r"最多 ?(\d+) ?项"), lambda p, n, name, m: p.get("maxItems") == int(m.group(1))),
    (re.compile(r"不超过 ?(\d+) ?周岁"), lambda p, n, name, m: p.get("maximum") == int(m.group(1))),
    (re.compile(r"须在江门市"), lambda p, n, name, m: p.get("format") == "jiangmen-address"),
    (re.compile(r"须包含“(.+?)”"), lambda p, n, name, m: m.group(1) in (p.get("pattern") or "")),
    (re.compile(r"不能晚于(当前时间|今天)"), lambda p, n, name, m: p.get("x-notFuture") is True),
    (re.compile(r"不能包含(\S+?)$"), lambda p, n, name, m: name in (n.get("x-distinctFrom") or {})),
    (re.compile(r"不含字母 ?([A-Z、]+)"), lambda p, n, name, m: _pattern_refuses_letters(p, m.group(1).replace("、", ""))),
    (re.compile(r"仅限"), lambda p, n, name, m: _constrained_by_condition(n, name)),
    (re.compile(r"必填"), lambda p, n, name, m: _required_somewhere(n, name)),
]

CASES = [(form, path, root, node, name, clause)
         for form, path, root, node, name, text in _texts() for clause in _clauses(text)]


def test_the_audit_sees_the_rule_texts():
    assert len(CASES) > 40


@pytest.mark.parametrize("form, path, root, node, name, clause", CASES,
                         ids=[f"{c[0]}:{c[1] or '(form)'}:{c[5][:12]}" for c in CASES])
def test_each_stated_rule_is_enforced_or_known_not_to_be_a_field_rule(form, path, root, node, name, clause):
    if (form, path, clause) in NOT_FIELD_RULES:
        return
    prop = resolve((node.get("properties") or {}).get(name), root) if name else {}
    matched = [(pattern, check) for pattern, check in RECOGNISED if pattern.search(clause)]
    assert matched, f"{form}: {path or '表单说明'} states a rule no check recognises: “{clause}”"
    for pattern, check in matched:
        assert check(prop, node, name, pattern.search(clause)), \
            f"{form}: {path or '表单说明'} says “{clause}” but the schema does not enforce it"


def test_every_listed_exception_still_exists():
    stated = {(form, path, clause) for form, path, _, _, _, clause in CASES}
    assert set(NOT_FIELD_RULES) <= stated, set(NOT_FIELD_RULES) - stated
