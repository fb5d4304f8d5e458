"""Notify people: in-app rows, and e-mail through an outbox that is delivered only after the commit.

`notify()` adds rows inside the caller's transaction and flushes; it never commits. If that
transaction rolls back, there is no notification and no mail. `send_pending_emails()` (run by
APScheduler as `send_pending_emails_job`) delivers what was committed: it claims rows with one
conditional UPDATE (status pending → sending + a claim token), so several senders in several
processes never deliver one message twice; each message is then committed on its own, so one
failure never blocks the others. A sender that dies mid-batch leaves rows in 'sending'; after
ten minutes they are pending again (the price: such a message may arrive twice — at least once,
never lost). Failures retry with backoff, then end as 'failed' with the last error.
"""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, parseaddr
from typing import Callable, Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from app.auth.models import Group, User, user_group
from app.db import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage, EmailStatus, Notification, NotificationKind

logger = logging.getLogger(__name__)

#: Settings read from current_app.config (config.py fills them from the environment); these are the
#: defaults when a key is missing or empty.
MAIL_DEFAULTS = {
    "MAIL_ENABLED": False,
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": None,            # None -> 465 with MAIL_USE_SSL, else 25
    "MAIL_USERNAME": None,        # no AUTH when empty
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,        # STARTTLS after connecting
    "MAIL_USE_SSL": False,        # implicit TLS (SMTPS)
    "MAIL_FROM": "noreply@localhost",
    "MAIL_TIMEOUT": 10.0,         # seconds, per socket operation
    "MAIL_MAX_ATTEMPTS": 5,
}

#: Wait after the n-th failed attempt (the last entry repeats).
RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                 timedelta(hours=2), timedelta(hours=6))
#: A claim older than this belongs to a sender that died; its messages become pending again.
STALE_CLAIM = timedelta(minutes=10)
#: A batch stops taking new messages after this many seconds of wall time and hands the rest back,
#: so its claims never look stale to other senders while it is still working.
SENDING_BUDGET_SECONDS = 300.0

_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+$")


@dataclass
class NotificationPage:
    items: list[Notification]
    page: int
    per_page: int
    total: int


# --- settings ---------------------------------------------------------------------------------

def _setting(key: str):
    value = current_app.config.get(key)
    return MAIL_DEFAULTS[key] if value is None or value == "" else value


