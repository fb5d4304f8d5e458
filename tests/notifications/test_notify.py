"""notify() writes in the caller's transaction; unread counts, listing, mark_read; group lookup."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

T0 = datetime(2025, 9, 29, 2, 0, tzinfo=timezone.utc)


def _count(db, model, *where) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def test_notify_adds_one_row_per_distinct_user_and_counts_unread_per_user(db, make_user, mail_config):
    from app.notifications.models import EmailMessage, Notification
    from app.notifications.services import notify, unread_count
    a, b, c = make_user("zhang"), make_user("li"), make_user("wang")
    rows = notify([a.id, b.id, a.id], "remind", "催办：请尽快办理 JM-2025-0001", "已进入黄色预警。", now=T0)
    notify([a.id], "supervise", "督办：JM-2025-0001", now=T0 + timedelta(minutes=1))
    db.session.commit()

    assert [r.user_id for r in rows] == [a.id, b.id]
    assert {r.kind for r in rows} == {"remind"} and all(r.created_at == T0 and r.read_at is None for r in rows)
    assert (unread_count(a.id), unread_count(b.id), unread_count(c.id)) == (2, 1, 0)
    assert _count(db, Notification) == 3
    assert _count(db, EmailMessage) == 3   # one mail per notification of a user with an address
    mails = db.session.execute(sa.select(EmailMessage).order_by(EmailMessage.id)).scalars().all()
    assert [m.to_addr for m in mails] == ["zhang@wuyi.test", "li@wuyi.test", "zhang@wuyi.test"]
    assert mails[0].subject == "催办：请尽快办理 JM-2025-0001" and mails[0].body == "已进入黄色预警。"
    assert all(m.status == "pending" and m.attempts == 0 and m.next_attempt_at is None for m in mails)


def test_notify_flushes_but_never_commits(db, make_user, mail_config):
    """The outbox pattern: the caller's rollback takes the notification and its mail with it."""
    from app.notifications.models import EmailMessage, Notification
    from app.notifications.services import notify
    user = make_user("zhang")
    db.session.commit()
    rows = notify([user.id], "overdue", "超期：JM-2025-0002", now=T0)
    assert rows[0].id is not None                 # flushed: the caller can reference it
    assert _count(db, EmailMessage) == 1          # visible inside the transaction
    db.session.rollback()
    assert _count(db, Notification) == 0 and _count(db, EmailMessage) == 0


def test_notify_skips_unknown_users_and_refuses_unknown_kinds(db, make_user, mail_config):
    from app.notifications.services import notify
    user = make_user()
    assert [n.user_id for n in notify([user.id, 999_999], "info", "hello")] == [user.id]
    assert notify([], "info", "nobody") == []
    assert [n.user_id for n in notify(user.id, "info", "a single id")] == [user.id]
    with pytest.raises(ValueError, match="unknown notification kind 'remindd'"):
        notify([user.id], "remindd", "typo")


def test_notify_keeps_a_case_reference_and_clips_long_titles(db, make_user, mail_config):
    from app.cases.models import Case
    from app.notifications.services import notify
    user = make_user()
    case = Case(process_key="complaint", number="JM-2025-0929-000001", title="企业诉求")
    db.session.add(case)
    db.session.flush()
    long_title = "预警：" + "很长的标题" * 60 + "\n第二行"
    [row] = notify([user.id], "warn", long_title, case_id=case.id)
    db.session.commit()
    assert row.case_id == case.id and row.human_task_id is None
    assert len(row.title) == 200 and row.title.endswith("…") and "\n" not in row.title


@pytest.mark.parametrize("enabled, email_flag, expected", [
    (True, True, 1), ("true", True, 1), ("1", True, 1),
    (False, True, 0), ("false", True, 0), ("0", True, 0), (None, True, 0),
    (True, False, 0),
])
def test_mail_is_queued_only_when_enabled_and_asked_for(db, make_user, app, monkeypatch, enabled, email_flag,
                                                        expected):
    from app.notifications.models import EmailMessage
    from app.notifications.services import notify
    monkeypatch.setitem(app.config, "MAIL_ENABLED", enabled)
    user = make_user()
    notify([user.id], "info", "通知", email=email_flag)
    assert _count(db, EmailMessage) == expected


