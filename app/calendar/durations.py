"""Time limits as written in process definitions and case data: a positive whole number and one of five units."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    """DOMAIN §1.1: the statute decides the unit; the engine never infers it."""

    WD = "WD"    # 工作日: State Council calendar, 调休 make-up days count
    CD = "CD"    # 自然日 ("日"): rolls forward off a rest day (民法典 §203)
    H = "H"      # clock hours
    WH = "WH"    # working hours: office hours on working days
    MIN = "MIN"  # clock minutes


UNIT_LABELS = {Unit.WD: "工作日", Unit.CD: "自然日", Unit.H: "小时", Unit.WH: "工作小时", Unit.MIN: "分钟"}

_LABEL_FORMATS = {Unit.WD: "{}个工作日", Unit.CD: "{}日", Unit.H: "{}小时", Unit.WH: "{}个工作小时", Unit.MIN: "{}分钟"}

# Upper bounds (about ten years each) so a typo such as 150000WD cannot walk the calendar for minutes.
MAX_AMOUNT = {Unit.WD: 2500, Unit.CD: 3660, Unit.H: 87840, Unit.WH: 20000, Unit.MIN: 5270400}

ACCEPTED_ZH = "、".join(f"{u.value}（{UNIT_LABELS[u]}）" for u in Unit)
ACCEPTED_EN = "WD (working days), CD (calendar days), H (hours), WH (working hours) or MIN (minutes)"

_PATTERN = re.compile(r"([0-9]+)\s*(WD|CD|WH|H|MIN)", re.ASCII)


class DurationError(ValueError):
    """A time limit that cannot be read; the message names the accepted units (Chinese, then English)."""

    def __init__(self, text: str, chinese: str, english: str):
        self.text = text
        self.chinese = chinese   # for the Chinese pages; the CLI shows both
        super().__init__(f"{chinese} / {english}")


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Unit

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"

    @property
    def label(self) -> str:
        """Chinese wording for forms and notices, e.g. 15个工作日, 7日, 60分钟."""
        return _LABEL_FORMATS[self.unit].format(self.amount)

    @property
    def is_day_unit(self) -> bool:
        return self.unit in (Unit.WD, Unit.CD)

    @classmethod
    def from_parts(cls, amount, unit) -> Duration:
        """From case data (DOMAIN §6.1 `limit_value`, `limit_unit`); same checks as parse_duration."""
        return parse_duration(f"{'' if amount is None else amount}{'' if unit is None else unit}")


def _unrecognised(text: str) -> DurationError:
    shown = text if len(text) <= 40 else text[:40] + "…"
    head = f"无法识别的时限“{shown}”" if text.strip() else "时限为空"
    head_en = f"unrecognised time limit '{shown}'" if text.strip() else "the time limit is empty"
    return DurationError(
        text, f"{head}：应为正整数加单位 {ACCEPTED_ZH}，例如 15WD",
        f"{head_en}: expected a positive whole number followed by {ACCEPTED_EN}, e.g. 15WD")


def parse_duration(text) -> Duration:
    """`15WD`, `7cd`, ` 24 H `, `2WH`, `60MIN` (full-width characters accepted) -> Duration.

    Raises DurationError for anything else: an unknown unit, a sign, a fraction, zero, an empty
    string, or an amount beyond about ten years.
    """
    if isinstance(text, Duration):
        return text
    if not isinstance(text, str):
        raise _unrecognised("" if text is None else str(text))
    normalised = unicodedata.normalize("NFKC", text).strip().upper()
    match = _PATTERN.fullmatch(normalised)
    if not match:
        raise _unrecognised(text)
    amount, unit = int(match.group(1)), Unit(match.group(2))
    if amount <= 0:
        raise DurationError(
            text, f"时限“{text.strip()}”必须大于零：应为正整数加单位 {ACCEPTED_ZH}，例如 15WD",
            f"the time limit '{text.strip()}' must be greater than zero")
    if amount > MAX_AMOUNT[unit]:
        raise DurationError(
            text, f"时限“{text.strip()}”过长：{unit.value}（{UNIT_LABELS[unit]}）最多 {MAX_AMOUNT[unit]}",
            f"the time limit '{text.strip()}' is too long: at most {MAX_AMOUNT[unit]}{unit.value}")
    return Duration(amount, unit)
