"""A broken XML file is reported in Chinese with its line, never in libxml2's English."""
from __future__ import annotations

import re

import pytest

from app.engine import BpmnInvalid
from app.engine.definitions import parse_xml


@pytest.mark.parametrize("content, expected", [
    (b"", "文件为空"),
    (b"hello", "这不是 XML 文件"),
    (b"<a>\n<b></a>", "结束标签 </a> 与第 2 行的开始标签 <b> 不匹配"),
    (b"<a>", "文件不完整：第 1 行的标签 <a> 没有结束"),
    (b"<a></a><b/>", "根元素结束后还有多余的内容"),
    (b"<a x=1/>", "属性值须用引号括起来"),
    (b"<a x></a>", "属性 x 缺少值"),
    (b"<a>&</a>", "& 须写成 &amp;"),
    (b"<x:a/>", "命名空间前缀 x（元素 a）未声明"),
    (b"<a", "开始标签 <a> 没有写完"),
    (b"<a b='1' b='2'/>", "属性 b 重复"),
    (b"<a>\x01</a>", "控制字符"),
    (b"<a>\n\n<![CDATA[x</a>", "该处不符合 XML 语法"),
])
def test_xml_syntax_errors_are_in_chinese_with_their_line(content, expected):
    with pytest.raises(BpmnInvalid) as err:
        parse_xml(content, "x.bpmn")
    (problem,) = err.value.problems
    assert problem.message.startswith("XML 格式错误：") and expected in problem.message, problem.message
    assert problem.line and problem.file == "x.bpmn"
    # no English sentence of the library: only tag and attribute names may be in Latin letters
    assert not re.search(r"[A-Za-z]{3,} [a-z]{2,}", problem.message), problem.message
