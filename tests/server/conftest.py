"""A real server process on loopback, on its own database file (or the PostgreSQL test database)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database_url: str, instance_dir: Path):
        self.database_url = database_url
        self.instance_dir = instance_dir
        self.port = free_port()
        self.proc = None
        self.env = {**os.environ, "DATABASE_URL": database_url, "WUYI_ENV": "development",
                    "SECRET_KEY": "server-test", "PYTHONUNBUFFERED": "1"}
        self.env.pop("TEST_DATABASE_URL", None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=PROJECT, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def start(self, *extra: str) -> None:
        self.log = open(self.instance_dir / f"server-{time.time_ns()}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(self.port), *extra],
            cwd=PROJECT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.log.flush()
        raise RuntimeError("server did not start:\n" + Path(self.log.name).read_text())

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no flush, no atexit."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc:
            self.log.close()


def scratch_database_url(tmp_path: Path, name: str) -> str:
    """A database of its own: a SQLite file, or a fresh PostgreSQL database beside the test one."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_path / (name + '.sqlite')}"
    import sqlalchemy as sa
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def server(tmp_path):
    srv = Server(scratch_database_url(tmp_path, "wuyi_server_test"), tmp_path)
    for cmd in (("db", "upgrade"), ("seed", "demo"), ("bpmn", "deploy")):
        done = srv.flask(*cmd)
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    yield srv
    srv.stop()


class Client:
    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.tokens = {}

    def token(self, user):
        if user not in self.tokens:
            r = self.session.post(self.base + "/api/v1/auth/token", json={"username": user, "password": "demo12345"})
            r.raise_for_status()
            self.tokens[user] = r.json()["token"]
        return self.tokens[user]

    def call(self, method, path, user, json=None):
        return self.session.request(method, self.base + path, json=json,
                                    headers={"Authorization": f"Bearer {self.token(user)}"}, timeout=30)
