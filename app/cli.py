"""Command-line verbs: users, demo seed, BPMN deploy/validate, serve."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import db

users_cli = AppGroup("users", help="管理用户 Manage users.")
seed_cli = AppGroup("seed", help="演示数据 Demo data.")
bpmn_cli = AppGroup("bpmn", help="部署与校验流程 Deploy and validate BPMN.")


@users_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", help="显示名 Display name (defaults to the username).")
@click.option("--group", "groups", multiple=True, help="用户组名或标题，可重复 Group name or title (repeatable).")
@click.option("--email")
@click.password_option(prompt="密码 Password")
def create_user(username, display_name, groups, email, password):
    """Create a user, or update an existing one's name, groups and password."""
    from app.auth import services
    from app.auth.models import ROLE_TITLES, GroupKind
    from app.auth.passwords import password_problems
    from app.errors import AppError
    if password_problems(password, username):
        raise click.ClickException("；".join(password_problems(password, username)))
    try:
        for role in set(groups) & set(ROLE_TITLES):   # the fixed roles exist on first use
            services.ensure_group(role, ROLE_TITLES[role], GroupKind.ROLE)
        user, created = services.create_or_update_user(
            username, password, display_name or username, services.resolve_groups(list(groups)), email)
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"{'created' if created else 'updated'} user {user.username} groups={sorted(user.group_names)}")


@users_cli.command("unlock")
@click.argument("username")
@click.option("--reason", default="管理员在命令行解锁", show_default=True, help="解锁原因（记入审计）Reason (audited).")
def unlock_user(username, reason):
    """Lift a login lockout (and reset the failed-login count) of a user; audited."""
    from app.auth import lockout, services
    from app.errors import AppError
    user = services.get_user_by_username(username)
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    try:
        lifted = lockout.unlock(user, None, reason)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"unlocked user {user.username}" if lifted else f"user {user.username} was not locked")


@users_cli.command("locked")
def list_locked():
    """The users locked now after repeated failed logins, with the time each lock ends (UTC)."""
    from app.auth import lockout
    rows = lockout.locked_users()
    for user in rows:
        click.echo(f"{user.username}\t{user.display_name}\tlocked until {user.locked_until.isoformat()}")
    if not rows:
        click.echo("no locked users")
@users_cli.command("set-password")
@click.argument("username")
@click.option("--must-change/--no-must-change", default=True,
              help="下次登录时须修改密码（默认是）The user must change it at the next login (default).")
@click.password_option(prompt="新密码 New password")
def set_password(username, must_change, password):
    """Set a user's password (the same rules as the administration pages); audited."""
    from app.admin.users import reset_password
    from app.auth.services import get_user_by_username
    from app.errors import AppError
    user = get_user_by_username(username)
    if user is None:
        raise click.ClickException(f"找不到用户 {username}")
    try:
        reset_password(user, password, actor=None, reason="命令行 flask users set-password", must_change=must_change)
    except AppError as exc:
        db.session.rollback()
        raise click.ClickException("；".join(m for ms in (exc.fields or {}).values() for m in ms) or exc.message) from None
    click.echo(f"password set for {user.username}; must change at next login: {'yes' if must_change else 'no'}")


@users_cli.command("create-group")
@click.argument("name")
@click.option("--title", required=True, help="中文名称；泳道按此名称匹配 Chinese title; lanes match on it.")
@click.option("--kind", type=click.Choice(["lane", "unit", "role"]), default="lane")
def create_group(name, title, kind):
    """Create a group (or update its title and kind)."""
    from app.auth import services
    group = services.ensure_group(name, title, kind)
    db.session.commit()
    click.echo(f"group {group.name} ({group.title}, {group.kind})")


@seed_cli.command("demo")
def seed_demo():
    """Create the demo groups and users, deploy bpmn/, and create the demo cases of the three
    processes in every state (idempotent: cases only when there are none; refused in production)."""
    from app.demo import seed_demo_cases
    from app.processes.deploy import deploy_folder
    from app.seed import seed_demo_users
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("生产环境不允许创建演示用户 (demo users are refused in production)")
    for line in seed_demo_users(current_app.config["DEMO_PASSWORD"]):
        click.echo(line)
    broken = [p for o in deploy_folder() for p in o.problems]
    if broken:
        click.echo("部分流程无法部署，演示案件未创建：" + "；".join(str(p) for p in broken), err=True)
        return
    for line in seed_demo_cases():
        click.echo("demo case  " + line)


def _bpmn_targets(paths) -> list[list[Path]]:
    """The models to check or deploy: the files given (a folder: its files) as one model; with no
    paths, bpmn/, where files joined by call activities form a model and the others stand alone."""
    from app.processes.deploy import model_groups
    if not paths:
        return model_groups(sorted(Path(current_app.config["BPMN_DIR"]).glob("*.bpmn")))
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.bpmn")) + sorted(path.glob("*.dmn"))
        else:
            files.append(path)
    return [files]


