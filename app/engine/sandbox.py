"""Scripts and conditions from BPMN are untrusted: they run only through this sandbox (restricted, guarded, time-limited)."""
from __future__ import annotations

import ast
import builtins as _py_builtins
import functools
import json
import math
import operator
import re
import sys
import threading
import time
from typing import Any, Callable, NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_ as _RAISE,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    'SandboxError', 'SandboxViolation', 'ScriptTimeout', 'ScriptLimitExceeded',
    'SandboxEnvironment', 'SandboxScriptEngine', 'check_source', 'make_script_engine',
    'configure_script_engine', 'current_script_engine', 'ServiceFailure',
    'MAX_INT_BITS', 'MAX_REPEAT_ITEMS', 'MAX_RESULT_ITEMS', 'MAX_SOURCE_CHARS',
]

# SpiffWorkflow finds the failing line of a script by looking for this file name in the traceback
# (PythonScriptEngine.get_error_line_number_and_content), so compiled code must use it.
SCRIPT_FILENAME = '<string>'

MAX_INT_BITS = 100_000          # about 30,000 decimal digits
MAX_REPEAT_ITEMS = 1_000_000    # seq * n, range(), str.ljust()/center()/zfill() width, format width, int.to_bytes()
MAX_RESULT_ITEMS = 10_000_000   # seq + seq, str.join/replace/expandtabs/translate, list.extend, sum() of sequences
MAX_SOURCE_CHARS = 100_000
_CACHE_SIZE = 2048

# Calls refused at compile time.  Most of these are not in the sandbox builtins anyway; refusing the
# call gives the designer a clear message at deploy time instead of a NameError at run time.
_FORBIDDEN_CALLS = frozenset({
    '__import__', 'open', 'exec', 'eval', 'compile', 'getattr', 'setattr', 'delattr', 'type',
    'globals', 'locals', 'vars', 'input', 'breakpoint', 'dir', 'help', 'exit', 'quit',
    'memoryview', 'super', 'object', 'reload', 'execfile', 'file',
})


# --------------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------------

class SandboxError(Exception):
    """Base class of everything the sandbox refuses.  ``lineno`` is the script line (int) or None."""

    # no class-level default for lineno: it would hide SyntaxError's own lineno in SandboxViolation
    lineno: int | None


class SandboxViolation(SandboxError, SyntaxError):
    """Code refused before it runs (import, open(), eval(), names/attributes starting with '_', ...).

    It is also a SyntaxError on purpose: SpiffWorkflow reads ``err.lineno`` of SyntaxErrors both in
    ``PythonScriptEngine.create_task_exec_exception`` (scripts) and in ``WorkflowTaskException``
    (expressions), which is the only way to report a line for an error raised before the code ran.
    ``lineno`` is always an int >= 1 and within the script.  ``problems`` lists every problem found.
    """

    def __init__(self, problems: list[str], lineno: int, source: str = ''):
        lines = source.splitlines()
        text = lines[lineno - 1] if 0 < lineno <= len(lines) else None
        message = '；'.join(problems)
        super().__init__(message, (SCRIPT_FILENAME, lineno, 1, text, lineno, 1))
        self.problems = list(problems)

    def __str__(self) -> str:
        return self.msg

    def __reduce__(self):
        return type(self), (self.problems, self.lineno)


class ScriptTimeout(SandboxError):
    """The script or expression ran longer than the environment's time limit."""

    def __init__(self, limit: float, lineno: int | None = None):
        prefix = f'第 {lineno} 行：' if lineno else ''
        super().__init__(f'{prefix}脚本运行超过 {limit:g} 秒，已中止')
        self.limit = limit
        self.lineno = lineno

    def __reduce__(self):
        return type(self), (self.limit, self.lineno)


class ScriptLimitExceeded(SandboxError):
    """An operation would build a huge number or sequence (memory/CPU bomb); refused before running it."""

    def __init__(self, message: str, lineno: int | None = None):
        prefix = f'第 {lineno} 行：' if lineno else ''
        super().__init__(prefix + message)
        self.message = message
        self.lineno = lineno

    def __reduce__(self):
        return type(self), (self.message, self.lineno)


# --------------------------------------------------------------------------------------------------
# Run-time state (per thread) and deadline checks
# --------------------------------------------------------------------------------------------------

class _RunState(threading.local):
    deadline: float | None = None     # time.perf_counter() value, None when no sandboxed code runs
    limit: float = 0.0
    timed_out_line: int | None = None  # set when a ScriptTimeout was raised (even if the script caught it)


_state = _RunState()
_now = time.perf_counter


