"""Browser tests: Debian's chromium driven by Playwright against a real server process.

Never `playwright install`: the browser is /usr/bin/chromium (apt). Without it these tests skip,
except in CI (CI=true), where a missing browser fails the run.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SEED = """
from app import create_app
from app.processes.deploy import deploy_folder
from app.seed import seed_demo_users
app = create_app()
with app.app_context():
    seed_demo_users(app.config["DEMO_PASSWORD"])
    problems = [str(p) for o in deploy_folder() for p in o.problems]
    assert not problems, problems
"""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI requires the browser tests: " + message, pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(tmp: Path) -> str:
    """A database of its own: a SQLite file, or a fresh PostgreSQL database beside the test one."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp / 'browser.sqlite'}"
    import sqlalchemy as sa
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "wuyi_browser_test" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "wuyi_browser_test"'))
    engine.dispose()
    return sa.engine.make_url(base).set(database="wuyi_browser_test").render_as_string(hide_password=False)


class LiveServer:
    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.env = {**os.environ, "DATABASE_URL": _database_url(tmp), "WUYI_ENV": "development",
                    "SECRET_KEY": "browser-test", "PYTHONUNBUFFERED": "1"}
        self.env.pop("TEST_DATABASE_URL", None)
        self.proc = None
        self.log = None

    def flask(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=PROJECT, env=self.env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])

    def python(self, code: str) -> None:
        done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=self.env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])

    def start(self) -> None:
        self.log = open(self.tmp / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(self.port), "--no-scheduler"],
            cwd=PROJECT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start:\n" + (self.tmp / "server.log").read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        if self.log is not None:
            self.log.close()
            self.log = None

    def api(self, method: str, path: str, user: str, json=None) -> requests.Response:
        token = requests.post(self.url + "/api/v1/auth/token", json={"username": user, "password": "demo12345"},
                              timeout=30).json()["token"]
        return requests.request(method, self.url + path, json=json, timeout=30,
                                headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    _require_chromium()
    server = LiveServer(tmp_path_factory.mktemp("browser"))
    server.flask("db", "upgrade")
    server.python(SEED)   # the demo users and bpmn/ (not the demo cases: this test brings its own)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    _require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900},
                                   timezone_id="Asia/Shanghai")
    context.set_default_timeout(15000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()
