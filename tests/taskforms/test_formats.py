"""Tests for app.taskforms.formats: USCC, resident ID, phone validators and the format checker."""
import datetime as dt

import jsonschema
from jsonschema.exceptions import FormatError
import pytest

from app.taskforms.formats import (
    FORMAT_CHECKER,
    cn_id_card_problem,
    cn_mobile_problem,
    cn_phone_problem,
    is_valid_cn_id_card,
    is_valid_cn_mobile,
    is_valid_cn_phone,
    is_valid_uscc,
    uscc_problem,
)

# Independent re-implementation of the check characters (DOMAIN.md §7), so the tests
# do not trust the module's own helpers when building test vectors.
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def uscc_with_check(first17):
    s = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_W))
    return first17 + _USCC_CHARS[(31 - s % 31) % 31]


def id_with_check(first17):
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _ID_W)) % 11]


VALID_USCC = [
    "91440703MAKLKB3T82",  # §6.1
    "91440704MAMM04DN9H",  # §6.1
    "91440705MAQ6QQN17D",  # §6.1
    "91440784MA9QK8KL7L",  # §6.2
    "91440781MAHY40XE5Q",  # §6.3
    "914403001922038216",  # real-world vector §7.1
    "91440300708461136T",  # real-world vector §7.1
    "91350100M000100Y43",  # GB 32100 explainer worked example
]
VALID_IDS = [
    "440703197211142916",
    "44070419880306182X",
    "440705197407256475",
    "440784198405193570",  # §6.2 driver
    "11010519491231002X",  # GB 11643 test vector
]


# ----------------------------------------------------------------------------- USCC
@pytest.mark.parametrize("code", VALID_USCC)
def test_valid_uscc(code):
    assert uscc_problem(code) is None
    assert is_valid_uscc(code) is True


def test_test_helper_agrees_with_samples():
    for code in VALID_USCC:
        assert uscc_with_check(code[:17]) == code
    for idno in VALID_IDS:
        assert id_with_check(idno[:17]) == idno


@pytest.mark.parametrize(
    "code, reason",
    [
        ("91440703MAKLKB3T83", "校验位不正确"),  # wrong check char
        ("91350100M000100Y4Z", "不允许的字符 (I、O、S、V、Z)"),  # GB explainer: Z never valid
        ("91440703MAKLKB3I82", "不允许的字符 (I、O、S、V、Z)"),  # forbidden letter I
        ("91440703OAKLKB3T82", "不允许的字符 (I、O、S、V、Z)"),  # forbidden letter O
        ("91440703MAKLKB3T8", "应为18位"),  # 17 chars
        ("91440703MAKLKB3T821", "应为18位"),  # 19 chars
        ("", "应为18位"),
        ("91440703makLKB3T82", "大写"),
        ("91440703MAKLKB3T8-", "只能包含数字和大写字母"),
        (" 1440703MAKLKB3T82", "空格"),
        ("9144A703MAKLKB3T82", "第3–8位"),
    ],
)
def test_invalid_uscc_reasons(code, reason):
    problem = uscc_problem(code)
    assert problem is not None and reason in problem
    assert problem.startswith("统一社会信用代码")
    assert is_valid_uscc(code) is False


def test_uscc_position1_must_be_registration_authority():
    # 'B' is in the USCC character set but is not an allowed 登记管理部门代码
    code = uscc_with_check("B1440703MAKLKB3T8")
    assert "第1位" in uscc_problem(code)
    assert not is_valid_uscc(code)
    for first in "123456789ANY":
        assert is_valid_uscc(uscc_with_check(first + "1440703MAKLKB3T8")), first


def test_every_single_character_substitution_is_detected():
    code = "91440703MAKLKB3T82"
    for pos in range(18):
        for ch in _USCC_CHARS:
            if ch != code[pos]:
                mutated = code[:pos] + ch + code[pos + 1:]
                if pos in range(2, 8) and not ch.isdigit():
                    continue  # caught by the region-code rule instead
                assert not is_valid_uscc(mutated), mutated


def test_uscc_non_string():
    assert is_valid_uscc(None) is False
    assert uscc_problem(91440703) is not None


# ------------------------------------------------------------------------ ID card
@pytest.mark.parametrize("idno", VALID_IDS)
def test_valid_id_cards(idno):
    assert cn_id_card_problem(idno) is None
    assert is_valid_cn_id_card(idno) is True


def test_id_card_wrong_check_digit():
    assert "校验位不正确" in cn_id_card_problem("440703197211142917")
    assert not is_valid_cn_id_card("440703197211142917")


def test_id_card_lowercase_x_is_rejected_with_reason():
    problem = cn_id_card_problem("11010519491231002x")
    assert problem is not None and "大写" in problem and "x" in problem
    assert not is_valid_cn_id_card("11010519491231002x")


def test_id_card_30_february():
    idno = id_with_check("44070319900230123")  # correct check digit, impossible date
    problem = cn_id_card_problem(idno)
    assert problem is not None and "出生日期无效" in problem and "1990-02-30" in problem