def _script_lineno() -> int | None:
    """Line of the innermost sandboxed frame on the stack (only used on error paths)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            return frame.f_lineno
        frame = frame.f_back
    return None


def _raise_timeout(lineno: int | None) -> None:
    st = _state
    if st.timed_out_line is None:
        st.timed_out_line = lineno or 0
    raise ScriptTimeout(st.limit, lineno)


def _tick_() -> None:
    """Injected at the top of every while body, except handler and finally block (see _SandboxPolicy).

    Needed besides the tracer: a one-line `while True: pass` produces no 'line' events, and CPython
    switches the tracer off once it has raised (so a script that catches ScriptTimeout would otherwise
    run on untraced).
    """
    deadline = _state.deadline
    if deadline is not None and _now() > deadline:
        _raise_timeout(_script_lineno())


def _make_tracer(deadline: float) -> Callable:
    def local_trace(frame, event, arg):
        if event == 'line' and _now() > deadline:
            _raise_timeout(frame.f_lineno)
        return local_trace

    def global_trace(frame, event, arg):
        # Only sandboxed code gets line events; trusted helpers and our guards run untraced.
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            return local_trace
        return None

    return global_trace


# --------------------------------------------------------------------------------------------------
# Size guards (operators are rewritten into calls to these by the policy below)
# --------------------------------------------------------------------------------------------------

_SEQ_TYPES = (str, bytes, bytearray, list, tuple)


def _limit(message: str):
    raise ScriptLimitExceeded(message, _script_lineno())


def _check_pow(base, exp) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 1:
        magnitude = abs(base)
        if magnitude > 1:
            bits = exp * math.log2(magnitude)
            if bits > MAX_INT_BITS:
                _limit(f'整数幂运算结果过大（约 {bits:.0f} 位二进制，上限 {MAX_INT_BITS} 位），已拒绝')


MAX_MODPOW_BITS = 4096   # pow(b, e, m): the result is small but the work grows with e and m


def _safe_pow_(base, exp, mod=None):
    if mod is not None:
        if any(isinstance(v, int) and v.bit_length() > MAX_MODPOW_BITS for v in (base, exp, mod)):
            _limit(f'模幂运算的操作数过大（上限 {MAX_MODPOW_BITS} 位二进制），已拒绝')
        return pow(base, exp, mod)
    _check_pow(base, exp)
    return base ** exp


_CONTAINERS = (list, tuple, dict, set, frozenset)
_RENDERING_CALLS = frozenset({'str', 'repr', 'format'})


def _rendered_items(obj, limit: int) -> int:
    """How many items str()/repr()/format() of obj would print, counting no further than just
    past `limit`. A shared sub-container is printed at every reference, so it counts every time,
    but its own size is computed once."""
    sizes: dict[int, int] = {}

    def size(container, depth: int) -> int:
        known = sizes.get(id(container))
        if known is not None:
            return known
        if depth > 200:
            return limit + 1
        total = len(container)
        children = (*container.keys(), *container.values()) if isinstance(container, dict) else container
        for child in children:
            if isinstance(child, _CONTAINERS):
                total += size(child, depth + 1)
                if total > limit:
                    break
        sizes[id(container)] = total
        return total

    return size(obj, 0)


def _check_rendered(obj) -> None:
    if isinstance(obj, _CONTAINERS) and _rendered_items(obj, MAX_RESULT_ITEMS) > MAX_RESULT_ITEMS:
        _limit(f'要转换成文本的数据过大（超过 {MAX_RESULT_ITEMS} 项），已拒绝')


def _rendered_(value):
    """Guard for f-string fields: the value itself, after the size check."""
    _check_rendered(value)
    return value


def _check_mult(a, b) -> None:
    if isinstance(a, int):
        if isinstance(b, int):
            if a and b and a.bit_length() + b.bit_length() > MAX_INT_BITS:
                _limit(f'整数乘法结果过大（超过 {MAX_INT_BITS} 位二进制），已拒绝')
            return
        a, b = b, a
    if isinstance(a, _SEQ_TYPES) and isinstance(b, int) and b > 1:
        size = len(a) * b
        if size > MAX_REPEAT_ITEMS:
            _limit(f'序列重复后将有 {size} 个元素（上限 {MAX_REPEAT_ITEMS}），已拒绝')


def _safe_mult_(a, b):
    _check_mult(a, b)
    return a * b


def _check_lshift(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        _limit(f'左移结果过大（超过 {MAX_INT_BITS} 位二进制），已拒绝')


def _safe_lshift_(a, b):
    _check_lshift(a, b)
    return a << b


def _check_add(a, b) -> None:
    if isinstance(a, _SEQ_TYPES) and isinstance(b, _SEQ_TYPES):
        size = len(a) + len(b)
        if size > MAX_RESULT_ITEMS:
            _limit(f'拼接后将有 {size} 个元素（上限 {MAX_RESULT_ITEMS}），已拒绝')


def _safe_add_(a, b):
    _check_add(a, b)
    return a + b


_BIG_NUMBER = re.compile(r'\d{7,}')
_BIG_NUMBER_B = re.compile(rb'\d{7,}')


def _check_format(fmt, args) -> None:
    """printf-style formatting: refuse widths/precisions >= 1,000,000 (e.g. '%.1000000000f' % 1)."""
    big = _BIG_NUMBER if isinstance(fmt, str) else _BIG_NUMBER_B
    if big.search(fmt):
        _limit('格式化的宽度或精度过大，已拒绝')
    star = '*' if isinstance(fmt, str) else b'*'
    if star in fmt:
        values = args if isinstance(args, tuple) else (args,)
        if any(isinstance(v, int) and abs(v) >= MAX_REPEAT_ITEMS for v in values):
            _limit('格式化的宽度或精度过大，已拒绝')


def _safe_mod_(a, b):
    if isinstance(a, (str, bytes)):
        _check_format(a, b)
        _check_rendered(b)
    return a % b


_INPLACE_OPS: dict[str, Callable] = {
    '-=': operator.isub, '/=': operator.itruediv, '//=': operator.ifloordiv, '>>=': operator.irshift,
    '&=': operator.iand, '|=': operator.ior, '^=': operator.ixor, '@=': operator.imatmul,
}


def _inplacevar_(op: str, x, y):
    """`x op= y` (RestrictedPython rewrites it to `x = _inplacevar_('op=', x, y)`), with the size guards."""
    if op == '+=':
        _check_add(x, y)
        return operator.iadd(x, y)
    if op == '*=':
        _check_mult(x, y)
        return operator.imul(x, y)
    if op == '**=':
        _check_pow(x, y)
        return operator.ipow(x, y)
    if op == '<<=':
        _check_lshift(x, y)
        return operator.ilshift(x, y)
    if op == '%=':
        if isinstance(x, (str, bytes)):
            _check_format(x, y)
        return operator.imod(x, y)
    try:
        func = _INPLACE_OPS[op]
    except KeyError:
        raise ValueError(f'不支持的增量赋值运算符 {op}') from None
    return func(x, y)


def _aug_item_(obj, key, op: str, value) -> None:
    """`obj[key] op= value`, which RestrictedPython alone refuses (counts[k] += 1 is common in scripts)."""
    full_write_guard(obj)[key] = _inplacevar_(op, obj[key], value)


def _apply_(func, *args, **kwargs):
    return func(*args, **kwargs)


def _safe_range(*args):
    r = range(*args)
    try:
        size = len(r)
    except OverflowError:               # more items than sys.maxsize
        size = (r.stop - r.start) // r.step
    if size > MAX_REPEAT_ITEMS:
        _limit(f'range() 将有 {size} 个元素（上限 {MAX_REPEAT_ITEMS}），已拒绝')
    return r


def _safe_round(number, ndigits=None):
    if ndigits is None:
        return round(number)
    # int round with a large negative ndigits computes 10 ** -ndigits first (round(5, -10**8) hangs).
    if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0:
        digits = number.bit_length() * 0.30103 + 2
        if -ndigits > digits:
            return 0
    return round(number, ndigits)


def _safe_sum(iterable, start=0):
    if isinstance(start, _SEQ_TYPES):   # sum(list_of_lists, []) concatenates in C, bypassing _safe_add_
        total = list(start) if type(start) is list else start
        for item in iterable:
            _check_add(total, item)
            if type(total) is list and type(item) is list:
                total += item             # linear, not quadratic; same result as total + item
            else:
                total = total + item
        return total
    return sum(iterable, start)


# Methods whose result size is chosen by an argument: checked before the call.
def _pad_size(obj, args, kwargs):
    width = args[0] if args else kwargs.get('width', 0)
    return width if isinstance(width, int) else 0


def _expandtabs_size(obj, args, kwargs):
    tabsize = args[0] if args else kwargs.get('tabsize', 8)
    if not isinstance(tabsize, int):
        return 0
    return len(obj) + obj.count('\t' if isinstance(obj, str) else b'\t') * max(tabsize, 0)


def _replace_size(obj, args, kwargs):
    if len(args) < 2 or not isinstance(args[0], type(obj)) or not isinstance(args[1], type(obj)):
        return 0
    old, new = args[0], args[1]
    count = args[2] if len(args) > 2 else kwargs.get('count', -1)
    n = obj.count(old) if old else len(obj) + 1
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    return len(obj) + n * (len(new) - len(old))


def _translate_size(obj, args, kwargs):
    table = args[0] if args else kwargs.get('table')
    values = table.values() if isinstance(table, dict) else table if isinstance(table, (list, tuple)) else ()
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    return len(obj) * max(longest, 1)


def _to_bytes_size(obj, args, kwargs):
    length = args[0] if args else kwargs.get('length', 1)
    return length if isinstance(length, int) else 0


def _extend_size(obj, args, kwargs):
    other = args[0] if args else None
    return len(obj) + len(other) if hasattr(other, '__len__') else 0


class _SizeCheck(NamedTuple):
    types: tuple
    size: Callable | None   # None: str.join / bytes.join, handled specially
    limit: int


_SIZE_CHECKS: dict[str, _SizeCheck] = {
    'ljust': _SizeCheck((str, bytes), _pad_size, MAX_REPEAT_ITEMS),
    'rjust': _SizeCheck((str, bytes), _pad_size, MAX_REPEAT_ITEMS),
    'center': _SizeCheck((str, bytes), _pad_size, MAX_REPEAT_ITEMS),
    'zfill': _SizeCheck((str, bytes), _pad_size, MAX_REPEAT_ITEMS),
    'expandtabs': _SizeCheck((str, bytes), _expandtabs_size, MAX_RESULT_ITEMS),
    'replace': _SizeCheck((str, bytes), _replace_size, MAX_RESULT_ITEMS),
    'translate': _SizeCheck((str,), _translate_size, MAX_RESULT_ITEMS),
    'join': _SizeCheck((str, bytes), None, MAX_RESULT_ITEMS),
    'to_bytes': _SizeCheck((int,), _to_bytes_size, MAX_REPEAT_ITEMS),
    'extend': _SizeCheck((list,), _extend_size, MAX_RESULT_ITEMS),
}


def _sized_method(check: _SizeCheck, name: str, method: Callable, bound_to=None) -> Callable:
    def call(*args, **kwargs):
        if bound_to is None:            # unbound, e.g. str.ljust('x', 10): the instance is args[0]
            if not args or not isinstance(args[0], check.types):
                return method(*args, **kwargs)
            obj, rest = args[0], args[1:]
        else:
            obj, rest = bound_to, args
        if check.size is None:          # join: materialize once, then measure
            if len(rest) != 1 or kwargs:
                return method(*args, **kwargs)      # wrong call: let str.join raise its own TypeError
            items = list(rest[0])
            size = sum(len(i) for i in items if isinstance(i, (str, bytes))) + len(obj) * max(len(items) - 1, 0)
            if size > check.limit:
                _limit(f'{name}() 的结果将有 {size} 个字符（上限 {check.limit}），已拒绝')
            return method(*args[:len(args) - len(rest)], items)
        size = check.size(obj, rest, kwargs)
        if size > check.limit:
            _limit(f'{name}() 的结果将有 {size} 个元素（上限 {check.limit}），已拒绝')
        return method(*args, **kwargs)
    return call


def _getattr_(obj, name):
    """RestrictedPython's safer_getattr (no '_' names, no str.format), raising AttributeError for
    missing attributes (safer_getattr's default would silently return None), plus size checks."""
    if name == 'mro':                   # str.mro() hands out `object`; nothing a designer needs
        raise AttributeError('不允许访问 mro')
    value = safer_getattr(obj, name, _RAISE)
    check = _SIZE_CHECKS.get(name)
    if check is not None:
        if isinstance(obj, type):
            if issubclass(obj, check.types):
                return _sized_method(check, name, value)
        elif isinstance(obj, check.types):
            return _sized_method(check, name, value, bound_to=obj)
    return value


class _DiscardPrint(PrintCollector):
    """print() in scripts goes nowhere (readable as `printed` inside the same script)."""


# --------------------------------------------------------------------------------------------------
# Builtins visible to sandboxed code
# --------------------------------------------------------------------------------------------------

_HARMLESS = ('sum', 'min', 'max', 'sorted', 'any', 'all', 'dict', 'list', 'set', 'frozenset', 'enumerate',
             'zip', 'len', 'range', 'round', 'abs', 'str', 'int', 'float', 'bool', 'isinstance', 'reversed',
             'map', 'filter', 'tuple', 'divmod')
# Removed from RestrictedPython's safe_builtins: class creation, (useless) setattr/delattr wrappers, and
# BaseException subclasses that are not Exceptions (raise SystemExit would kill a gunicorn worker).
_REMOVED = ('__build_class__', 'setattr', 'delattr', '_getattr_', 'BaseException', 'SystemExit',
            'KeyboardInterrupt', 'GeneratorExit')


def _build_builtins() -> dict[str, Any]:
    b: dict[str, Any] = {}
    b.update(safe_builtins)
    b.update(limited_builtins)
    for name in _HARMLESS:
        b[name] = getattr(_py_builtins, name)
    for name in _REMOVED:
        b.pop(name, None)
    b.update({
        'pow': _safe_pow_, 'range': _safe_range, 'round': _safe_round, 'sum': _safe_sum,
        '_rendered_': _rendered_,
        # guards: they live in __builtins__ so they need not be copied into task data on every call;
        # sandboxed code cannot name them itself (names starting with '_' are refused).
        '_getattr_': _getattr_,
        '_getitem_': operator.getitem,    # = RestrictedPython's default_guarded_getitem, but in C: a
        '_getiter_': iter,                # C guard costs no trace event (default_guarded_getiter: identity)
        '_iter_unpack_sequence_': guarded_iter_unpack_sequence,
        '_unpack_sequence_': guarded_unpack_sequence,
        '_write_': full_write_guard,
        '_inplacevar_': _inplacevar_,
        '_apply_': _apply_,
        '_print_': _DiscardPrint,
        '_safe_pow_': _safe_pow_,
        '_safe_mult_': _safe_mult_,
        '_safe_lshift_': _safe_lshift_,
        '_safe_add_': _safe_add_,
        '_safe_mod_': _safe_mod_,
        '_aug_item_': _aug_item_,
        '_tick_': _tick_,
    })
    leaked = _FORBIDDEN_CALLS.intersection(b)
    assert not leaked, leaked
    return b


_BUILTINS = _build_builtins()


# --------------------------------------------------------------------------------------------------
# Compile-time policy
# --------------------------------------------------------------------------------------------------

class _Problem(str):
    """A Chinese problem message that also remembers its line."""

    lineno: int

    def __new__(cls, lineno: int, message: str):
        self = super().__new__(cls, f'第 {lineno} 行：{message}')
        self.lineno = lineno
        return self


_NODE_NAMES = {
    'Nonlocal': 'nonlocal 语句', 'TryStar': 'except* 语句', 'AsyncFunctionDef': '异步函数',
    'Await': 'await', 'AsyncFor': 'async for', 'AsyncWith': 'async with', 'ClassDef': '类定义',
}
_TRANSLATIONS: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r'"(.+)" is an invalid variable name because it starts with "_"'),
     lambda m: f'不允许使用以下划线开头的名称 ({m[1]})'),
    (re.compile(r'"(.+)" is an invalid attribute name because it starts with "_"'),
     lambda m: f'不允许访问以下划线开头的属性 (.{m[1]})'),
    (re.compile(r'"(.+)" is an invalid (?:variable|attribute) name because it ends with "__roles__"'),
     lambda m: f'不允许使用以 __roles__ 结尾的名称 ({m[1]})'),
    (re.compile(r'"(.+)" is a restricted name'), lambda m: f'不允许访问受限属性 (.{m[1]})'),
    (re.compile(r'"(.+)" is a reserved name'), lambda m: f'不允许使用保留名称 ({m[1]})'),
    (re.compile(r'Exec calls are not allowed'), lambda m: '不允许调用 exec()'),
    (re.compile(r'Eval calls are not allowed'), lambda m: '不允许调用 eval()'),
    (re.compile(r'"\*" imports are not allowed'), lambda m: '不允许导入模块 (import *)'),
    (re.compile(r'Augmented assignment of attributes'), lambda m: '不允许对属性做增量赋值（如 a.b += 1）'),
    (re.compile(r'Augmented assignment of object items and slices'),
     lambda m: '不允许对切片做增量赋值（如 a[1:2] += x）'),
    (re.compile(r'Unpacking in comprehensions'), lambda m: '推导式中不允许使用星号解包'),
    (re.compile(r'Assignment expressions are only allowed for simple targets'),
     lambda m: '海象运算符 := 只能赋值给简单变量'),
    (re.compile(r'(\w+) statements are not allowed'),
     lambda m: f'不允许使用{_NODE_NAMES.get(m[1], "该语法")} ({m[1]})'),
]


