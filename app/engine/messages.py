"""SpiffWorkflow's parser messages (English) in Chinese for a designer, with whether the structural
checks (app/engine/structure.py) already say the same thing. Applied where the parser's failure is
worded (definitions.check_bpmn), so validate, deploy and the CLI all show the Chinese."""
from __future__ import annotations

import re

def _local_name(qualified: str) -> str:
    return qualified.rsplit("}", 1)[-1]


# (the parser's English, its Chinese, whether a structural problem says the same thing)
_ENGINE_MESSAGES = [
    (r"When looking for a task spec, we found two items.*?\((?P<id>[^)]*)\)",
     "顺序流指向的元素 {id} 不存在，或有重复的 id", True),
    (r"The attribute '(?P<attr>sourceRef|targetRef|attachedToRef)' is required but missing", "缺少属性 {attr}", True),
    (r"The attribute '(?P<attr>[^']+)' is required but missing", "缺少必填属性 {attr}", False),
    (r"'(?P<id>[^']*)' is not a valid value of the atomic type 'xs:ID'",
     "id “{id}” 无效或重复：id 须唯一，以英文字母或下划线开头", True),
    (r"'(?P<id>[^']*)' is not a valid value of the atomic type 'xs:IDREF'",
     "引用的 id “{id}” 无效：id 须以英文字母或下划线开头，只含英文字母、数字、下划线、连字符和点", False),
    (r"No start event found", "流程没有开始事件", True),
    (r"Multiple outgoing flows are not supported for tasks of type",
     "任务有多条出口顺序流：引擎不支持从任务直接分支，请在任务后加一个网关（排他或并行）来分支", False),
    (r"Non-default exclusive outgoing sequence flow without condition", "排他网关的出口流没有条件，也不是默认流", False),
    (r"There is no support implemented for this task type", "引擎不支持这种元素类型：请改用受支持的任务、网关或事件", False),
    (r"The process '(?P<id>[^']*)' was not found", "找不到流程 {id}：调用活动的 calledElement 须是本模型的文件中或已部署的某个流程的 id", False),
    (r'No DMN Diagram available with id "(?P<id>[^"]*)"', "找不到决策表 {id}：bpmn/ 目录中没有该 DMN 决策", False),
    (r"Process (?P<id>\S+) is not executable", "流程 {id} 不可执行（isExecutable 为 false）", False),
    (r"Duplicate process ID: (?P<id>[^.\s]+)", "流程 id {id} 重复", True),
    (r"No matching global declaration available for the validation root",
     "这不是 BPMN 2.0 文件：根元素应为 bpmn:definitions", False),
    (r"Element '(?P<el>[^']*)', attribute '(?P<attr>[^']*)': The attribute '[^']*' is not allowed",
     "元素 {el} 不允许有属性 {attr}", False),
    (r'No "calledElement" attribute for Call Activity', "调用活动没有 calledElement 属性：请选择要调用的流程", False),
    (r"Time Specification Error", "定时事件没有设置时间：请填写时长、日期时间或循环周期", False),
    (r"A multiinstance task must specify a cardinality or a loop input data reference",
     "多实例任务须设置实例数（loopCardinality）或输入集合（loopDataInputRef）", False),
    (r"Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)",
     "子流程须有且只有一个开始事件（现有 {n} 个）", False),
    (r"raise_validation_exception\(\) got an unexpected keyword argument",
     "引擎无法读取事件定义：请检查它引用的消息、信号或错误是否存在", True),
    (r"object has no attribute 'event_definition'",
     "基于事件的网关之后只能是中间捕获事件或接收任务", True),
    (r"A Service Task must have an operator",
     "服务任务没有配置连接器：请在 spiffworkflow:serviceTaskOperator 中写明要调用的连接器（如 http）", False),
    (r"Element '(?P<el>[^']*)': This element is not expected",
     "元素 {el} 不符合 BPMN 2.0 规范：这里不允许该元素（是否拼写错误，或放错了位置？）", False),
]
_ENGINE_PATTERNS = [(re.compile(p), chinese, explained) for p, chinese, explained in _ENGINE_MESSAGES]


def engine_message_in_chinese(message: str) -> tuple[str, bool]:
    """The parser's (English) message for a designer, and whether a structural problem says the same."""
    for pattern, chinese, explained in _ENGINE_PATTERNS:
        found = pattern.search(message)
        if found:
            values = {k: _local_name(v) for k, v in found.groupdict().items()}
            return chinese.format(**values), explained
    return f"引擎无法读取该流程图（原文：{re.sub(r'{[^}]*}', '', message)}）", False