@bpmn_cli.command("deploy")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-m", "--message", help="部署说明 Deploy message.")
def deploy(paths, message):
    """Deploy BPMN files (default: every file in bpmn/). The files given, or a folder, deploy as one
    model: call activities resolve across them and against deployed processes. Errors refuse the
    model (exit 1); warnings are printed and do not stop it."""
    from app.processes.deploy import deploy_folder, deploy_model
    outcomes = ([o for group in _bpmn_targets(paths) for o in deploy_model(group, message=message)] if paths
                else deploy_folder(message=message))
    failed = False
    for outcome in outcomes:
        for warning in outcome.warnings:
            click.echo(f"! 警告 {outcome.file}: {warning}", err=True)
        if outcome.problems:
            failed = True
            click.echo(f"✗ {outcome.file}: not deployed, {len(outcome.problems)} problem(s)", err=True)
            for problem in outcome.problems:
                click.echo(f"    错误 {problem}", err=True)
        elif outcome.part_of:
            click.echo(f"✓ {outcome.file}: called by {', '.join(outcome.part_of)}, deployed with it")
        elif outcome.created:
            click.echo(f"✓ {outcome.file}: {outcome.key} version {outcome.version} deployed")
        elif outcome.key:
            click.echo(f"= {outcome.file}: {outcome.key} unchanged (version {outcome.version})")
    if failed:
        sys.exit(1)


@bpmn_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="警告也算失败 Warnings fail too (CI of bpmn/).")
def validate(paths, strict):
    """Check BPMN files without deploying (what deploy checks, plus the designer's modelling
    conventions), printing errors (错误: cannot run, deploy refuses) apart from warnings (警告:
    house conventions, deploy allowed). Exits non-zero on errors, or on warnings with --strict.
    The files given (or a folder) are one model: call activities resolve across them."""
    from app.designer import services
    failed = False
    for group in _bpmn_targets(paths):
        problems = services.validate_paths(group)
        names = list(dict.fromkeys([p.name for p in group if p.suffix != ".dmn"] +
                                   [p.file or "" for p in problems]))
        for name in names:
            own = [p for p in problems if (p.file or "") == name]
            errors = [p for p in own if p.is_error]
            warnings = [p for p in own if not p.is_error]
            if not own:
                click.echo(f"✓ {name}")
                continue
            failing = bool(errors) or strict
            failed |= failing
            head = "✗" if failing else "⚠"
            click.echo(f"{head} {name}: {len(own)} problem(s)", err=failing)
            for problem in errors:
                click.echo(f"    错误 {problem}", err=True)
            for problem in warnings:
                click.echo(f"    警告 {problem}", err=failing)
    if failed:
        sys.exit(1)


@bpmn_cli.command("export")
@click.argument("key")
@click.option("--version", "version", type=int, help="版本号（默认最新）Version (default: the latest).")
def export(key, version):
    """Print the stored BPMN XML of a deployed version."""
    from app.designer import services
    from app.errors import AppError
    try:
        xml = services.export_xml(key, version)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(xml, nl=not xml.endswith("\n"))


@bpmn_cli.command("versions")
@click.argument("key")
def versions(key):
    """List the versions of a process: who deployed it when, why, and its running instances."""
    from app.calendar import SHANGHAI
    from app.designer import services
    from app.errors import AppError
    try:
        rows = services.list_versions(key)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{'版本':<6}{'部署时间 (+08:00)':<20}{'部署人':<14}{'运行中':>6}{'异常':>6}  说明")
    for row in rows:
        when = row["deployed_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        mark = "*" if row["is_latest"] else " "
        click.echo(f"{mark}v{row['version']:<4}{when:<20}{(row['deployed_by'] or '-'):<14}"
                   f"{row['running_instances']:>6}{row['error_instances']:>6}  {row['message'] or ''}")


@bpmn_cli.command("migrate")
@click.argument("key")
@click.option("--from-version", type=int, help="只迁移该版本上的实例（默认所有旧版本）Only instances on this version.")
@click.option("--instance", "instance_ids", type=int, multiple=True, help="实例 ID，可重复 Instance id (repeatable).")
@click.option("--dry-run", is_flag=True, help="只检查，不迁移 Check only, change nothing.")
def migrate(key, from_version, instance_ids, dry_run):
    """Move running instances to the latest version when safe; exits non-zero if any was refused."""
    from app.designer.migrate import Outcome, migrate_instances
    from app.errors import AppError
    try:
        outcomes = migrate_instances(key, instance_ids=list(instance_ids) or None, from_version=from_version,
                                     dry_run=dry_run)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    words = {Outcome.MIGRATED: "migrated", Outcome.WOULD_MIGRATE: "would migrate (dry run)",
             Outcome.REFUSED: "refused", Outcome.CURRENT: "already current"}
    for o in outcomes:
        versions_ = f" v{o.from_version} → v{o.to_version}" if o.from_version and o.to_version else ""
        click.echo(f"{'✗' if o.status == Outcome.REFUSED else '✓'} instance {o.instance_id}{versions_}: "
                   f"{words[o.status]}", err=o.status == Outcome.REFUSED)
        for reason in o.reasons:
            click.echo(f"    {reason}", err=True)
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in words}
    click.echo(f"{len(outcomes)} instance(s): {counts[Outcome.MIGRATED]} migrated, "
               f"{counts[Outcome.WOULD_MIGRATE]} would migrate, {counts[Outcome.REFUSED]} refused, "
               f"{counts[Outcome.CURRENT]} already current")
    if counts[Outcome.REFUSED]:
        sys.exit(1)


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--scheduler/--no-scheduler", default=True, help="在本进程运行截止时间调度器 Run the dispatcher here.")
def serve(host, port, scheduler):
    """Serve the application (threaded, no reloader) on http://HOST:PORT, with the dispatcher."""
    from werkzeug.serving import run_simple

    from app.deadlines.scheduler import start_scheduler, stop_scheduler
    app = current_app._get_current_object()
    if scheduler:
        start_scheduler(app)   # after downtime, everything overdue fires on this first run
    click.echo(f"Wuyi BPM serving on http://{host}:{port}")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop_scheduler(app)