def _translate(info: str) -> str:
    for pattern, render in _TRANSLATIONS:
        match = pattern.search(info)
        if match:
            return render(match)
    return f'不允许的写法：{info}'


def _snippet(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a valid tree should not fail
        return type(node).__name__
    text = ' '.join(text.split())
    return text if len(text) <= 60 else text[:57] + '...'


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    ast.copy_location(node, like)
    ast.fix_missing_locations(node)
    return node


def _tick_stmt(like: ast.AST) -> ast.Expr:
    node = ast.Expr(_call('_tick_', [], like))
    ast.copy_location(node, like)
    return node


_BINOP_GUARDS = {ast.Pow: '_safe_pow_', ast.Mult: '_safe_mult_', ast.LShift: '_safe_lshift_',
                 ast.Add: '_safe_add_', ast.Mod: '_safe_mod_'}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy with Chinese messages, plus: no imports, no class definitions, no calls
    to dangerous builtins, size-guarded operators, and deadline checks in loops/functions/handlers."""

    def error(self, node, info):
        self._problem(node, _translate(info))

    def _problem(self, node, message: str) -> None:
        lineno = getattr(node, 'lineno', None)
        if not isinstance(lineno, int) or lineno < 1:
            lineno = 1
        self.errors.append(_Problem(lineno, message))

    # refused outright ---------------------------------------------------------------------------
    def visit_Import(self, node):
        self._problem(node, f'不允许导入模块 ({_snippet(node)})')
        return node

    def visit_ImportFrom(self, node):
        self._problem(node, f'不允许导入模块 ({_snippet(node)})')
        return node

    def visit_ClassDef(self, node):
        self._problem(node, f'不允许定义类 (class {node.name})')
        return node

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FORBIDDEN_CALLS:
            if func.id == '__import__':
                self._problem(node, '不允许导入模块 (__import__)')
            else:
                self._problem(node, f'不允许调用 {func.id}()')
            for arg in node.args:               # still report problems inside the arguments
                self.visit(arg)
            for keyword in node.keywords:
                self.visit(keyword)
            return node
        node = super().visit_Call(node)
        if isinstance(func, ast.Name) and func.id in _RENDERING_CALLS and node.args:
            # str(x), repr(x), format(x): one C call could print a huge shared structure
            node.args[0] = _call('_rendered_', [node.args[0]], node.args[0])
        return node

    def visit_FormattedValue(self, node):
        spec = node.format_spec
        if spec is not None:
            for part in getattr(spec, 'values', [spec]):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    if _BIG_NUMBER.search(part.value):
                        self._problem(node, 'f-string 的格式宽度或精度过大')
                else:
                    self._problem(node, 'f-string 中不允许使用动态格式说明（如 {x:{w}}）')
        node = super().visit_FormattedValue(node)
        node.value = _call('_rendered_', [node.value], node)
        return node

    # size guards -----------------------------------------------------------------------------------
    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_AugAssign(self, node):
        target = node.target
        if isinstance(target, ast.Name) and type(node.op) not in _BINOP_GUARDS:
            # `n -= 1`, `flags |= x`... cannot build huge values: keep the plain in-place operation
            # instead of RestrictedPython's _inplacevar_ call (a Python call per loop iteration).
            self.check_name(target, target.id)
            node.value = self.visit(node.value)
            return node
        if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
            obj = self.visit(target.value)
            key = self.visit(target.slice)
            value = self.visit(node.value)
            op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
            new = ast.Expr(_call('_aug_item_', [obj, key, op, value], node))
            ast.copy_location(new, node)
            ast.fix_missing_locations(new)
            return new
        return super().visit_AugAssign(node)

    # deadline checks ------------------------------------------------------------------------------
    # The line tracer sees every for-loop and comprehension iteration and every function call (a new
    # frame starts with a 'line' event).  It misses a while loop whose body jumps back onto its own
    # line (`while True: pass` compiles to a single JUMP_BACKWARD): hence the tick in while bodies.
    # CPython removes a tracer that raised; if the script catches ScriptTimeout, the tick at the top
    # of the handler (or finally block) raises it again, so the exception always leaves the script.
    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_ExceptHandler(self, node):
        node = super().visit_ExceptHandler(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_Try(self, node):
        node = super().visit_Try(node)
        if node.finalbody:
            node.finalbody.insert(0, _tick_stmt(node.finalbody[0]))
        return node


# --------------------------------------------------------------------------------------------------
# Compilation (cached)
# --------------------------------------------------------------------------------------------------

class _Compiled(NamedTuple):
    code: Any
    timed: bool     # run with a deadline and the line tracer


_LOOPY = (ast.While, ast.For, ast.comprehension, ast.FunctionDef, ast.Lambda)


def _line_count(source: str) -> int:
    return max(1, len(source.splitlines()))


def _fix_syntax_error(err: SyntaxError, source: str) -> SyntaxError:
    """SpiffWorkflow needs an int lineno that points into the script (it indexes script.splitlines())."""
    lineno = err.lineno if isinstance(err.lineno, int) and err.lineno >= 1 else 1
    err.lineno = min(lineno, _line_count(source))
    return err


def _violation(problems: list[str], source: str) -> SandboxViolation:
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: getattr(p, 'lineno', 1))
    lineno = min(max(getattr(unique[0], 'lineno', 1), 1), _line_count(source))
    return SandboxViolation(unique, lineno, source)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, mode: str) -> _Compiled:
    if not isinstance(source, str):
        raise TypeError(f'脚本必须是字符串，而不是 {type(source).__name__}')
    if mode not in ('exec', 'eval'):
        raise ValueError(f"mode 必须是 'exec' 或 'eval'，而不是 {mode!r}")
    if len(source) > MAX_SOURCE_CHARS:
        raise _violation([_Problem(1, f'脚本过长（{len(source)} 个字符，上限 {MAX_SOURCE_CHARS}）')], source)
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as err:
        raise _fix_syntax_error(err, source) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise _violation([_Problem(1, f'无法解析脚本（{type(err).__name__}）')], source) from None
    timed = mode == 'exec' or any(isinstance(n, _LOOPY) for n in ast.walk(tree))
    compile_restricted = compile_restricted_exec if mode == 'exec' else compile_restricted_eval
    try:
        result = compile_restricted(tree, filename=SCRIPT_FILENAME, policy=_SandboxPolicy)
    except SyntaxError as err:          # from compile(): 'return' outside function, 'break' outside loop...
        raise _fix_syntax_error(err, source) from None
    except (RecursionError, MemoryError):
        raise _violation([_Problem(1, '脚本嵌套过深')], source) from None
    if result.errors:
        raise _violation([e if isinstance(e, _Problem) else _Problem(1, e) for e in result.errors], source)
    return _Compiled(result.code, timed)


def check_source(source: str, mode: str) -> list[str]:
    """Deploy-time check of a script ('exec') or condition/expression ('eval'). Runs nothing.

    Returns Chinese problem messages, each starting with '第 N 行：', or [] when the code is acceptable.
    """
    try:
        _compile(source, mode)
    except SandboxViolation as err:
        return list(err.problems)
    except SyntaxError as err:
        return [f'第 {err.lineno} 行：语法错误：{err.msg}']
    return []


# --------------------------------------------------------------------------------------------------
# Environment and engine
# --------------------------------------------------------------------------------------------------

class SandboxEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment whose scripts and expressions run restricted, guarded and time-limited.

    Same contract as TaskDataEnvironment: ``execute`` writes new variables into ``context`` (task data)
    and strips functions/globals afterwards; ``evaluate`` returns the value; task data that shadows a
    helper raises ValueError (``check_for_overwrite``).
    """

    def __init__(self, helpers: dict | None = None, time_limit: float = 1.0):
        helpers = dict(helpers or {})
        for name in helpers:
            if not isinstance(name, str) or not name.isidentifier() or name.startswith('_'):
                raise ValueError(f'helper 名称无效（不能以下划线开头）：{name!r}')
            if name in _FORBIDDEN_CALLS:
                raise ValueError(f'helper 名称 {name!r} 是沙箱禁止调用的名称')
        if not time_limit or time_limit <= 0:
            raise ValueError('time_limit 必须大于 0')
        self.helpers = helpers
        self.time_limit = float(time_limit)
        super().__init__({'__builtins__': _BUILTINS, **helpers})

    def evaluate(self, expression, context, external_context=None):
        compiled = _compile(expression, 'eval')
        self._prepare_context(context)
        env = self.globals.copy()
        if external_context:
            env.update(external_context)
        env.update(context)
        env['__builtins__'] = _BUILTINS
        return self._run(compiled, env)

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        compiled = _compile(script, 'exec')
        self._prepare_context(context)
        context.update(self.globals)
        if external_context:
            context.update(external_context)
        context['__builtins__'] = _BUILTINS
        try:
            self._run(compiled, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _run(self, compiled: _Compiled, env: dict):
        if not compiled.timed:          # straight-line expression: no loops, no functions -> no tracer
            return eval(compiled.code, env)
        st = _state
        saved = (st.deadline, st.limit, st.timed_out_line)
        deadline = _now() + self.time_limit
        st.deadline, st.limit, st.timed_out_line = deadline, self.time_limit, None
        previous_tracer = sys.gettrace()
        sys.settrace(_make_tracer(deadline))
        try:
            result = eval(compiled.code, env)
        finally:
            sys.settrace(previous_tracer)
            timed_out_line = st.timed_out_line
            st.deadline, st.limit, st.timed_out_line = saved
        if timed_out_line is not None:  # the script caught ScriptTimeout and finished anyway
            raise ScriptTimeout(self.time_limit, timed_out_line or None)
        return result


class ServiceFailure(Exception):
    """A connector refused or failed a service task's call; the message is Chinese, for the incident list."""


# (operator name, evaluated parameters, a copy of the task data, {"retries", "backoff"}) -> JSON-able result
ServiceCaller = Callable[[str, dict, dict, dict], Any]


class SandboxScriptEngine(PythonScriptEngine):
    """PythonScriptEngine that keeps the cause of expression errors, whose error formatter cannot
    crash on an odd line number, and whose service tasks call the application's connectors."""

    def __init__(self, *args, services: ServiceCaller | None = None, service_names=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.services = services
        self.service_names = frozenset(service_names)

    def call_service(self, task, operation_name=None, operation_params=None, **_):
        """A service task (spiffworkflow:serviceTaskOperator): the connector named by the operator.

        SpiffWorkflow's own call_service fails with a NameError; every failure here is a located
        WorkflowTaskException with a Chinese message, which the runtime turns into a ScriptError.
        """
        spec = task.task_spec
        if self.services is None:
            raise WorkflowTaskException('未配置服务连接器：服务任务无法执行', task=task)
        params = {name: (p.get('value') if isinstance(p, dict) else p)
                  for name, p in (operation_params or {}).items()}
        options = {'retries': getattr(spec, 'retries', None), 'backoff': getattr(spec, 'retry_backoff_base', None)}
        try:
            result = self.services(operation_name, params, dict(task.data), options)
        except ServiceFailure as err:
            raise WorkflowTaskException(str(err), task=task) from err
        except Exception as err:   # a deployment's own connector broke: say which, never its traceback
            raise WorkflowTaskException(
                f'连接器“{operation_name}”执行出错（{type(err).__name__}）', task=task) from err
        try:
            return json.dumps(result, ensure_ascii=False)
        except (TypeError, ValueError):
            raise WorkflowTaskException(
                f'连接器“{operation_name}”返回的结果不是 JSON 数据，无法写入流程数据', task=task) from None

    def evaluate(self, task, expression, external_context=None):
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as err:
            # PythonScriptEngine.evaluate wraps everything as "Error evaluating expression '...'" and
            # keeps only the exception's class name; add the (Chinese) reason as a note.
            cause = err.__context__
            if isinstance(cause, Exception) and not isinstance(cause, SpiffWorkflowException) \
                    and getattr(err, 'error_type', None) == type(cause).__name__:
                err.add_note(f'{type(cause).__name__}: {cause}')
            raise

    def get_error_line_number_and_content(self, script, err):
        try:
            return super().get_error_line_number_and_content(script, err)
        except (IndexError, TypeError):
            # a '<string>' frame from other code (e.g. a function kept in task data) or a lineno of None
            lineno = getattr(err, 'lineno', None)
            return (lineno if isinstance(lineno, int) else 0), ''


def make_script_engine(helpers: dict | None = None, time_limit: float = 1.0,
                       services: ServiceCaller | None = None, service_names=()) -> PythonScriptEngine:
    """The script engine to give every BpmnWorkflow (and to re-attach after deserializing one)."""
    return SandboxScriptEngine(environment=SandboxEnvironment(helpers=helpers, time_limit=time_limit),
                               services=services, service_names=service_names)


# The engine every workflow runs with, configured once by the application (its helpers and time
# limit). It lives here, below both the parser's checks (definitions) and the runner (runtime), so
# neither has to import the other to reach it.
_current: PythonScriptEngine = make_script_engine()


def configure_script_engine(helpers: dict | None = None, time_limit: float = 1.0,
                            services: ServiceCaller | None = None, service_names=()) -> PythonScriptEngine:
    """Install the helper functions scripts may call (now(), due_in(), ...), the time limit, and the
    connectors service tasks call (`services`; `service_names` are the operators deploy accepts)."""
    global _current
    _current = make_script_engine(helpers=helpers or {}, time_limit=time_limit, services=services,
                                  service_names=service_names)
    return _current


def current_script_engine() -> PythonScriptEngine:
    """The configured script engine (a default one before the application configures it)."""
    return _current