# Run-time failures (a script, a condition, a gateway, a connector): what a supervisor or designer
# reads in the incident list. The English of Python and SpiffWorkflow, in Chinese; names kept.
_RUNTIME_MESSAGES = [
    (r"name '(?P<name>\w+)' is not defined", "变量 {name} 未定义：流程数据中没有它"),
    (r"(?:float |integer )?division (?:or modulo )?by zero", "除数为零"),
    (r"unsupported operand type\(s\) for (?P<op>\S+): '(?P<a>\w+)' and '(?P<b>\w+)'",
     "运算 {op} 两边的类型不匹配（{a} 与 {b}）"),
    (r"can only concatenate (?P<a>\w+) \(not \"(?P<b>\w+)\"\) to \w+", "不能把 {b} 拼接到 {a} 上：类型不匹配"),
    (r"'(?P<a>\w+)' object is not subscriptable", "{a} 类型的值不能用下标取值"),
    (r"'(?P<a>\w+)' object has no attribute '(?P<attr>\w+)'", "{a} 类型的值没有属性 {attr}"),
    (r"'(?P<a>\w+)' not supported between instances of '(?P<x>\w+)' and '(?P<y>\w+)'",
     "比较 {a} 两边的类型不匹配（{x} 与 {y}）"),
    (r"KeyError:\s*'?(?P<key>[^'.\s]+)'?", "数据中没有键 {key}"),
    (r"No conditions satisfied on gateway", "网关的所有出口条件都不成立，且没有默认流"),
    (r"Missing data input", "缺少输入数据"),
    (r"Missing data ouput", "缺少输出数据"),
    (r"list index out of range", "列表下标越界"),
]
_SCRIPT_PLACES = {"Error occurred in the Post-Script": "后置脚本", "Error occurred in the Pre-Script": "前置脚本"}
_RUNTIME_PATTERNS = [(re.compile(p), chinese) for p, chinese in _RUNTIME_MESSAGES]
_ERROR_TYPES = {"NameError": "名称错误", "KeyError": "键错误", "TypeError": "类型错误", "ValueError": "值错误",
                "ZeroDivisionError": "除零错误", "AttributeError": "属性错误", "IndexError": "下标错误"}


def runtime_message_in_chinese(message: str) -> str:
    """A run-time failure's message for people: Chinese as it is, else the known English translated,
    else its type's Chinese name with the (unquoted) original kept for the designer."""
    text, where = message.strip(), ""
    for english, chinese in _SCRIPT_PLACES.items():
        if english in text:
            text, where = text.replace(english, "").strip(" .。"), f"（{chinese}）"
    for pattern, chinese in _RUNTIME_PATTERNS:
        found = pattern.search(text)
        if found:
            return chinese.format(**found.groupdict()) + where
    if re.search(r"[\u4e00-\u9fff]", text):
        return text + where
    kind, _, rest = text.partition(": ")
    if kind in _ERROR_TYPES:
        return f"{_ERROR_TYPES[kind]}（{rest or kind}）{where}"
    return f"引擎执行出错（{text}）{where}"


# lxml's XML syntax errors (libxml2's English), for the designer: the line is given beside them.
_XML_MESSAGES = [
    (r"Document is empty", "文件为空"),
    (r"Start tag expected, '<' not found", "这不是 XML 文件：开头应为 <"),
    (r"Opening and ending tag mismatch: (?P<a>\S+) line (?P<n>\d+) and (?P<b>\S+?),",
     "结束标签 </{b}> 与第 {n} 行的开始标签 <{a}> 不匹配"),
    (r"Premature end of data in tag (?P<a>\S+) line (?P<n>\d+)", "文件不完整：第 {n} 行的标签 <{a}> 没有结束"),
    (r"Couldn't find end of Start Tag (?P<a>\S+) line (?P<n>\d+)", "第 {n} 行的开始标签 <{a}> 没有写完（缺少 >）"),
    (r"Extra content at the end of the document", "根元素结束后还有多余的内容"),
    (r"AttValue: \" or ' expected", "属性值须用引号括起来"),
    (r"Specification mandates value for attribute (?P<a>\S+?),", "属性 {a} 缺少值（应写成 {a}=\"…\"）"),
    (r"xmlParseEntityRef: no name|EntityRef: expecting ';'", "& 须写成 &amp;"),
    (r"Namespace prefix (?P<p>\S+) on (?P<a>\S+) is not defined", "命名空间前缀 {p}（元素 {a}）未声明"),
    (r"Attribute (?P<a>\S+) redefined", "属性 {a} 重复"),
    (r"invalid Char value", "含有 XML 不允许的控制字符"),
    (r"Input is not proper UTF-8", "文件编码不是 UTF-8"),
]
_XML_PATTERNS = [(re.compile(p), chinese) for p, chinese in _XML_MESSAGES]


def xml_message_in_chinese(message: str) -> str:
    """An XML syntax error in Chinese; an unknown one says where, never libxml2's English."""
    for pattern, chinese in _XML_PATTERNS:
        found = pattern.search(message)
        if found:
            return chinese.format(**found.groupdict())
    column = re.search(r"column (\d+)", message)
    return f"该处不符合 XML 语法{f'（第 {column.group(1)} 列附近）' if column else ''}"
