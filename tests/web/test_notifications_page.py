"""The notifications page: marking one notice read keeps the reader on its page."""
from __future__ import annotations

import re


def test_marking_one_notice_read_stays_on_its_page(units, browser, db):
    from app.auth.services import get_user_by_username
    from app.notifications.services import notify
    user = get_user_by_username("intake1")
    for i in range(25):
        notify([user.id], "remind", f"催办第{i}条", email=False)
    db.session.commit()
    browser.login("intake1")
    html = browser.text(browser.get("/notifications?page=2"))
    note_id = re.search(r'name="id" value="(\d+)"', html).group(1)
    resp = browser.post("/notifications/read", {"id": note_id, "page": "2"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/notifications?page=2")
    everything = browser.post("/notifications/read", {"page": "2"})     # 全部标为已读: back to the top
    assert everything.headers["Location"].endswith("/notifications")
