"""Command-line verbs: users, demo seed, BPMN deploy/validate, serve."""
from __future__ import annotations

import sys
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
    from app.errors import AppError
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
    """Create the demo groups and users (idempotent; refused in production)."""
    from app.seed import seed_demo_users
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("生产环境不允许创建演示用户 (demo users are refused in production)")
    for line in seed_demo_users(current_app.config["DEMO_PASSWORD"]):
        click.echo(line)


@bpmn_cli.command("deploy")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-m", "--message", help="部署说明 Deploy message.")
def deploy(paths, message):
    """Deploy BPMN files (default: every file in bpmn/). Broken files are reported and skipped."""
    from app.processes import services
    outcomes = ([o for path in paths for o in services.deploy_file(path, message=message)] if paths
                else services.deploy_folder(message=message))
    failed = False
    for outcome in outcomes:
        for warning in outcome.warnings:
            click.echo(f"! {outcome.file}: {warning}", err=True)
        if outcome.problems:
            failed = True
            click.echo(f"✗ {outcome.file}: not deployed, {len(outcome.problems)} problem(s)", err=True)
            for problem in outcome.problems:
                click.echo(f"    {problem}", err=True)
        elif outcome.created:
            click.echo(f"✓ {outcome.file}: {outcome.key} version {outcome.version} deployed")
        else:
            click.echo(f"= {outcome.file}: {outcome.key} unchanged (version {outcome.version})")
    if failed:
        sys.exit(1)


@bpmn_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths):
    """Check BPMN files without deploying; exits non-zero listing every problem."""
    from app.processes import services
    targets = list(paths) or sorted(Path(current_app.config["BPMN_DIR"]).glob("*.bpmn"))
    failed = False
    for path in targets:
        problems = services.validate_file(path)
        if problems:
            failed = True
            click.echo(f"✗ {path.name}: {len(problems)} problem(s)", err=True)
            for problem in problems:
                click.echo(f"    {problem}", err=True)
        else:
            click.echo(f"✓ {path.name}")
    if failed:
        sys.exit(1)


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host, port):
    """Serve the application (threaded, no reloader) on http://HOST:PORT."""
    from werkzeug.serving import run_simple
    click.echo(f"Wuyi BPM serving on http://{host}:{port}")
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(bpmn_cli)
    app.cli.add_command(serve)
