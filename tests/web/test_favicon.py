"""The site has an icon: every page links it, and /favicon.ico (asked for by browsers on their own) is
no 404."""
from __future__ import annotations

import re


def test_favicon_ico_is_served(client):
    with client.get("/favicon.ico", follow_redirects=True) as resp:   # closes the static file
        assert resp.status_code == 200
        assert resp.content_type.startswith("image/")
        assert b"<svg" in resp.data


def test_every_page_links_the_icon(client):
    html = client.get("/auth/login").get_data(as_text=True)
    link = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', html)
    assert link, "base.html has no <link rel=\"icon\">"
    with client.get(link.group(1)) as icon:
        assert icon.status_code == 200 and icon.content_type.startswith("image/svg+xml")