def test_mail_is_off_when_not_configured(db, make_user, app):
    from app.notifications.models import EmailMessage
    from app.notifications.services import notify
    assert "MAIL_ENABLED" not in app.config or not app.config["MAIL_ENABLED"]
    notify([make_user().id], "info", "通知")
    assert _count(db, EmailMessage) == 0


def test_no_mail_for_users_without_a_usable_address_or_inactive(db, make_user, mail_config):
    from app.notifications.models import EmailMessage, Notification
    from app.notifications.services import notify
    ok = make_user("ok")
    users = [make_user("none", email=None), make_user("blank", email="  "), make_user("bad", email="not-an-address"),
             make_user("inject", email="a@wuyi.test\r\nBcc: victim@wuyi.test"), make_user("gone", active=False)]
    notify([ok.id] + [u.id for u in users], "assigned", "任务分派")
    assert _count(db, Notification) == 6          # everyone still sees it in the application
    assert db.session.execute(sa.select(EmailMessage.to_addr)).scalars().all() == ["ok@wuyi.test"]


def test_users_in_groups_returns_active_members_once(db, make_user):
    from app.notifications.services import users_in_groups
    a = make_user("a", groups=("intake", "dispatch"))
    b = make_user("b", groups=("dispatch",))
    make_user("c", groups=("handler",))
    make_user("d", groups=("intake",), active=False)
    assert users_in_groups(["intake", "dispatch", "intake"]) == sorted([a.id, b.id])
    assert users_in_groups("dispatch") == sorted([a.id, b.id])
    assert users_in_groups(["no-such-group"]) == [] and users_in_groups([]) == []


def test_list_notifications_newest_first_with_unread_filter_and_pages(db, make_user):
    from app.notifications.services import list_notifications, mark_read, notify
    user, other = make_user(), make_user()
    for i in range(5):
        notify([user.id], "info", f"第{i}条", now=T0 + timedelta(minutes=i))
    notify([other.id], "info", "别人的")
    db.session.commit()
    first = list_notifications(user.id, per_page=2)
    assert [n.title for n in first.items] == ["第4条", "第3条"] and first.total == 5
    assert [n.title for n in list_notifications(user.id, page=3, per_page=2).items] == ["第0条"]
    mark_read(user.id, [first.items[0].id], now=T0 + timedelta(hours=1))
    unread = list_notifications(user.id, unread_only=True)
    assert unread.total == 4 and "第4条" not in [n.title for n in unread.items]
    assert list_notifications(user.id, per_page=10_000).per_page == 100


def test_mark_read_touches_only_the_users_own_rows_and_commits(db, make_user):
    from app.notifications.models import Notification
    from app.notifications.services import mark_read, notify, unread_count
    me, you = make_user("me"), make_user("you")
    mine = notify([me.id, me.id], "remind", "催办")    # deduplicated: one row
    mine += notify([me.id], "warn", "预警")
    yours = notify([you.id], "remind", "催办")
    db.session.commit()
    read_time = T0 + timedelta(days=1)

    # someone else's id is ignored, never marked
    assert mark_read(me.id, [yours[0].id, mine[0].id], now=read_time) == 1
    db.session.rollback()                              # mark_read committed: a rollback cannot undo it
    db.session.expire_all()
    assert (unread_count(me.id), unread_count(you.id)) == (1, 1)
    assert db.session.get(Notification, mine[0].id).read_at == read_time
    assert db.session.get(Notification, yours[0].id).read_at is None

    assert mark_read(me.id, [], now=read_time) == 0
    assert mark_read(me.id, now=read_time) == 1        # all the rest of mine
    assert mark_read(me.id, now=read_time) == 0        # already read: nothing changes, read_at kept
    db.session.expire_all()
    assert (unread_count(me.id), unread_count(you.id)) == (0, 1)