scheduler_cli = AppGroup("scheduler", help="截止时间调度器 The deadline dispatcher.")


@scheduler_cli.command("run")
def scheduler_run():
    """Run only the dispatcher (beside gunicorn in production); stops on SIGTERM/SIGINT."""
    import signal
    import threading

    from app.deadlines.scheduler import start_scheduler, stop_scheduler
    app = current_app._get_current_object()
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    start_scheduler(app)
    click.echo("dispatcher running; Ctrl+C to stop")
    stopping.wait()
    stop_scheduler(app)


@scheduler_cli.command("tick")
def scheduler_tick():
    """Run every due job once, now, and exit (cron-style)."""
    from app.deadlines.dispatcher import dispatch_due_jobs
    report = dispatch_due_jobs()
    click.echo(f"claimed {report.claimed}, done {report.done}, retried {report.retried}, failed {report.failed}")


calendar_cli = AppGroup("calendar", help="工作日历 Business calendar.")


@calendar_cli.command("add", context_settings={"ignore_unknown_options": True})  # "-3WD" is a duration
@click.argument("start")
@click.argument("duration")
@click.option("--json", "as_json", is_flag=True, help="{\"due\": ..., \"provisional\": ...}")
def calendar_add(start, duration, as_json):
    """Print START + DURATION (15WD, 7CD, 24H, 2WH, 60MIN) as ISO 8601 in +08:00."""
    import json

    from app.calendar import CalendarInputError, DurationError, parse_instant
    from app.deadlines.due import get_calendar
    try:
        due = get_calendar().add(parse_instant(start), duration)
    except (DurationError, CalendarInputError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(due.as_dict(), ensure_ascii=False) if as_json else due.isoformat())


@calendar_cli.command("load-year")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_load_year(file):
    """Load a year's official schedule (see app/calendar/examples/README.md) and recompute the
    provisional due dates of open tasks."""
    from app.calendar import ScheduleError, load_schedule_file
    from app.deadlines.services import load_year
    try:
        schedule = load_schedule_file(file)
    except ScheduleError as exc:
        raise click.ClickException(str(exc)) from None
    days, recomputed = load_year(schedule)
    click.echo(f"loaded {schedule.year}: {days} days; recomputed {recomputed} provisional due date(s)")


supervision_cli = AppGroup("supervision", help="督办 Supervision.")


@supervision_cli.command("refresh-facts")
@click.option("--since", default=None, help="Only cases closed on or after this day (YYYY-MM-DD).")
def supervision_refresh_facts(since):
    """Compute the KPI facts of closed cases that have none or stale ones (after an upgrade or a
    calendar load), so the first dashboard request of a long period does not have to."""
    from app.db import utcnow
    from app.errors import FormInvalid
    from app.supervision import kpis
    now = utcnow()
    try:
        period = kpis.parse_period(since or "2000-01-01", now + timedelta(days=1), now)
    except FormInvalid as exc:
        raise click.ClickException(f"{exc.message}: {exc.fields}") from None
    for process, written in kpis.ensure_case_facts(period).items():
        click.echo(f"{process}: {written} case(s) computed")
    click.echo(f"{kpis.ONE_THING}: {kpis.ensure_bundle_facts(period)} hand-out(s) computed")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(bpmn_cli)
    app.cli.add_command(serve)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(supervision_cli)
    from app.integration.cli import integration_cli   # issue #13: platform exchange
    app.cli.add_command(integration_cli)
