"""flask integration …: register a platform (the secret is printed once), rotate its secret, disable
or enable it, list the platforms."""
from __future__ import annotations

from urllib.parse import urlparse

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.db import utcnow
from app.extensions import db
from app.integration.models import PLATFORMS, IntegrationClient
from app.integration.signing import new_secret

integration_cli = AppGroup("integration", help="平台对接 Platform exchange (12345, SME platform, 纪委 case system).")


def _callback(url: str | None) -> str | None:
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise click.BadParameter("回调地址应为 http:// 或 https:// 开头的完整网址", param_hint="--callback")
    return url


def _client(name: str) -> IntegrationClient:
    client = db.session.execute(sa.select(IntegrationClient).where(IntegrationClient.name == name)).scalar_one_or_none()
    if client is None:
        raise click.ClickException(f"平台 {name} 尚未登记（flask integration add-client {name} --callback URL）")
    return client


@integration_cli.command("add-client")
@click.argument("name", type=click.Choice(sorted(PLATFORMS)))
@click.option("--callback", required=True, help="事件回调地址 Callback URL for the outbound events.")
def add_client(name, callback):
    """Register a platform and print its secret (shown this once only)."""
    callback = _callback(callback)
    if db.session.execute(sa.select(IntegrationClient.id).where(IntegrationClient.name == name)).first():
        raise click.ClickException(f"平台 {name} 已登记；更换密钥用 rotate-secret")
    secret = new_secret()
    db.session.add(IntegrationClient(name=name, secret=secret, callback_url=callback, enabled=True,
                                     created_at=utcnow()))
    db.session.commit()
    click.echo(f"registered {name} ({PLATFORMS[name]}), callback {callback}")
    click.echo(f"secret: {secret}")
    click.echo("(the secret is shown only now; store it on the platform's side)")


@integration_cli.command("rotate-secret")
@click.argument("name", type=click.Choice(sorted(PLATFORMS)))
def rotate_secret(name):
    """Replace a platform's secret (the old one stops working at once) and print the new one."""
    client = _client(name)
    client.secret, client.secret_rotated_at = new_secret(), utcnow()
    db.session.commit()
    click.echo(f"secret: {client.secret}")


@integration_cli.command("set-callback")
@click.argument("name", type=click.Choice(sorted(PLATFORMS)))
@click.argument("url")
def set_callback(name, url):
    """Change a platform's callback URL."""
    client = _client(name)
    client.callback_url = _callback(url)
    db.session.commit()
    click.echo(f"{name} callback {client.callback_url}")


@integration_cli.command("disable")
@click.argument("name", type=click.Choice(sorted(PLATFORMS)))
def disable(name):
    """Refuse the platform's requests (403) and hold its events until it is enabled again."""
    _client(name).enabled = False
    db.session.commit()
    click.echo(f"{name} disabled")


@integration_cli.command("enable")
@click.argument("name", type=click.Choice(sorted(PLATFORMS)))
def enable(name):
    """Accept the platform's requests again."""
    _client(name).enabled = True
    db.session.commit()
    click.echo(f"{name} enabled")


@integration_cli.command("list")
def list_clients():
    """The registered platforms (never their secrets)."""
    for c in db.session.execute(sa.select(IntegrationClient).order_by(IntegrationClient.name)).scalars():
        click.echo(f"{c.name:<14} {'enabled ' if c.enabled else 'disabled'} {c.callback_url or '-'}")