def _truthy(value) -> bool:
    """Config values may be booleans or the raw environment string ("1", "true", "yes", "on")."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on", "y", "t"}
    return bool(value)


def is_mail_enabled() -> bool:
    return _truthy(_setting("MAIL_ENABLED"))


def _clip(text: str, size: int) -> str:
    text = " ".join((text or "").split())   # one line: titles become mail subjects
    return text if len(text) <= size else text[: size - 1] + "…"


def _is_mailable(address: str | None) -> bool:
    return bool(address) and bool(_ADDRESS.match(address.strip()))


# --- in-app notifications -----------------------------------------------------------------------

def notify(user_ids: Iterable[int] | int, kind: str, title: str, body: str = "", *,
           case_id: int | None = None, human_task_id: int | None = None, email: bool = True,
           now: datetime | None = None) -> list[Notification]:
    """One notification per distinct user, and (when `email`, MAIL_ENABLED and the user is active with a
    usable address) one outbox e-mail per user.

    Flushes, never commits: call it inside the business action's transaction; its commit makes the
    notifications visible and releases the mail to the sender. Unknown user ids are skipped (logged).
    Raises ValueError for an unknown `kind` (see NotificationKind).
    """
    if kind not in NotificationKind.ALL:
        raise ValueError(f"unknown notification kind {kind!r}; expected one of {sorted(NotificationKind.ALL)}")
    if isinstance(user_ids, int):
        user_ids = [user_ids]
    ids = list(dict.fromkeys(int(u) for u in user_ids if u is not None))
    if not ids:
        return []
    users = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}
    when = now or utcnow()
    title = _clip(title, 200)
    body = body or ""
    send_mail = email and is_mail_enabled()
    created: list[Notification] = []
    for user_id in ids:
        user = users.get(user_id)
        if user is None:
            logger.warning("notify: no user with id %s (kind=%s, title=%s)", user_id, kind, title)
            continue
        notification = Notification(user_id=user_id, kind=kind, title=title, body=body, case_id=case_id,
                                    human_task_id=human_task_id, created_at=when)
        db.session.add(notification)
        created.append(notification)
        if send_mail and user.is_active_user and _is_mailable(user.email):
            db.session.add(EmailMessage(to_addr=user.email.strip(), subject=_clip(title, 255), body=body,
                                        status=EmailStatus.PENDING, attempts=0, created_at=when))
    db.session.flush()
    return created


def users_in_groups(group_names: Iterable[str] | str) -> list[int]:
    """Ids of the active users in any of these groups (by Group.name), each once, ascending."""
    if isinstance(group_names, str):
        group_names = [group_names]
    names = [n for n in dict.fromkeys(group_names) if n]
    if not names:
        return []
    stmt = (sa.select(User.id)
            .join(user_group, user_group.c.user_id == User.id)
            .join(Group, Group.id == user_group.c.group_id)
            .where(Group.name.in_(names), User.is_active_user.is_(True))
            .distinct()
            .order_by(User.id))
    return list(db.session.execute(stmt).scalars())


def unread_count(user_id: int) -> int:
    stmt = (sa.select(sa.func.count()).select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None)))
    return db.session.execute(stmt).scalar_one()


def list_notifications(user_id: int, *, unread_only: bool = False, page: int = 1,
                       per_page: int = 20) -> NotificationPage:
    """A user's notifications, newest first (per_page is kept within 1..100)."""
    page = max(1, int(page))
    per_page = min(100, max(1, int(per_page)))
    stmt = sa.select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return NotificationPage(list(rows), page, per_page, total)


def mark_read(user_id: int, notification_ids: Iterable[int] | None = None, *,
              now: datetime | None = None) -> int:
    """Mark the user's unread notifications read (all of them when `notification_ids` is None).

    Ids of other users' notifications are ignored, never touched. Returns how many rows changed.
    Commits.
    """
    stmt = (sa.update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now or utcnow()))
    if notification_ids is not None:
        ids = list({int(i) for i in notification_ids})
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(ids))
    changed = db.session.execute(stmt).rowcount
    db.session.commit()
    return changed


# --- the outbox sender --------------------------------------------------------------------------

def connect_smtp():
    """An SMTP connection from the MAIL_* settings, after STARTTLS and login when configured."""
    host = _setting("MAIL_SERVER")
    use_ssl = _truthy(_setting("MAIL_USE_SSL"))
    use_tls = _truthy(_setting("MAIL_USE_TLS")) and not use_ssl
    port = int(_setting("MAIL_PORT") or (465 if use_ssl else 25))
    timeout = float(_setting("MAIL_TIMEOUT"))
    if use_ssl:
        conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if use_tls:
            conn.starttls(context=ssl.create_default_context())
        username = _setting("MAIL_USERNAME")
        if username:
            conn.login(username, _setting("MAIL_PASSWORD") or "")
    except BaseException:
        _close(conn)
        raise
    return conn


