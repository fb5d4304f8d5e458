"""Chinese ID/phone validators (GB 32100, GB 11643) and the JSON Schema format checker used by task forms."""
from __future__ import annotations

import datetime as _dt
import re
from typing import Callable

from jsonschema import FormatChecker

__all__ = [
    "is_valid_uscc", "uscc_problem",
    "is_valid_cn_id_card", "cn_id_card_problem",
    "is_valid_cn_mobile", "cn_mobile_problem",
    "is_valid_cn_phone", "cn_phone_problem",
    "is_valid_date", "is_valid_date_time", "is_valid_time",
    "JIANGMEN_DISTRICTS", "jiangmen_address_problem",
    "FORMAT_CHECKER", "FORMAT_PROBLEMS",
]

# --------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100-2015)
# --------------------------------------------------------------------------
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 chars: no I O S V Z
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARS)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1,3,9,27,19,...,28
_USCC_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
# Position 1 (登记管理部门代码): 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游,
# 7 宗教, 8 工会, 9 工商/市场监管, A 中央军委改革和编制办公室, N 农业, Y 其他.
USCC_AUTHORITY_CODES = frozenset("123456789ANY")
_USCC_FORBIDDEN = frozenset("IOSVZ")


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters (which must be valid USCC chars)."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Chinese reason why ``value`` is not a valid 统一社会信用代码, or None when it is valid."""
    if not isinstance(value, str):
        return "统一社会信用代码应为文本"
    if any(c.isspace() for c in value):
        return "统一社会信用代码不能包含空格"
    if len(value) != 18:
        return f"统一社会信用代码应为18位（当前{len(value)}位）"
    if any("a" <= c <= "z" for c in value):
        return "统一社会信用代码中的字母应为大写"
    if any(c in _USCC_FORBIDDEN for c in value):
        return "统一社会信用代码含有不允许的字符 (I、O、S、V、Z)"
    if any(c not in _USCC_VALUE for c in value):
        return "统一社会信用代码只能包含数字和大写字母"
    if not _USCC_RE.fullmatch(value):
        return "统一社会信用代码第3–8位（登记管理机关行政区划码）应为数字"
    if value[0] not in USCC_AUTHORITY_CODES:
        return "统一社会信用代码第1位（登记管理部门代码）无效"
    if uscc_check_char(value[:17]) != value[17]:
        return "统一社会信用代码校验位不正确"
    return None


def is_valid_uscc(value: str) -> bool:
    """True when ``value`` passes the regex, the position-1 code check and the mod-31 check character."""
    return uscc_problem(value) is None


# --------------------------------------------------------------------------
# 居民身份证号码 (GB 11643-1999)
# --------------------------------------------------------------------------
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2
_ID_CHECK_MAP = "10X98765432"
_ID_MIN_BIRTH = _dt.date(1900, 1, 1)
_DIGITS17_RE = re.compile(r"[0-9]{17}")
_DIGITS_RE = re.compile(r"[0-9]+")