def test_id_card_future_birth_date():
    idno = id_with_check("44070320990101123")
    assert "晚于今天" in cn_id_card_problem(idno)
    # the same number is fine once "today" is past the birth date
    assert cn_id_card_problem(idno, today=dt.date(2100, 1, 1)) is None
    # and a birth date one day after an explicit today is rejected
    tomorrow_born = id_with_check("44070320250602123")
    assert "晚于今天" in cn_id_card_problem(tomorrow_born, today=dt.date(2025, 6, 1))
    assert cn_id_card_problem(tomorrow_born, today=dt.date(2025, 6, 2)) is None


def test_id_card_before_1900():
    assert "1900" in cn_id_card_problem(id_with_check("44070318991231123"))
    assert cn_id_card_problem(id_with_check("44070319000101123")) is None


@pytest.mark.parametrize(
    "idno, reason",
    [
        ("44070319721114291", "应为18位"),
        ("4407031972111429160", "应为18位"),
        ("440703721114291", "15位"),
        ("44070319721114291A", "末位应为数字或 X"),
        ("4407031972111429X6", "前17位应为数字"),
        ("44070319721114291 ", "空格"),
    ],
)
def test_id_card_format_reasons(idno, reason):
    problem = cn_id_card_problem(idno)
    assert problem is not None and reason in problem
    assert not is_valid_cn_id_card(idno)


# --------------------------------------------------------------------------- phones
@pytest.mark.parametrize("number", ["13800000001", "+86 13900000002", "+8613800000001", "8613800000001",
                                    "86-19912345678"])
def test_valid_mobiles(number):
    assert is_valid_cn_mobile(number)
    assert cn_mobile_problem(number) is None
    assert is_valid_cn_phone(number)
    assert cn_phone_problem(number) is None


@pytest.mark.parametrize("number", ["0750-3271234", "07503271234", "020-12345678", "0750-32712345"])
def test_valid_landlines(number):
    assert is_valid_cn_phone(number)
    assert cn_phone_problem(number) is None
    assert not is_valid_cn_mobile(number)
    assert cn_mobile_problem(number) is not None


@pytest.mark.parametrize(
    "number, reason",
    [
        ("12800000000", "13–19"),
        ("1380000000", "11位"),
        ("138000000011", "11位"),
        ("1380000000a", "只能包含数字"),
    ],
)
def test_invalid_mobiles(number, reason):
    assert not is_valid_cn_mobile(number)
    assert reason in cn_mobile_problem(number)
    assert not is_valid_cn_phone(number)
    assert reason in cn_phone_problem(number)


@pytest.mark.parametrize(
    "number, reason",
    [
        ("0750-12", "7–8位"),
        ("0750-123456789", "7–8位"),
        ("0750 3271234", "固定电话格式不正确"),
        ("7503271234", "手机号码或固定电话"),
        ("", "手机号码或固定电话"),
    ],
)
def test_invalid_phones(number, reason):
    assert not is_valid_cn_phone(number)
    problem = cn_phone_problem(number)
    assert problem is not None and reason in problem


# ------------------------------------------------------------------- format checker
@pytest.mark.parametrize(
    "fmt, good, bad",
    [
        ("uscc", "91440703MAKLKB3T82", "91440703MAKLKB3T83"),
        ("cn-id-card", "44070419880306182X", "44070419880306182x"),
        ("cn-mobile", "+86 13900000002", "12800000000"),
        ("cn-phone", "0750-3271234", "0750-12"),
        ("date", "2025-09-29", "2025-02-30"),
        ("date", "2024-02-29", "2025/09/29"),
        ("date", "2025-09-29", "20250929"),
        ("date-time", "2025-09-29T10:12:00+08:00", "2025-09-29T10:12:00"),
        ("date-time", "2025-09-29T02:12:00.123Z", "2025-09-29 10:12:00+08:00"),
        ("date-time", "2025-09-29T10:12:00+08:00", "2025-09-29T25:12:00+08:00"),
        ("date-time", "2025-09-29T10:12:00+08:00", "not a date"),
        ("time", "10:12:00+08:00", "10:12"),
        ("time", "23:59:59Z", "24:00:00Z"),
        ("email", "a@example.com", "no-at-sign"),
    ],
)
def test_format_checker(fmt, good, bad):
    assert FORMAT_CHECKER.conforms(good, fmt)
    assert not FORMAT_CHECKER.conforms(bad, fmt)
    with pytest.raises(FormatError):
        FORMAT_CHECKER.check(bad, fmt)


def test_format_checker_ignores_non_strings():
    for fmt in ("uscc", "cn-id-card", "cn-mobile", "cn-phone", "date", "date-time", "time"):
        assert FORMAT_CHECKER.conforms(12345, fmt)
        assert FORMAT_CHECKER.conforms(None, fmt)


def test_format_checker_used_by_jsonschema_validator():
    validator = jsonschema.Draft202012Validator({"type": "string", "format": "date-time"},
                                                format_checker=FORMAT_CHECKER)
    assert validator.is_valid("2025-09-29T10:12:00+08:00")
    assert not validator.is_valid("yesterday")


def test_global_format_checker_not_polluted():
    assert "uscc" not in jsonschema.FormatChecker().checkers