def _close(conn) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except Exception:  # noqa: BLE001 - the connection is being dropped anyway
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def build_mime(message: EmailMessage, *, now: datetime | None = None) -> MimeMessage:
    """The RFC 5322 message for an outbox row: UTF-8 subject (RFC 2047) and body, a stable Message-ID
    per row (a receiver can spot a duplicate). Raises ValueError for an address no server would take."""
    sender = _setting("MAIL_FROM")
    if not _is_mailable(parseaddr(sender)[1]):
        raise ValueError(f"MAIL_FROM {sender!r} is not an e-mail address")
    if not _is_mailable(message.to_addr):
        raise ValueError(f"recipient {message.to_addr!r} is not an e-mail address")
    domain = parseaddr(sender)[1].rpartition("@")[2]
    mime = MimeMessage()
    mime["Subject"] = message.subject
    mime["From"] = sender
    mime["To"] = message.to_addr.strip()
    mime["Date"] = format_datetime(now or utcnow())
    mime["Message-ID"] = f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    mime["Auto-Submitted"] = "auto-generated"   # RFC 3834: no vacation replies
    body = message.body or ""
    if body.isascii():
        mime.set_content(body)
    else:
        mime.set_content(body, charset="utf-8", cte="base64")   # 8BITMIME is not everywhere
    return mime


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items()]
        text = "recipient refused: " + "; ".join(parts)
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:2000]


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _is_permanent(exc: BaseException) -> bool:
    """A 5xx refusal of this recipient or this content: retrying the same message will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 1 min, 5 min, 30 min, 2 h, then 6 h."""
    return RETRY_BACKOFF[min(max(attempts, 1), len(RETRY_BACKOFF)) - 1]


def release_stale_claims(now: datetime | None = None) -> int:
    """Messages left in 'sending' for more than STALE_CLAIM (a crashed sender) become pending. Commits."""
    cutoff = (now or utcnow()) - STALE_CLAIM
    changed = db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.status == EmailStatus.SENDING, EmailMessage.claimed_at < cutoff)
        .values(status=EmailStatus.PENDING, claim_token=None, claimed_at=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if changed:
        logger.warning("e-mail outbox: %d message(s) released from a sender that stopped", changed)
    return changed


def _claim(token: str, now: datetime, limit: int) -> list[EmailMessage]:
    """Claim up to `limit` due pending messages with one conditional UPDATE, commit, and load them.

    The status check in the UPDATE makes the claim exclusive on every database: SQLite runs one writer
    at a time; PostgreSQL re-checks `status = 'pending'` on a row another claimer changed meanwhile,
    and SKIP LOCKED lets concurrent claimers take different rows instead of waiting.
    """
    candidate = aliased(EmailMessage)
    due = (sa.select(candidate.id)
           .where(candidate.status == EmailStatus.PENDING,
                  sa.or_(candidate.next_attempt_at.is_(None), candidate.next_attempt_at <= now))
           .order_by(candidate.created_at, candidate.id)
           .limit(limit)
           .with_for_update(skip_locked=True)
           .cte("due"))   # a CTE runs once; `IN (subquery LIMIT n)` may be re-run per row on PostgreSQL
    db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.id == due.c.id, EmailMessage.status == EmailStatus.PENDING)
        .values(status=EmailStatus.SENDING, claim_token=token, claimed_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.execute(
        sa.select(EmailMessage)
        .where(EmailMessage.claim_token == token, EmailMessage.status == EmailStatus.SENDING)
        .order_by(EmailMessage.created_at, EmailMessage.id)
        .execution_options(populate_existing=True)).scalars())


def _finish(message: EmailMessage, token: str, values: dict) -> bool:
    """Write the outcome of one claimed message, only if this run still holds it. Commits."""
    changed = db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.id == message.id, EmailMessage.claim_token == token,
               EmailMessage.status == EmailStatus.SENDING)
        .values(claim_token=None, claimed_at=None, **values)).rowcount
    db.session.commit()
    if not changed:
        logger.warning("e-mail outbox: message %s was no longer claimed by this sender", message.id)
    return bool(changed)


def _record_failure(message: EmailMessage, token: str, exc: BaseException, now: datetime, stats: dict,
                    *, permanent: bool = False) -> None:
    attempts = message.attempts + 1
    error = _describe(exc)
    if permanent or attempts >= int(_setting("MAIL_MAX_ATTEMPTS")):
        values = dict(status=EmailStatus.FAILED, next_attempt_at=None)
        outcome = "failed"
    else:
        values = dict(status=EmailStatus.PENDING, next_attempt_at=now + retry_delay(attempts))
        outcome = "retried"
    if _finish(message, token, dict(values, attempts=attempts, last_error=error)):
        stats[outcome] += 1
        log = logger.error if outcome == "failed" else logger.warning
        log("e-mail outbox: message %s to %s %s after attempt %d: %s",
            message.id, message.to_addr, outcome, attempts, error)


