"""JUEL (Camunda 7's expression language) translated to sandboxed Python, once, at deploy.

Camunda diagrams write conditions and properties as `${amount > 1000}`, `${approved}`,
`${a == 'x' && b}`, `#{...}`, with `!`, `||`, `eq/ne/lt/gt/le/ge/and/or/not/empty/div/mod`, the
ternary `c ? a : b`, property access `order.amount` and indexes `items[0]`. Those become Python the
RestrictedPython engine (app/engine/sandbox.py) evaluates over the task data, so the runtime only
ever sees Python. What has no Python meaning here (Java method calls, Camunda's engine objects such
as `execution`, lambdas, assignments) is refused with a Chinese reason: `JuelError`.

Pure functions; no SpiffWorkflow, no Flask.
"""
from __future__ import annotations

import keyword
import re

__all__ = ["JuelError", "is_expression", "translate", "translate_bare", "translate_value"]


class JuelError(ValueError):
    """A JUEL expression that cannot be translated; `message` is for the designer (Chinese)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|&&|\|\||->|\+=|[-+*/%<>!?:.,\[\](){}=;&|])
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
""", re.VERBOSE)

_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
             "le": "<=", "ge": ">=", "div": "/", "mod": "%"}
_LITERALS = {"true": "True", "false": "False", "null": "None"}
# Camunda's engine objects and multi-instance counters: there is nothing like them in this engine
_ENGINE_NAMES = {
    "execution": "execution（Camunda 的执行对象）", "task": "task（Camunda 的任务对象）",
    "authenticatedUserId": "authenticatedUserId（当前登录用户）",
    "nrOfInstances": "nrOfInstances（多实例计数）", "nrOfActiveInstances": "nrOfActiveInstances（多实例计数）",
    "nrOfCompletedInstances": "nrOfCompletedInstances（多实例计数）", "loopCounter": "loopCounter（多实例计数）",
    "variables": "variables", "connector": "connector", "externalTask": "externalTask",
}
# methods of Java collections and strings with a Python equivalent: name -> (arity, template)
_METHODS = {
    "size": (0, "len({0})"), "length": (0, "len({0})"), "isEmpty": (0, "(len({0}) == 0)"),
    "contains": (1, "({1} in {0})"), "equals": (1, "({0} == {1})"),
    "startsWith": (1, "{0}.startswith({1})"), "endsWith": (1, "{0}.endswith({1})"),
    "toUpperCase": (0, "{0}.upper()"), "toLowerCase": (0, "{0}.lower()"), "trim": (0, "{0}.strip()"),
}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def is_expression(text: str | None) -> bool:
    """Whether the text holds a JUEL `${...}` or `#{...}` expression."""
    return bool(text) and ("${" in text or "#{" in text)


def _tokens(source: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None:
            raise JuelError(f"无法识别的字符“{source[at]}”（第 {at + 1} 个字符）")
        at = match.end()
        kind = match.lastgroup
        if kind == "space":
            continue
        text = match.group()
        if kind == "name" and text in _WORD_OPS:
            kind, text = "op", _WORD_OPS[text]
        tokens.append((kind, text))
    tokens.append(("end", ""))
    return tokens


def _string_literal(token: str) -> str:
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
            continue
        out.append(char)
        i += 1
    return repr("".join(out))


class _Parser:
    """Recursive descent over JUEL's grammar, emitting Python source (every operation parenthesised)."""

    def __init__(self, source: str):
        self.tokens = _tokens(source)
        self.at = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def accept(self, *ops: str) -> str | None:
        kind, text = self.peek()
        if kind == "op" and text in ops:
            self.at += 1
            return text
        return None

    def expect(self, op: str) -> None:
        if self.accept(op) is None:
            kind, text = self.peek()
            found = "表达式结尾" if kind == "end" else f"“{text}”"
            raise JuelError(f"此处应为“{op}”，实际是{found}")

    def parse(self) -> str:
        if self.peek()[0] == "end":
            raise JuelError("表达式为空")
        result = self.ternary()
        kind, text = self.peek()
        if kind != "end":
            raise JuelError(_unsupported_op(text) or f"表达式在“{text}”处多出内容")
        return result

    def ternary(self) -> str:
        condition = self.binary(0)
        if self.accept("?"):
            then = self.ternary()
            self.expect(":")
            otherwise = self.ternary()
            return f"({then} if {condition} else {otherwise})"
        return condition

    _LEVELS = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]
    _PYTHON = {"||": "or", "&&": "and"}

    def binary(self, level: int) -> str:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            op = self.accept(*self._LEVELS[level])
            if op is None:
                return left
            right = self.binary(level + 1)
            left = f"({left} {self._PYTHON.get(op, op)} {right})"

    def unary(self) -> str:
        if self.accept("!"):
            return f"(not {self.unary()})"
        if self.accept("-"):
            return f"(-{self.unary()})"
        kind, text = self.peek()
        if kind == "name" and text == "empty":
            self.take()
            operand = self.unary()
            return f"({operand} is None or {operand} == '' or {operand} == [] or {operand} == {{}})"
        return self.value()

    def value(self) -> str:
        result = self.primary()
        while True:
            if self.accept("."):
                kind, name = self.take()
                if kind != "name":
                    raise JuelError("“.”之后应为属性名")
                if self.accept("("):
                    if name not in _METHODS and not (result == "execution" and name == "getVariable"):
                        raise JuelError(f"不支持调用方法 {name}()：Camunda 中的 Java 方法和 Bean 无法在本系统执行，"
                                        "请改用变量、比较和逻辑运算，或在脚本任务中用 Python 计算")
                    result = self.method(result, name, self.arguments())
                else:
                    result = f"{result}[{name!r}]"
            elif self.accept("["):
                index = self.ternary()
                self.expect("]")
                result = f"{result}[{index}]"
            else:
                return result

    def arguments(self) -> list[str]:
        args = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.ternary())
            if self.accept(")"):
                return args
            self.expect(",")

    def method(self, target: str, name: str, args: list[str]) -> str:
        if target == "execution" and name == "getVariable" and len(args) == 1:
            literal = args[0]
            if literal[:1] in "'\"" and literal[1:-1].isidentifier():
                return _python_name(literal[1:-1])
        known = _METHODS.get(name)
        if known is None or known[0] != len(args):
            raise JuelError(f"不支持调用方法 {name}()：Camunda 中的 Java 方法无法在本系统执行，"
                            "请改用变量、比较和逻辑运算，或在脚本任务中用 Python 计算")
        return known[1].format(target, *args)

    def primary(self) -> str:
        kind, text = self.take()
        if kind == "number":
            return text
        if kind == "string":
            return _string_literal(text)
        if kind == "name":
            if text in _LITERALS:
                return _LITERALS[text]
            if text == "instanceof":
                raise JuelError("不支持 instanceof")
            if self.peek() == ("op", "("):
                raise JuelError(f"不支持调用函数 {text}()：Camunda 的函数和 Bean 无法在本系统执行，"
                                "请改用变量、比较和逻辑运算")
            if self.peek() == ("op", ":") and self.peek(1)[0] == "name":
                raise JuelError(f"不支持带前缀的函数 {text}:…()")
            if text in _ENGINE_NAMES:
                if text == "execution" and self.peek(1) == ("name", "getVariable"):
                    return text   # execution.getVariable('x'): the method turns it into x
                raise JuelError(f"不支持 Camunda 的引擎变量 {_ENGINE_NAMES[text]}")
            return _python_name(text)
        if kind == "op" and text == "(":
            inner = self.ternary()
            self.expect(")")
            return inner
        if kind == "op" and text == "[":
            raise JuelError("不支持列表字面量 [...]")
        if kind == "op" and text == "{":
            raise JuelError("不支持集合/映射字面量 {...}")
        if kind == "end":
            raise JuelError("表达式不完整")
        raise JuelError(_unsupported_op(text) or f"此处不应出现“{text}”")


