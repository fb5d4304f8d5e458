"""The JUEL translator (app/engine/juel.py): each common Camunda form becomes Python that the sandbox
evaluates to what Camunda would; each form with no Python meaning is refused with its reason."""
from __future__ import annotations

import pytest

from app.engine.juel import JuelError, is_expression, translate, translate_bare, translate_value
from app.engine.sandbox import check_source, current_script_engine


def run(python: str, data: dict):
    assert check_source(python, "eval") == [], python
    return current_script_engine().environment.evaluate(python, dict(data))


@pytest.mark.parametrize("juel, python", [
    ("${amount > 1000}", "amount > 1000"),
    ("${approved}", "approved"),
    ("${a == 'x' && b}", "(a == 'x') and b"),
    ("#{a == 'x' && b}", "(a == 'x') and b"),
    ("${!approved}", "not approved"),
    ("${a || b}", "a or b"),
    ("${a eq 1 and b ne 2}", "(a == 1) and (b != 2)"),
    ("${a lt 1 or a gt 9}", "(a < 1) or (a > 9)"),
    ("${a le 1 && a ge 0}", "(a <= 1) and (a >= 0)"),
    ("${not approved}", "not approved"),
    ("${empty name}", "name is None or name == '' or name == [] or name == {}"),
    ("${not empty name}", "not (name is None or name == '' or name == [] or name == {})"),
    ("${total div 2 mod 3}", "(total / 2) % 3"),
    ("${(a || b) && c}", "(a or b) and c"),
    ("${ok ? 'yes' : 'no'}", "'yes' if ok else 'no'"),
    ("${order.amount >= 100}", "order['amount'] >= 100"),
    ("${items[0] == \"x\"}", "items[0] == 'x'"),
    ("${execution.getVariable('myDate')}", "myDate"),
    ("${list.size() > 0}", "len(list) > 0"),
    ("${clarified.equals('yes')}", "clarified == 'yes'"),
    ("${tags.contains('urgent')}", "'urgent' in tags"),
    ("${x == null}", "x == None"),
    ("${flag == true}", "flag == True"),
    ("${-n < 0}", "(-n) < 0"),
    ("${ 'it\\'s' }", "\"it's\""),
])
def test_each_form_is_translated(juel, python):
    assert translate(juel) == python
    assert check_source(python, "eval") == []


@pytest.mark.parametrize("juel, data, expected", [
    ("${amount > 1000}", {"amount": 1500}, True),
    ("${amount > 1000}", {"amount": 999}, False),
    ("${a == 'x' && b}", {"a": "x", "b": True}, True),
    ("${a == 'x' && b}", {"a": "y", "b": True}, False),
    ("${!approved || amount lt 10}", {"approved": True, "amount": 5}, True),
    ("${empty comment}", {"comment": ""}, True),
    ("${empty comment}", {"comment": []}, True),
    ("${empty comment}", {"comment": 0}, False),
    ("${empty comment}", {"comment": None}, True),
    ("${order.amount ge 100 and order.items.size() == 2}", {"order": {"amount": 100, "items": [1, 2]}}, True),
    ("${ok ? 'yes' : 'no'}", {"ok": False}, "no"),
    ("${amount div 4}", {"amount": 10}, 2.5),
    ("${amount mod 4}", {"amount": 10}, 2),
    ("${clarified.equals('yes')}", {"clarified": "yes"}, True),
    ("${code.startsWith('JM') && code.endsWith('9')}", {"code": "JM-0009"}, True),
    ("${tags.contains('urgent') || tags.isEmpty()}", {"tags": ["late"]}, False),
    ("${name.trim().toUpperCase()}", {"name": " ab "}, "AB"),
    ("${execution.getVariable('amount') > 5}", {"amount": 6}, True),
])
def test_translations_evaluate_as_camunda_would(juel, data, expected):
    assert run(translate(juel), data) == expected


def test_composite_text_becomes_string_concatenation():
    python = translate("审批人：${name}，金额 ${amount} 元")
    assert run(python, {"name": "张三", "amount": 5}) == "审批人：张三，金额 5 元"


def test_a_brace_inside_a_string_does_not_close_the_expression():
    assert translate("${a == '}'}") == "a == '}'"


def test_values_without_an_expression_are_string_constants():
    assert translate_value("公文") == "'公文'"
    assert translate_value(None) == "None"
    assert translate_value("${true}") == "True"


def test_a_bare_expression_is_translated_without_braces():
    assert translate_bare("invoice.amount") == "invoice['amount']"
    assert is_expression("${x}") and is_expression("#{x}") and not is_expression("x")


@pytest.mark.parametrize("juel, message", [
    ("${myBean.resolveCollection(execution)}", "不支持调用方法 resolveCollection()"),
    ("${now()}", "不支持调用函数 now()"),
    ("${dateTime().plusDays(2).toDate()}", "不支持调用函数 dateTime()"),
    ("${fn:toUpperCase(name)}", "不支持带前缀的函数 fn:…()"),
    ("${execution}", "不支持 Camunda 的引擎变量 execution"),
    ("${execution.processBusinessKey}", "不支持 Camunda 的引擎变量 execution"),
    ("${task.assignee}", "不支持 Camunda 的引擎变量 task"),
    ("${nrOfCompletedInstances / nrOfInstances >= 0.6}", "nrOfCompletedInstances（多实例计数）"),
    ("${loopCounter}", "loopCounter"),
    ("${authenticatedUserId}", "authenticatedUserId"),
    ("${x -> x + 1}", "不支持 lambda 表达式（->）"),
    ("${a = 1}", "不支持赋值（=）"),
    ("${a; b}", "不支持多条语句（;）"),
    ("${a & b}", "不支持位运算 &"),
    ("${a instanceof b}", "不支持 instanceof"),
    ("${[1, 2]}", "不支持列表字面量"),
    ("${{'a': 1}}", "不支持集合/映射字面量"),
    ("${class == 1}", "变量名 class 是 Python 保留字"),
    ("${my$var}", "含 $"),
    ("${a @ b}", "无法识别的字符“@”"),
    ("${}", "表达式为空"),
    ("${a >}", "表达式不完整"),
    ("${(a}", "此处应为“)”"),
    ("${a b}", "多出内容"),
    ("${a", "缺少右花括号"),
    ("amount > 1000", "不是 JUEL 表达式"),
])
def test_each_untranslatable_form_is_refused_with_its_reason(juel, message):
    with pytest.raises(JuelError) as caught:
        translate(juel)
    assert message in caught.value.message
