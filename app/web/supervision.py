"""The supervisor dashboard pages (issue #6): overdue and due-soon lists, KPI tiles, charts, the
diagram heat map, and the 催办/督办/reassign/extension/retry actions.

Thin views over app/supervision (dashboard, queries, kpis, actions, export): the same functions the
JSON API under /api/v1/supervision calls, so the page and the API show the same numbers. Every
action is a plain POST form (CSRF token, then a 303 redirect with a message); on bad input the
dashboard is rendered again with the message at the field and everything typed kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.calendar import SHANGHAI
from app.db import utcnow
from app.errors import Conflict, FormInvalid, NotFound, ProcessDefinitionError
from app.numbers import page_number
from app.supervision import actions, export, kpis, queries
from app.supervision.access import Scope, supervision_scope
from app.supervision.dashboard import Overview, overview
from app.supervision.queries import local_text
from app.web import queries as web_queries

bp = Blueprint("supervision_web", __name__, url_prefix="/supervision")

TABS = {"overdue": "超期", "due_soon": "临期", "incidents": "异常"}
SORT_LABELS = {"due_at": "到期时间（最早在前）", "-due_at": "到期时间（最晚在前）", "-priority": "优先级（高在前）",
               "created_at": "创建时间（最早在前）", "-created_at": "创建时间（最新在前）", "case": "案件编号"}
PER_PAGE = 20
MAX_PERIOD_DAYS = 366
TASK_ACTIONS = ("remind", "supervise", "reassign", "extension")
#: the exports the page offers: {name: what its links export (their label)}
EXPORTS = {"overdue": "超期任务", "due_soon": "临期任务", "incidents": "流程异常", "kpis": "指标"}
ACTION_TITLES = {"remind": "催办", "supervise": "督办", "reassign": "改派", "extension": "延期审批",
                 "retry": "重试"}
_ARG_KEYS = ("start", "end", "unit", "district", "process", "channel", "step", "escalation", "tab", "sort",
             "page", "heat")


def _user():
    return current_user._get_current_object()


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def month_period(today: date) -> tuple[date, date]:
    """The current month: its first and last day (both included)."""
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


# --- the query string ------------------------------------------------------------------------------

@dataclass
class DashboardArgs:
    """The dashboard's query parameters. A bad value is reported at its field and replaced by its
    default: the page always renders."""

    start: date
    end: date                         # included (the services take the day after)
    unit: str = ""
    district: str = ""
    process: str = ""
    channel: str = ""
    step: str = ""
    escalation: str = ""
    tab: str = "overdue"
    sort: str = "due_at"
    page: int = 1
    heat: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    default_period: tuple[date, date] | None = None

    @classmethod
    def parse(cls, args, scope: Scope, today: date) -> DashboardArgs:
        errors: dict[str, list[str]] = {}
        default_start, default_end = month_period(today)

        def day(name: str, default: date) -> date:
            text = (args.get(name) or "").strip()
            if not text:
                return default
            try:
                value = date.fromisoformat(text)
            except ValueError:
                errors[name] = ["日期格式应为 YYYY-MM-DD"]
                return default
            if not queries.in_year_range(value):   # 9999-12-31 has no next day to end the period with
                errors[name] = [queries.YEAR_RANGE_MESSAGE]
                return default
            return value
        start, end = day("start", default_start), day("end", default_end)
        if end < start:
            errors["end"] = ["结束日期不能早于开始日期"]
            start, end = default_start, default_end
        elif (end - start).days >= MAX_PERIOD_DAYS:
            errors["end"] = [f"统计区间不能超过 {MAX_PERIOD_DAYS} 天"]
            start, end = default_start, default_end

        def text(name: str, limit: int = 100) -> str:
            return (args.get(name) or "").strip()[:limit]
        unit = text("unit")
        if unit and not scope.covers_unit(unit):
            errors["unit"] = ["不在您督办的单位范围内，已显示全部可督办单位"]
            unit = ""
        escalation = text("escalation")
        if escalation and escalation not in (*queries.ESCALATION_LABELS, "none"):
            errors["escalation"] = ["取值无效"]
            escalation = ""
        tab = text("tab") if text("tab") in TABS else "overdue"
        sort = text("sort") if text("sort") in SORT_LABELS else "due_at"
        page = page_number(args.get("page"))
        return cls(start=start, end=end, unit=unit, district=text("district", 40), process=text("process"),
                   channel=text("channel", 40), step=text("step"), escalation=escalation, tab=tab, sort=sort,
                   page=page, heat=text("heat"), errors=errors, default_period=(default_start, default_end))

    @property
    def end_exclusive(self) -> date:
        return self.end + timedelta(days=1)

    @property
    def list_filters(self) -> queries.Filters:
        """The filters of the overdue / due-soon lists (the charts keep unit, district, process and
        channel of them: queries.chart_filters)."""
        return queries.Filters.from_mapping({"unit": self.unit, "district": self.district, "process": self.process,
                                             "channel": self.channel, "step": self.step,
                                             "escalation": self.escalation})

    def query(self, **changes) -> dict:
        """The query parameters (with changes), defaults left out, for links and form actions."""
        values = {"start": self.start.isoformat(), "end": self.end.isoformat(), "unit": self.unit,
                  "district": self.district, "process": self.process, "channel": self.channel, "step": self.step,
                  "escalation": self.escalation, "tab": self.tab, "sort": self.sort, "page": self.page,
                  "heat": self.heat, **changes}
        if self.default_period and values["start"] == self.default_period[0].isoformat() \
                and values["end"] == self.default_period[1].isoformat():
            values["start"] = values["end"] = ""
        defaults = {"tab": "overdue", "sort": "due_at", "page": 1}
        return {k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v}

    @property
    def is_filtered(self) -> bool:
        return any((self.unit, self.district, self.process, self.channel))


@dataclass
class ActionError:
    """A refused action, shown again at its form with what was typed."""

    kind: str               # "task" or "incident" / "instance"
    target: int
    action: str
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    found: bool = True      # the row is still in the list (else the message says so at the top)

    def on(self, kind: str, target: int, action: str | None = None) -> bool:
        return self.kind == kind and self.target == target and (action is None or self.action == action)

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


# --- the page ------------------------------------------------------------------------------------------

def _presets(today: date) -> list[tuple[str, date, date]]:
    this_start, this_end = month_period(today)
    last_end = this_start - timedelta(days=1)
    return [("本月", this_start, this_end), ("上月", last_end.replace(day=1), last_end),
            ("近 30 天", today - timedelta(days=29), today), ("本年", today.replace(month=1, day=1), today)]


def _chart_data(data: Overview, args: DashboardArgs) -> dict:
    """The numbers the charts draw (dashboard.js), and where the heat map reads its diagram."""
    weeks = data.trend["weeks"]
    return {
        "trend": {"labels": [w["label"] for w in weeks], "received": [w["received"] for w in weeks],
                  "closed": [w["closed"] for w in weeks], "overdue": [w["overdue"] for w in weeks]},
        "units": {"labels": [g["label"] for g in data.by_unit], "counts": [g["count"] for g in data.by_unit]},
        "heat": {"process": data.heat_process,
                 "url": url_for("supervision_web.heatmap", **args.query(heat=data.heat_process, tab=None, page=None,
                                                                        sort=None, step=None, escalation=None)),
                 "steps": data.heat["steps"] if data.heat else []},
    }


def _still_listed(data: Overview, error: ActionError) -> bool:
    """Whether the row a refused action was on is on the page (its form then shows the message)."""
    if error.kind == "task":
        return data.shows_task(error.target)
    return data.shows_incident("job" if error.kind == "incident" else "script", error.target)


def dashboard_context(user, args: DashboardArgs, now: datetime, action_error: ActionError | None = None) -> dict:
    choices = web_queries.filter_choices()
    data = overview(user, start=args.start, end=args.end_exclusive, filters=args.list_filters,
                    tab=args.tab, sort=args.sort, page=args.page, per_page=PER_PAGE,
                    processes=[key for key, _ in choices.processes], heat=args.heat, now=now)
    if action_error is not None:
        action_error.found = _still_listed(data, action_error)
    return {**data.context(), "args": args, "choices": choices, "chart_data": _chart_data(data, args), "now": now,
            "presets": _presets(_today()), "tabs": TABS, "sorts": SORT_LABELS, "export_titles": EXPORTS,
            "escalations": queries.ESCALATION_LABELS, "action_error": action_error,
            "max_extension_days": actions.MAX_EXTENSION_DAYS,
            "min_deadline": now.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
            "default_deadline": _default_deadline(now),
            "page_url": lambda number: url_for("supervision_web.dashboard", **args.query(page=number),
                                               _anchor="lists")}


def _default_deadline(now: datetime) -> str:
    """A suggestion for the 督办 deadline: two days from now at 17:30 (the person can change it)."""
    local = (now + timedelta(days=2)).astimezone(SHANGHAI)
    return local.replace(hour=17, minute=30, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")


def _render(args: DashboardArgs, *, action_error: ActionError | None = None, status: int = 200):
    context = dashboard_context(_user(), args, utcnow(), action_error)
    return render_template("supervision/dashboard.html", **context), status


def _args() -> DashboardArgs:
    return DashboardArgs.parse(request.args, supervision_scope(_user()), _today())


@bp.get("")
@login_required
def dashboard():
    return _render(_args())


@bp.get("/heatmap.json")
@login_required
def heatmap():
    """The heat map's diagram and counts (the same numbers as /api/v1/supervision/heatmap)."""
    args = _args()
    process = request.args.get("heat") or args.process
    heat = queries.step_heat(_user(), process, args.list_filters, with_diagram=True)   # charts drop step, rung
    return jsonify({**heat, "now": heat["now"].isoformat()})