def _unsupported_op(text: str) -> str | None:
    return {"->": "不支持 lambda 表达式（->）", "=": "不支持赋值（=）：比较请写 ==", "+=": "不支持字符串拼接运算 +=",
            ";": "不支持多条语句（;）", "&": "不支持位运算 &：逻辑与请写 && 或 and",
            "|": "不支持位运算 |：逻辑或请写 || 或 or", "instanceof": "不支持 instanceof"}.get(text)


def _python_name(name: str) -> str:
    if "$" in name:
        raise JuelError(f"变量名 {name} 含 $：本系统的变量名只含英文字母、数字和下划线")
    if keyword.iskeyword(name) or name in ("True", "False", "None"):
        raise JuelError(f"变量名 {name} 是 Python 保留字：请改名")
    return name


def translate_bare(expression: str) -> str:
    """A JUEL expression without its `${}` (a DMN input expression) -> Python source."""
    return _strip_parens(_Parser(expression).parse())


def _strip_parens(source: str) -> str:
    if source.startswith("(") and source.endswith(")"):
        depth = 0
        for i, char in enumerate(source):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(source) - 1:
                return source
        return source[1:-1]
    return source


def _parts(text: str) -> list[tuple[bool, str]]:
    """Split composite text into (is_expression, text) parts; `${` inside quotes does not close."""
    parts, at = [], 0
    while at < len(text):
        start = min((i for i in (text.find("${", at), text.find("#{", at)) if i >= 0), default=-1)
        if start < 0:
            parts.append((False, text[at:]))
            break
        if start > at:
            parts.append((False, text[at:start]))
        i, depth, quote = start + 2, 1, None
        while i < len(text):
            char = text[i]
            if quote:
                if char == "\\":
                    i += 1
                elif char == quote:
                    quote = None
            elif char in "'\"":
                quote = char
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if i >= len(text):
            raise JuelError("表达式缺少右花括号 }")
        parts.append((True, text[start + 2:i]))
        at = i + 1
    return parts


def translate(text: str) -> str:
    """A condition or expression written `${...}` / `#{...}` -> Python source.

    Text around the expression (a composite like `Hello ${name}`) becomes string concatenation.
    Raises JuelError when the text holds no expression or one that cannot be translated.
    """
    parts = _parts((text or "").strip())
    if not any(is_expr for is_expr, _ in parts):
        raise JuelError("不是 JUEL 表达式：应写成 ${...}")
    if len(parts) == 1:
        return translate_bare(parts[0][1])
    pieces = [f"str({translate_bare(body)})" if is_expr else repr(body) for is_expr, body in parts]
    return " + ".join(pieces)


def translate_value(text: str | None) -> str:
    """A value (an input/output parameter): an expression, else the text as a string constant."""
    if text is None:
        return "None"
    if is_expression(text):
        return translate(text)
    return repr(text)