def id_card_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits."""
    return _ID_CHECK_MAP[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def cn_id_card_problem(value: str, today: _dt.date | None = None) -> str | None:
    """Chinese reason why ``value`` is not a valid 18-digit 居民身份证号码, or None when it is valid.

    ``today`` (default: the local date) bounds the birth date from above.
    A lowercase ``x`` check character is rejected with a dedicated message.
    """
    if not isinstance(value, str):
        return "身份证号码应为文本"
    if any(c.isspace() for c in value):
        return "身份证号码不能包含空格"
    if len(value) != 18:
        if len(value) == 15 and _DIGITS_RE.fullmatch(value):
            return "不支持15位旧版身份证号码，请填写18位号码"
        return f"身份证号码应为18位（当前{len(value)}位）"
    if not _DIGITS17_RE.fullmatch(value[:17]):
        return "身份证号码前17位应为数字"
    if value[17] == "x":
        return "身份证号码末位应为大写字母 X（不能用小写 x）"
    if value[17] not in "0123456789X":
        return "身份证号码末位应为数字或 X"
    ymd = value[6:14]
    try:
        born = _dt.date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        return f"身份证号码中的出生日期无效（{ymd[:4]}-{ymd[4:6]}-{ymd[6:]} 不存在）"
    if born < _ID_MIN_BIRTH:
        return "身份证号码中的出生日期早于1900年"
    if born > (today or _dt.date.today()):
        return "身份证号码中的出生日期晚于今天"
    if id_card_check_char(value[:17]) != value[17]:
        return "身份证号码校验位不正确"
    return None


def is_valid_cn_id_card(value: str, today: _dt.date | None = None) -> bool:
    """True for an 18-character GB 11643 number with a real birth date (1900-01-01 .. today) and a correct check char."""
    return cn_id_card_problem(value, today) is None


# --------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------
MOBILE_RE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$", re.ASCII)
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$", re.ASCII)
_CC_PREFIX_RE = re.compile(r"^\+?86[- ]?")
_LANDLINE_SPLIT_RE = re.compile(r"(0[0-9]{2,3})-([0-9]+)")


def is_valid_cn_mobile(value: str) -> bool:
    """True for a mainland mobile number, optionally prefixed by 86/+86 (with an optional space or dash)."""
    return isinstance(value, str) and MOBILE_RE.fullmatch(value) is not None


def cn_mobile_problem(value: str) -> str | None:
    """Chinese reason why ``value`` is not a mainland mobile number, or None when it is valid."""
    if not isinstance(value, str):
        return "手机号码应为文本"
    if is_valid_cn_mobile(value):
        return None
    rest = _CC_PREFIX_RE.sub("", value, count=1) if value.startswith(("+", "86")) else value
    if not _DIGITS_RE.fullmatch(rest):
        return "手机号码只能包含数字（可带 +86 前缀）"
    if len(rest) != 11:
        return f"手机号码应为11位数字（当前{len(rest)}位）"
    if not ("3" <= rest[1] <= "9" and rest[0] == "1"):
        return "手机号码应以13–19开头"
    return "手机号码格式不正确"  # pragma: no cover - the checks above are exhaustive


def is_valid_cn_phone(value: str) -> bool:
    """True for a mainland mobile number or a landline such as 0750-3271234 / 07503271234."""
    return isinstance(value, str) and (
        MOBILE_RE.fullmatch(value) is not None or LANDLINE_RE.fullmatch(value) is not None
    )


def cn_phone_problem(value: str) -> str | None:
    """Chinese reason why ``value`` is neither a mobile nor a landline number, or None when it is valid."""
    if not isinstance(value, str):
        return "电话号码应为文本"
    if is_valid_cn_phone(value):
        return None
    if value.startswith("0"):
        m = _LANDLINE_SPLIT_RE.fullmatch(value)
        if m and not 7 <= len(m.group(2)) <= 8:
            return "固定电话号码（区号后）应为7–8位数字，如 0750-3271234"
        return "固定电话格式不正确（应为区号+7–8位号码，如 0750-3271234）"
    if value.startswith(("1", "+", "86")):
        return cn_mobile_problem(value)
    return "电话号码应为手机号码或固定电话（如 13800000001、0750-3271234）"


# --------------------------------------------------------------------------
# Addresses within Jiangmen (江门市, 440700)
# --------------------------------------------------------------------------
JIANGMEN_DISTRICTS = ("蓬江区", "江海区", "新会区", "台山市", "开平市", "鹤山市", "恩平市")


# an address starts with its city (after 广东省): 江门, or a district / county-level city of it, with
# or without 区/市 (北京市江门路 names 江门 but is not in Jiangmen)
_JIANGMEN_START = re.compile(r"(?:广东省?)?\s*(?:江门|" + "|".join(n[:-1] for n in JIANGMEN_DISTRICTS) + ")")


def jiangmen_address_problem(value: str) -> str | None:
    """Chinese reason why ``value`` is not an address within Jiangmen, or None: an address is within
    Jiangmen when it starts (after 广东省) with 江门 or one of its districts and county-level cities
    (DOMAIN §5)."""
    if not isinstance(value, str):
        return "地址应为文本"
    if _JIANGMEN_START.match(value.strip()):
        return None
    return f"须在江门市辖区内（应写明江门市或{'、'.join(JIANGMEN_DISTRICTS)}）"


# --------------------------------------------------------------------------
# RFC 3339 date / date-time / time (stock jsonschema skips date-time without optional packages)
# --------------------------------------------------------------------------
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_PART = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]+))?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
_DATE_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]" + _TIME_PART)
_TIME_RE = re.compile(_TIME_PART)


def _iso_fixup(value: str, frac: str | None) -> str:
    """Normalise an RFC 3339 string so that ``fromisoformat`` accepts it (Z suffix, >6 fraction digits)."""
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    if frac and len(frac) > 6:
        value = value.replace("." + frac, "." + frac[:6], 1)
    return value


def is_valid_date(value) -> bool:
    """RFC 3339 full-date (YYYY-MM-DD, must exist). Non-strings pass (format only constrains strings)."""
    if not isinstance(value, str):
        return True
    if not _DATE_RE.fullmatch(value):
        return False
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_valid_date_time(value) -> bool:
    """RFC 3339 date-time with seconds and a mandatory offset, e.g. 2025-09-29T10:12:00+08:00."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME_RE.fullmatch(value)
    if not m:
        return False
    try:
        _dt.datetime.fromisoformat(_iso_fixup(value[:10] + "T" + value[11:], m.group(1)))
    except ValueError:
        return False
    return True


def is_valid_time(value) -> bool:
    """RFC 3339 full-time with a mandatory offset, e.g. 10:12:00+08:00 or 02:12:00Z."""
    if not isinstance(value, str):
        return True
    m = _TIME_RE.fullmatch(value)
    if not m:
        return False
    try:
        _dt.time.fromisoformat(_iso_fixup(value, m.group(1)))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------
# jsonschema FormatChecker
# --------------------------------------------------------------------------
#: format name -> function returning a Chinese reason (or None) for a string value
FORMAT_PROBLEMS: dict[str, Callable[[str], str | None]] = {
    "uscc": uscc_problem,
    "cn-id-card": cn_id_card_problem,
    "cn-mobile": cn_mobile_problem,
    "cn-phone": cn_phone_problem,
    "jiangmen-address": jiangmen_address_problem,
}


def _strings_only(problem: Callable[[str], str | None]) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        return not isinstance(value, str) or problem(value) is None
    check.__name__ = f"check_{problem.__name__}"
    return check


FORMAT_CHECKER = FormatChecker()  # instance copy of all stock checkers; registrations below stay local
FORMAT_CHECKER.checks("date")(is_valid_date)
FORMAT_CHECKER.checks("date-time")(is_valid_date_time)
FORMAT_CHECKER.checks("time")(is_valid_time)
for _name, _problem in FORMAT_PROBLEMS.items():
    FORMAT_CHECKER.checks(_name)(_strings_only(_problem))
del _name, _problem