@bp.get("/export/<string:name>.<string:fmt>")
@login_required
def export_file(name: str, fmt: str):
    """A list as CSV or XLSX with the page's filters: the same export functions as the API."""
    if name not in EXPORTS or fmt not in export.FORMATS:
        raise NotFound("没有这种导出")
    args = _args()
    if args.errors:   # a file must hold what was asked for, not the defaults the page falls back to
        raise FormInvalid("筛选条件有误，未导出", fields=args.errors)
    if name in ("overdue", "due_soon"):
        result = export.export_tasks(_user(), name, fmt, args.list_filters, sort=args.sort)
    elif name == "incidents":
        result = export.export_incidents(_user(), fmt)
    else:
        result = export.export_kpis(_user(), fmt, args.start, args.end_exclusive, args.process or None
                                    if args.process in kpis.PROCESSES else None)
    response = Response(result.content, content_type=result.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- actions ---------------------------------------------------------------------------------------

def _told(result: actions.ActionResult) -> str:
    count = len(result.notified)
    return f"已通知 {count} 人" if count else "没有需要通知的人员"


# an action's message is shown above the lists, where the redirect lands (#lists); the copy base.html
# puts at the top of the page is hidden by dashboard.css (.alert.action)
ACTION_FLASH = "success action"


def _back(args: DashboardArgs):
    return redirect(url_for("supervision_web.dashboard", **args.query(), _anchor="lists"), code=303)


def _refused(args: DashboardArgs, exc, kind: str, target: int, action: str, values: dict):
    fields = exc.fields if isinstance(exc, FormInvalid) and exc.fields else {}
    status = exc.status if exc.status < 500 else 409
    error = ActionError(kind, target, action, exc.message, fields, values)
    return _render(args, action_error=error, status=status)


def _do_task_action(task_id: int, action: str, form) -> str:
    """Run one task action; the success message."""
    user, note = _user(), form.get("note")
    if action == "remind":
        result = actions.remind_task(task_id, user, note)
        return f"已催办，{_told(result)}"
    if action == "supervise":
        result = actions.supervise_task(task_id, user, note, form.get("deadline"))
        return f"已督办，要求于 {local_text(result.data['deadline'], '—')} 前办结，{_told(result)}"
    if action == "reassign":
        result = actions.reassign_task(task_id, user, form.get("username"), note)
        return f"已改派给 {result.data['to']}，{_told(result)}"
    result = actions.decide_extension_form(task_id, user, form.get("decision"), note, form.get("days"))
    if form.get("decision") == "approve":
        return (f"已批准延期 {result.data['days']} 个工作日，办理时限延至 {local_text(result.data['due_after'], '—')}，"
                f"{_told(result)}")
    return f"已不批准延期申请，{_told(result)}"


@bp.post("/tasks/<int:task_id>/<string:action>")
@login_required
def task_action(task_id: int, action: str):
    if action not in TASK_ACTIONS:
        raise NotFound("没有这种督办操作")
    args = _args()
    values = {k: request.form.get(k, "") for k in ("note", "deadline", "username", "decision", "days")}
    try:
        message = _do_task_action(task_id, action, request.form)
    except (FormInvalid, NotFound, Conflict) as exc:
        return _refused(args, exc, "task", task_id, action, values)
    flash(f"{ACTION_TITLES[action]}成功：{message}", ACTION_FLASH)
    return _back(args)


@bp.post("/incidents/<int:incident_id>/retry")
@login_required
def retry_incident(incident_id: int):
    args = _args()
    note = request.form.get("note", "")
    try:
        result = actions.retry_incident(incident_id, _user(), note)
    except (FormInvalid, NotFound, Conflict) as exc:
        return _refused(args, exc, "incident", incident_id, "retry", {"note": note})
    flash(f"重试成功：失败作业已重新排队，调度器将在下一轮执行，{_told(result)}", ACTION_FLASH)
    return _back(args)


@bp.post("/instances/<int:instance_id>/retry")
@login_required
def retry_instance(instance_id: int):
    args = _args()
    note = request.form.get("note", "")
    try:
        result = actions.retry_script_error(instance_id, _user(), note)
    except (FormInvalid, NotFound, Conflict, ProcessDefinitionError) as exc:
        return _refused(args, exc, "instance", instance_id, "retry", {"note": note})
    flash(f"重试成功：流程脚本已重新执行，流程已继续，{_told(result)}", ACTION_FLASH)
    return _back(args)
