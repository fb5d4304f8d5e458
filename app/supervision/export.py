"""Exports of the supervision lists (overdue, due soon, KPIs, incidents) to CSV and XLSX.

The rows come from the same service functions as the page and the API, so an export holds exactly
what the user may see, masked the same way. CSV is UTF-8 with a BOM (Excel then reads Chinese);
cells that a spreadsheet would run as a formula are defused with a leading apostrophe. People read
them: units, channels and groups by their titles (app/labels), never their codes.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from app import labels
from app.auth.models import User
from app.db import utcnow
from app.errors import AppError
from app.supervision import kpis as kpi_service
from app.supervision import queries
from app.supervision.queries import Filters, local_text

FORMATS = ("csv", "xlsx")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_ROWS = 50_000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Column:
    header: str
    value: Callable[[dict], object]


@dataclass
class Export:
    content: bytes
    mimetype: str
    filename: str


def _get(key: str) -> Callable[[dict], object]:
    return lambda row: row.get(key)


def _when(key: str) -> Callable[[dict], object]:
    return lambda row: local_text(row.get(key))


def _yes(key: str) -> Callable[[dict], object]:
    return lambda row: "是" if row.get(key) else "否"


TASK_COLUMNS = [
    Column("任务编号", _get("task_id")), Column("案件编号", _get("case_number")), Column("案件标题", _get("case_title")),
    Column("流程", _get("process_title")), Column("环节", _get("task_name")),
    Column("承办单位", _get("unit_title")), Column("区县", _get("district")), Column("渠道", _get("channel_title")),
    Column("企业名称", _get("company_name")), Column("办理人", _get("assignee_name")),
    Column("候选用户组", _get("groups_title")),
    Column("创建时间", _when("created_at")), Column("办理时限", _when("due_at")),
    Column("时限为暂定", _yes("provisional")), Column("状态", _get("sla_label")),
    Column("超期小时", _get("hours_over")), Column("超期工作日", _get("working_days_over")),
    Column("已到督办环节", _get("escalation_label")), Column("督办期限", _when("supervise_deadline")),
]
KPI_COLUMNS = [
    Column("流程", _get("process_title")), Column("指标", _get("name")), Column("数值", _get("display")),
    Column("分子", _get("numerator")), Column("分母", _get("denominator")), Column("计算口径", _get("formula")),
    Column("说明", _get("explanation")),
]
INCIDENT_COLUMNS = [
    Column("类型", lambda r: "作业失败" if r["source"] == "job" else "脚本错误"), Column("编号", _get("id")),
    Column("异常种类", _get("kind_label")), Column("发生时间", _when("created_at")),
    Column("案件编号", _get("case_number")), Column("承办单位", _get("unit_title")),
    Column("流程", lambda r: queries.PROCESS_TITLES.get(r.get("process_key"), r.get("process_key"))),
    Column("环节", _get("task_name")), Column("出错元素", _get("element")), Column("行号", _get("line")),
    Column("已尝试次数", _get("attempts")), Column("错误信息", _get("message")),
]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_text(value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value    # CSV/formula injection: a spreadsheet must show it, not run it
    return value


def render(columns: list[Column], rows: list[dict], fmt: str, title: str) -> bytes:
    """The rows as a CSV (UTF-8 with BOM) or XLSX file. Raises AppError for another format."""
    table = [[_cell(c.value(row)) for c in columns] for row in rows]
    headers = [c.header for c in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows(table)
        return buffer.getvalue().encode("utf-8-sig")
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=title[:31])
        bold = Font(bold=True)
        header_cells = []
        for text in headers:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for line in table:
            sheet.append(line)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    raise AppError("导出格式只能是 csv 或 xlsx", fields={"format": ["可选：csv、xlsx"]})


def _package(columns, rows, fmt: str, name: str, title: str, now: datetime) -> Export:
    if fmt not in FORMATS:
        raise AppError("导出格式只能是 csv 或 xlsx", fields={"format": ["可选：csv、xlsx"]})
    stamp = local_text(now).replace("-", "").replace(" ", "-").replace(":", "")
    return Export(render(columns, rows, fmt, title), MIME[fmt], f"{name}-{stamp}.{fmt}")


def _titled(rows: list[dict]) -> list[dict]:
    """The rows with their codes' titles beside them (unit_title, channel_title, groups_title): an
    export is read by people; the rows themselves keep the codes (the API returns them)."""
    groups = labels.group_titles()
    channels = labels.latest_field_options("channel")
    return [{**row, "unit_title": groups.get(row.get("unit"), row.get("unit")),
             "channel_title": channels.get(row.get("channel"), row.get("channel")),
             "groups_title": labels.groups_text(row.get("candidate_groups"), groups)} for row in rows]


def _check_size(total: int) -> None:
    if total > MAX_ROWS:
        raise AppError(f"共 {total} 行，超过单次导出上限 {MAX_ROWS} 行，请缩小筛选范围", code="too_many_rows")


def export_tasks(user: User, kind: str, fmt: str, filters: Filters | None = None, *, sort: str = "due_at",
                 within: str | None = None, now: datetime | None = None) -> Export:
    """The whole overdue / due-soon list (all pages) the user may see. Raises Forbidden, AppError."""
    now = now or utcnow()
    _check_size(queries.list_tasks(user, kind, filters, sort=sort, within=within, now=now, per_page=1).total)
    page = queries.list_tasks(user, kind, filters, sort=sort, within=within, now=now, limit=MAX_ROWS)
    name = "overdue" if kind == "overdue" else "due-soon"
    return _package(TASK_COLUMNS, _titled(page.items), fmt, name, queries.KIND_TITLES[kind], now)


def export_kpis(user: User, fmt: str, start, end, process: str | None = None, *,
                now: datetime | None = None) -> Export:
    """The KPI table of the period. Raises Forbidden, AppError."""
    now = now or utcnow()
    result = kpi_service.compute_kpis(user, start, end, process, now=now)
    return _package(KPI_COLUMNS, result["kpis"], fmt, "kpis", "督办指标", now)


def export_incidents(user: User, fmt: str, *, now: datetime | None = None) -> Export:
    """Every open incident and script error the user may see. Raises Forbidden, AppError."""
    now = now or utcnow()
    page = queries.list_incidents(user, limit=MAX_ROWS)
    _check_size(page.total)
    return _package(INCIDENT_COLUMNS, _titled(page.items), fmt, "incidents", "流程异常", now)
