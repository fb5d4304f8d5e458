"""The /admin pages (role admin). Thin: parse -> one service call -> render or redirect. A refused
form is shown again with every typed value and the error beside its field (422)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import audit_log, calendar as cal, orgs, users
from app.auth.models import GroupKind
from app.auth.passwords import RULES_TEXT
from app.calendar import ScheduleError, parse_schedule
from app.errors import Conflict, Forbidden, FormInvalid
from app.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
SCHEDULE_MAX_BYTES = 64 * 1024


@bp.before_request
def _admins_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        raise Forbidden("只有系统管理员可以访问管理页面")
    return None


def _actor():
    return current_user._get_current_object()


@bp.get("")
def index():
    return redirect(url_for("admin.user_list"))


# --- users ------------------------------------------------------------------------------------------

@bp.get("/users")
def user_list():
    q = (request.args.get("q") or "").strip()[:100]
    rows = users.list_users(q)
    return render_template("admin/users.html", rows=rows, q=q, is_locked=users.is_locked)


def _group_choices():
    groups = orgs.all_groups()
    return [(kind, title, [g for g in groups if g.kind == kind])
            for kind, title in orgs.KIND_TITLES.items()]


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form, errors, status = request.form, {}, 200
    selected = set(request.form.getlist("groups"))
    if request.method == "POST":
        try:
            user = users.create_user(_actor(), form, request.form.getlist("groups"))
            flash(f"已新建用户 {user.display_name}，首次登录时须修改初始密码", "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
        except FormInvalid as exc:
            errors, status = exc.fields or {}, 422
    return render_template("admin/user_new.html", form=form, errors=errors, selected=selected,
                           choices=_group_choices(), rules=RULES_TEXT), status


def _user_page(user, errors=None, form=None, which=None, status=200, message=None):
    selected = set(request.form.getlist("groups")) if which == "groups" else {str(g.id) for g in user.groups}
    return render_template("admin/user_edit.html", user=user, errors=errors or {}, form=form or {}, which=which,
                           selected=selected, choices=_group_choices(), rules=RULES_TEXT,
                           locked=users.is_locked(user), message=message), status


@bp.get("/users/<int:user_id>")
def user_edit(user_id: int):
    return _user_page(users.get_user(user_id))


def _user_action(user_id: int, which: str, action, done: str):
    user = users.get_user(user_id)
    try:
        action(user)
    except FormInvalid as exc:
        return _user_page(user, exc.fields, request.form, which, 422, exc.message)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    flash(done, "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/profile")
def user_profile(user_id: int):
    return _user_action(user_id, "profile", lambda u: users.update_user(_actor(), u, request.form), "已保存用户信息")


@bp.post("/users/<int:user_id>/groups")
def user_groups(user_id: int):
    return _user_action(user_id, "groups", lambda u: users.set_groups(
        _actor(), u, request.form.getlist("groups"), request.form.get("reason")), "已保存用户组")


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):
    active = request.form.get("active") == "1"
    return _user_action(user_id, "active", lambda u: users.set_active(_actor(), u, active, request.form.get("reason")),
                        "已启用该用户" if active else "已停用该用户，其登录和访问令牌即刻失效")


@bp.post("/users/<int:user_id>/unlock")
def user_unlock(user_id: int):
    return _user_action(user_id, "unlock", lambda u: users.unlock(_actor(), u, request.form.get("reason")),
                        "已解除锁定")


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    return _user_action(user_id, "password", lambda u: users.reset_password(
        u, request.form.get("password") or "", _actor(), request.form.get("reason")),
        "已重置密码；该用户下次登录时须修改密码")


# --- groups and units -------------------------------------------------------------------------------

def _groups_page(errors=None, form=None, status=200):
    groups = orgs.all_groups()
    heads = orgs.head_groups(groups)
    counts = orgs.member_counts()
    return render_template(
        "admin/groups.html", tree=orgs.unit_tree(groups), levels=orgs.LEVELS, counts=counts,
        roles=[g for g in groups if g.kind == GroupKind.ROLE],
        lanes=[g for g in groups if g.kind == GroupKind.LANE and g.id not in heads],
        units=[g for g in groups if g.kind == GroupKind.UNIT], warnings=orgs.lane_warnings(),
        errors=errors or {}, form=form or {}), status


@bp.get("/groups")
def group_list():
    return _groups_page()


@bp.post("/groups/new")
def group_new():
    try:
        group = orgs.create_group(_actor(), request.form)
    except FormInvalid as exc:
        return _groups_page(exc.fields, request.form, 422)
    flash(f"已新建用户组 {group.title}", "success")
    return redirect(url_for("admin.group_list"))


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
def group_edit(group_id: int):
    group = orgs.get_group(group_id)
    errors, status = {}, 200
    if request.method == "POST":
        try:
            orgs.update_group(_actor(), group, request.form)
            flash(f"已保存用户组 {group.title}", "success")
            return redirect(url_for("admin.group_list"))
        except FormInvalid as exc:
            errors, status = exc.fields or {}, 422
    members = users.list_users(group_id=group.id)
    units = [g for g in orgs.all_groups() if g.kind == GroupKind.UNIT and g.id != group.id]
    return render_template("admin/group_edit.html", group=group, form=request.form, errors=errors, units=units,
                           levels=orgs.LEVELS, members=members, kinds=orgs.KIND_TITLES), status


# --- calendar ---------------------------------------------------------------------------------------

def _year_arg() -> int:
    text = request.values.get("year") or str(date.today().year)
    try:
        return cal.check_year(int(text))
    except ValueError:
        raise FormInvalid("年份应为四位数字", fields={"year": ["年份应为四位数字"]}) from None


def _calendar_page(year: int, status=200, **extra):
    context = {"errors": {}, "form": {}, "which": None, "preview": None, "schedule_text": None, **extra}
    return render_template("admin/calendar.html", view=cal.year_view(year), **context), status


@bp.get("/calendar")
def calendar_page():
    return _calendar_page(_year_arg())


@bp.post("/calendar/<int:year>/mark")
def calendar_mark(year: int):
    official = request.form.get("official") == "1"
    try:
        cal.mark_year(_actor(), year, official, request.form.get("notice"), request.form.get("reason"))
    except FormInvalid as exc:
        return _calendar_page(year, 422, errors=exc.fields or {}, form=request.form, which="mark")
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.calendar_page", year=year))
    flash(f"已将 {year} 年标为{'正式' if official else '暂定'}", "success")
    return redirect(url_for("admin.calendar_page", year=year))


@bp.post("/calendar/override")
def calendar_override():
    form = request.form
    year = _form_year(form.get("day"))
    if form.get("step") == "edit":   # back from the preview to the fields, with what was typed
        return _calendar_page(year, form=form, which="override")
    try:
        if form.get("step") != "save":
            day, working, reason, moved = cal.preview_override(form.get("day"), form.get("is_working"),
                                                               form.get("reason"))
            return _calendar_page(day.year, form=form, which="override", preview=moved)
        row, count = cal.apply_override(_actor(), form.get("day"), form.get("is_working"), form.get("reason"))
    except FormInvalid as exc:
        return _calendar_page(year, 422, errors=exc.fields or {}, form=form, which="override")
    flash(f"已将 {row.day.isoformat()} 设为{'工作日' if row.is_working else '休息日'}，{count} 个办理时限随之调整",
          "success")
    return redirect(url_for("admin.calendar_page", year=row.day.year))


def _form_year(text) -> int:
    try:
        return cal.check_year(date.fromisoformat((text or "").strip()).year)
    except (ValueError, FormInvalid):
        return date.today().year


@bp.post("/calendar/load")
def calendar_load():
    form = request.form
    year = _year_arg()
    upload = request.files.get("file")
    text = form.get("schedule_text") or ""
    if upload is not None and upload.filename:
        raw = upload.read(SCHEDULE_MAX_BYTES + 1)
        if len(raw) > SCHEDULE_MAX_BYTES:
            return _calendar_page(year, 422, errors={"file": ["文件过大：节假日安排文件不超过 64 KB"]}, which="load",
                                  form=form)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _calendar_page(year, 422, errors={"file": ["文件不是 UTF-8 编码的文本"]}, which="load", form=form)
    if not text.strip():
        return _calendar_page(year, 422, errors={"file": ["请选择节假日安排文件（JSON，格式见 app/calendar/examples）"]},
                              which="load", form=form)
    try:
        schedule = parse_schedule(text, upload.filename if upload is not None and upload.filename else "")
    except ScheduleError as exc:
        return _calendar_page(year, 422, errors={"file": exc.problems}, which="load", form=form)
    try:
        if form.get("step") != "save":
            return _calendar_page(schedule.year, form=form, which="load", preview=cal.preview_schedule(schedule),
                                  schedule_text=text, schedule=schedule)
        days, count = cal.apply_schedule(_actor(), schedule, form.get("reason"))
    except FormInvalid as exc:
        return _calendar_page(schedule.year, 422, errors=exc.fields or {}, form=form, which="load",
                              preview=cal.preview_schedule(schedule), schedule_text=text, schedule=schedule)
    flash(f"已导入 {schedule.year} 年节假日安排（{days} 天），{count} 个办理时限随之调整", "success")
    return redirect(url_for("admin.calendar_page", year=schedule.year))


# --- audit log --------------------------------------------------------------------------------------

PER_PAGE = 50


def _audit(identity: bool):
    filters, errors = audit_log.parse_filters(request.args, identity=identity)
    try:
        page = max(1, min(int(request.args.get("page") or 1), 100000))
    except ValueError:
        page = 1
    rows, total = ([], 0) if errors else audit_log.search(filters, page, PER_PAGE)
    titles = audit_log.action_titles()
    return render_template("admin/audit.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
                           args=request.args, errors=errors, identity=identity,
                           actions=sorted(titles.items(), key=lambda kv: kv[1])), (422 if errors else 200)


@bp.get("/audit")
def audit():
    return _audit(False)


@bp.get("/audit/identity")
def audit_identity():
    return _audit(True)


@bp.get("/audit.csv")
def audit_csv():
    filters, errors = audit_log.parse_filters(request.args, identity=request.args.get("tab") == "identity")
    if errors:
        raise FormInvalid("筛选条件有误", fields=errors)
    body = audit_log.export_csv(filters)
    name = "audit-identity.csv" if filters.identity else "audit.csv"
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