def _release(token: str) -> None:
    """Hand back what this run claimed but did not finish (budget spent, or an error escaped)."""
    try:
        db.session.rollback()
        db.session.execute(
            sa.update(EmailMessage)
            .where(EmailMessage.claim_token == token, EmailMessage.status == EmailStatus.SENDING)
            .values(status=EmailStatus.PENDING, claim_token=None, claimed_at=None)
            .execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the claims then expire after STALE_CLAIM
        db.session.rollback()
        logger.exception("e-mail outbox: could not release claim %s", token)


def send_pending_emails(now: datetime | None = None, limit: int = 50,
                        smtp_factory: Callable[[], object] | None = None) -> dict:
    """Deliver up to `limit` committed, due outbox messages; returns {"sent", "failed", "retried"}.

    `smtp_factory()` returns a connected SMTP object (default: connect_smtp, from the MAIL_* settings).
    Commits: the claim, then each message on its own — call it outside any business transaction, in an
    app context. SMTP problems never raise: a refused or failed message is retried after RETRY_BACKOFF
    up to MAIL_MAX_ATTEMPTS, then marked 'failed' with last_error; an unreachable server counts as one
    failed attempt for every message of the batch. Raises only database errors. Running it again right
    away sends nothing twice.
    """
    current = now or utcnow()
    factory = smtp_factory or connect_smtp
    stats = {"sent": 0, "failed": 0, "retried": 0}
    release_stale_claims(now=current)
    token = uuid.uuid4().hex
    queue = _claim(token, current, limit)
    if not queue:
        return stats
    started = time.monotonic()
    conn = None
    finished = False
    try:
        while queue:
            if time.monotonic() - started > SENDING_BUDGET_SECONDS:
                break   # the rest goes back to pending in `finally`
            message = queue.pop(0)
            try:
                mime = build_mime(message, now=now)
            except ValueError as exc:
                _record_failure(message, token, exc, current, stats, permanent=True)
                continue
            if conn is None:
                try:
                    conn = factory()
                except Exception as exc:  # noqa: BLE001 - unreachable server: this attempt failed for all
                    for unsent in (message, *queue):
                        _record_failure(unsent, token, exc, current, stats)
                    queue.clear()
                    break
            try:
                conn.send_message(mime, from_addr=parseaddr(mime["From"])[1], to_addrs=[message.to_addr.strip()])
            except Exception as exc:  # noqa: BLE001 - recorded on the row; the next message gets a fresh connection
                _close(conn)
                conn = None
                _record_failure(message, token, exc, current, stats, permanent=_is_permanent(exc))
            else:
                if _finish(message, token, dict(status=EmailStatus.SENT, sent_at=now or utcnow(),
                                                attempts=message.attempts + 1, next_attempt_at=None)):
                    stats["sent"] += 1
        finished = not queue
    finally:
        _close(conn)
        if not finished:
            _release(token)
    return stats


def send_pending_emails_job() -> dict:
    """APScheduler entry point: one batch of the outbox. Takes nothing, so it can run in any process.

    It needs an app context, which the caller provides, e.g.
    ``scheduler.add_job(run_in_app(app, send_pending_emails_job), "interval", seconds=10, ...)`` where the
    wrapper does ``with app.app_context(): send_pending_emails_job()``. Commits (see send_pending_emails).
    """
    stats = send_pending_emails()
    if any(stats.values()):
        logger.info("e-mail outbox: sent %(sent)d, retried %(retried)d, failed %(failed)d", stats)
    return stats
