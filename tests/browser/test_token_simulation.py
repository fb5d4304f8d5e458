"""A designer plays a diagram in the modeler before deploying it (bpmn-js-token-simulation), in Chinese."""
from __future__ import annotations

import re

from tests.browser.conftest import ARTIFACTS


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/tasks|/designer|/$"))


def test_a_designer_plays_a_diagram_in_the_modeler(live_server, page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server.url, "designer")
    page.goto(f"{live_server.url}/designer/files/dispute_escalation.bpmn/modeler")
    page.wait_for_selector('.modeler-body[data-state="ready"]')
    toggle = page.locator(".bts-toggle-mode")
    assert toggle.inner_text().strip() == "流程模拟"
    toggle.click()
    page.wait_for_selector(".simulation")               # the canvas is in simulation mode
    # the start event offers a play button (overlays show from a readable zoom); a token runs to the
    # first waiting step
    box = page.locator('.djs-element[data-element-id="start"]').first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    for _ in range(4):
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(150)
    page.keyboard.up("Control")
    page.locator('.djs-element[data-element-id="start"]').first.hover()
    page.locator('[data-container-id="start"] .bts-context-pad[title="触发事件"]').click()
    page.wait_for_timeout(1500)
    page.locator('.bts-entry[title="显示/隐藏模拟日志"]').click()
    log = page.locator(".bts-log")
    log.wait_for(state="visible")
    text = log.inner_text()
    assert "模拟日志" in text and "流程 已开始" in text
    assert not re.search(r"Simulation|Process started|Start Event|No Entries", text)
    shown = page.locator(".djs-container").inner_text()       # the notifications too
    assert "模拟播放中" in shown and not re.search(r"Simulation|Finished|Not supported", shown)
    page.screenshot(path=str(ARTIFACTS / "token-simulation.png"), full_page=False)
    assert errors == []
    # leaving the simulation gives the modeler back
    toggle.click()
    page.wait_for_selector(".simulation", state="detached")
