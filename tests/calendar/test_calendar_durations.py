"""Time limits parse to (amount, unit); anything else gets an error naming the five accepted units."""
import pytest

from app.calendar.durations import Duration, DurationError, Unit, parse_duration


@pytest.mark.parametrize("text, amount, unit", [
    ("15WD", 15, Unit.WD), ("7CD", 7, Unit.CD), ("24H", 24, Unit.H), ("2WH", 2, Unit.WH),
    ("60MIN", 60, Unit.MIN), ("15wd", 15, Unit.WD), ("  7 cd ", 7, Unit.CD), ("60Min", 60, Unit.MIN),
    ("１５ＷＤ", 15, Unit.WD),  # full-width input from a Chinese IME
])
def test_accepted_forms(text, amount, unit):
    assert parse_duration(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", ["15XD", "-3WD", "", "   ", "WD", "1.5WD", "+3WD", "15", "15 W D", "PT2H", "15WD2"])
def test_bad_durations_name_the_units(text):
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    message = str(err.value)
    for unit in ("WD（工作日）", "CD（自然日）", "H（小时）", "WH（工作小时）", "MIN（分钟）"):
        assert unit in message
    assert "working days" in message and "例如 15WD" in message
    assert err.value.text == text


def test_message_quotes_the_input():
    with pytest.raises(DurationError, match="无法识别的时限“15XD”：应为正整数加单位 WD（工作日）"):
        parse_duration("15XD")
    with pytest.raises(DurationError, match="时限为空"):
        parse_duration("")


def test_zero_too_long_and_non_strings():
    with pytest.raises(DurationError, match="必须大于零"):
        parse_duration("0WD")
    with pytest.raises(DurationError, match="过长"):
        parse_duration("99999WD")
    with pytest.raises(DurationError, match="时限为空"):
        parse_duration(None)
    with pytest.raises(DurationError, match="无法识别"):
        parse_duration(15)


def test_duration_value_object():
    d = parse_duration("15WD")
    assert str(d) == "15WD" and d.label == "15个工作日" and d.is_day_unit
    assert parse_duration(d) is d
    assert Duration.from_parts(7, "cd") == Duration(7, Unit.CD)
    assert parse_duration("60MIN").label == "60分钟" and not parse_duration("24H").is_day_unit
    with pytest.raises(DurationError):
        Duration.from_parts(None, "WD")
    with pytest.raises(DurationError):
        Duration.from_parts(3, "XD")
