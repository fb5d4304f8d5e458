"""The supervisor dashboard's data in one call: the list of the tab shown, the tab counts, the
overdue-by-unit chart, the weekly trend, the diagram heat map and the KPI tiles, all inside the
user's scope. The web page (app/web/supervision.py) only parses its query string, calls
`overview` and renders; the numbers come from the same functions as the JSON API.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime

from app.auth.models import User
from app.supervision import kpis, queries
from app.supervision.access import Scope, supervision_scope
from app.supervision.queries import Filters, Page


@dataclass
class Overview:
    """What the dashboard shows (the names are those the template reads)."""

    scope: Scope
    units: list[tuple[str, str]]            # (unit group, title) the unit filter offers
    group_titles: dict[str, str]
    counts: dict[str, int]                  # the tabs: overdue, due_soon, incidents
    listing: Page | None                    # the overdue / due-soon tab's page
    incidents: Page | None                  # the incidents tab's page
    members: dict[str, list[tuple[str, str]]]   # the reassign choices of the listed tasks' groups
    steps: list[tuple[str, str]]            # the step filter's choices
    by_unit: list[dict]
    trend: dict
    heat: dict | None
    heat_process: str
    kpi_groups: list[dict] = field(default_factory=list)
    kpi_note: str | None = None

    def context(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def shows_task(self, task_id: int) -> bool:
        return self.listing is not None and any(r["task_id"] == task_id for r in self.listing.items)

    def shows_incident(self, source: str, incident_id: int) -> bool:
        """Whether the incidents tab lists it: source "job" (a failed job's incident) or "script"."""
        return self.incidents is not None and any(i["source"] == source and i["id"] == incident_id
                                                  for i in self.incidents.items)


def heat_process(candidates: tuple[str, ...], processes: list[str]) -> str:
    """The process the heat map shows: the first deployed candidate, the complaint process, or the
    first deployed one ("" when none is)."""
    for candidate in (*candidates, "complaint"):
        if candidate and candidate in processes:
            return candidate
    return processes[0] if processes else ""


def kpi_groups(user: User, start: date, end: date, process: str | None) -> tuple[list[dict], str | None]:
    """The KPI tiles of [start, end) grouped by process, or a note why there are none."""
    if process and process not in kpis.PROCESSES:
        return [], "所选流程暂无统计指标。"
    result = kpis.compute_kpis(user, start, end, process or None)
    groups: dict[str, dict] = {}
    for tile in result["kpis"]:
        groups.setdefault(tile["process"], {"process": tile["process"], "title": tile["process_title"],
                                            "tiles": []})["tiles"].append(tile)
    return list(groups.values()), None


def overview(user: User, *, start: date, end: date, filters: Filters, tab: str, sort: str, page: int,
             per_page: int, processes: list[str], heat: str = "", now: datetime) -> Overview:
    """The dashboard over [start, end) (Beijing days, end excluded) with the list `filters` (the charts
    drop a list's step and rung). `tab` is "overdue", "due_soon" or "incidents"; `processes` the
    deployed process keys in the order the page offers them; `heat` the process asked for the heat
    map. Raises Forbidden (not a supervisor, a unit outside theirs), FormInvalid (a bad period)."""
    scope = supervision_scope(user)
    titles, unit_groups = queries.group_titles()
    units = [(code, titles.get(code, code)) for code in (unit_groups if scope.is_all else scope.units)]
    kind = tab if tab != "incidents" else None
    chart_filters = queries.chart_filters(filters)
    listing, members, steps = None, {}, []
    if kind:
        listing = queries.list_tasks(user, kind, filters, sort=sort, page=page, per_page=per_page, now=now)
        members = queries.group_members({g for row in listing.items for g in row["candidate_groups"]})
        steps = queries.step_choices(filters.process)
        incidents = queries.list_incidents(user, per_page=1)     # its count only
    else:
        incidents = queries.list_incidents(user, page=page, per_page=per_page)
    counts = {other: listing.total if other == kind else queries.count_tasks(user, other, filters, now=now)
              for other in queries.KINDS}
    counts["incidents"] = incidents.total
    by_unit = queries.summarize(user, "overdue", "unit", chart_filters, now=now)
    for group in by_unit:
        if group["key"]:
            group["label"] = titles.get(group["key"], group["key"])
    trend = queries.weekly_trend(user, start, end, chart_filters, now=now)
    shown = heat_process((heat, filters.process or ""), processes)
    heat_map = queries.step_heat(user, shown, chart_filters, now=now) if shown else None
    groups, note = kpi_groups(user, start, end, filters.process)
    return Overview(scope=scope, units=units, group_titles=titles, counts=counts, listing=listing,
                    incidents=None if kind else incidents, members=members, steps=steps, by_unit=by_unit,
                    trend=trend, heat=heat_map, heat_process=shown, kpi_groups=groups, kpi_note=note)
