"""Every command in the README's ```sh blocks is run here, so the README cannot drift from the code.

How each kind of command is checked:

* `curl ...` (and `VAR=$(curl ...)`): run by bash, as written, against a real server this test starts
  on a free loopback port with the demo seeded (`localhost:5000` is rewritten to that port). Each
  curl must print JSON without an `error` key; a curl of `/metrics` must print Prometheus samples
  (every line starting with `wuyi_`: grep them out).
* `.venv/bin/flask --app wsgi ...`: run as written (placeholders filled in, see `PLACEHOLDERS`)
  against a temporary SQLite database (DATABASE_URL) in a scratch working directory, in README order;
  each must exit 0, and a `# → value` comment is the output it must print. `users create` and
  `users set-password` prompt for the password: it is fed on stdin. `export VAR=...` lines set the
  environment of the lines after them (DATABASE_URL stays the scratch SQLite file).
* `VAR=$(.venv/bin/flask --app wsgi integration add-client ...)`: registers the platform in the
  database of the server the curls run against (so the signed curl after it is accepted); the value
  is kept for the commands after it, like a curl's.
* `scripts/...` paths are the project's scripts (the commands run in a scratch directory).
* long-running servers (`gunicorn ...`, `flask ... scheduler run`): started as written, checked to
  serve /healthz (gunicorn, on a free port instead of the README's) or to stay up (the
  dispatcher), then stopped.
* `make run`, `make test`, `make bench`: checked structurally, not run (they install, build assets,
  run the whole suite or the benchmarks: minutes each): the Makefile has the target and
  `make -n TARGET` succeeds.

Any other shape of command fails the test: a new kind of README command needs a way to be checked.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.server.conftest import Server, free_port, scratch_database_url

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"
PASSWORD = "readme-pass-123"
# what the README writes as a placeholder -> what is run instead
PLACEHOLDERS = {
    " NAME ": " readme_user ",
    "[FILE...]": "",
}
# a README option in brackets ("[--json]") is run with the option given
OPTIONAL = re.compile(r"\[(--[^\]]+)\]")


# --- reading the README ------------------------------------------------------------------------

def code_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(info string, lines) of every fenced code block, by CommonMark's rule: a fence closes only on
    a bare fence of at least the same length."""
    blocks, current, fence, info = [], None, "", ""
    for line in text.splitlines():
        stripped = line.strip()
        if current is None:
            m = re.match(r"^(`{3,})\s*(\S*)", stripped)
            if m:
                fence, info, current = m.group(1), m.group(2), []
        elif re.fullmatch(r"`{3,}", stripped) and len(stripped) >= len(fence):
            blocks.append((info, current))
            current = None
        else:
            current.append(line)
    assert current is None, f"README.md: a ``` fence is never closed (opened as ```{info})"
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """The command and its trailing `# comment` (a # outside quotes, after a space)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def commands(lines: list[str]) -> list[tuple[str, str]]:
    """(command, comment) of a sh block: continuation lines joined, comment-only lines dropped."""
    out, pending = [], ""
    for line in lines:
        cmd, comment = split_comment(line)
        if not cmd.strip():
            continue
        if cmd.endswith("\\"):
            pending += cmd[:-1] + " "
            continue
        out.append(((pending + cmd).strip(), comment))
        pending = ""
    assert not pending, f"a README command ends with a line continuation: {pending!r}"
    return out


def readme_commands() -> list[tuple[str, str]]:
    blocks = code_blocks(README.read_text(encoding="utf-8"))
    # a block without "sh" would be rendered but never run: every README block is a sh block
    assert [info for info, _ in blocks if info != "sh"] == [], "README.md has a code block that is not ```sh"
    return [c for _, lines in blocks for c in commands(lines)]


def test_the_readme_parser_sees_every_command():
    cmds = [c for c, _ in readme_commands()]
    assert "make run" in cmds and "make test" in cmds and "make bench" in cmds
    assert any(c.startswith("TOKEN=$(curl") for c in cmds)
    assert any("calendar add" in c for c in cmds)
    assert any(c.startswith(".venv/bin/gunicorn") for c in cmds)
    assert split_comment("a 'x # y' # z") == ("a 'x # y'", "z")


# --- running them ------------------------------------------------------------------------------

def _fill(cmd: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        cmd = cmd.replace(placeholder, value)
    cmd = OPTIONAL.sub(r"\1", cmd)
    cmd = re.sub(r"(?<=[\s@])scripts/", f"{PROJECT}/scripts/", cmd)
    cmd = cmd.replace(" -c gunicorn.conf.py ", f" -c {PROJECT}/gunicorn.conf.py ")   # run from a scratch folder
    return cmd.replace(".venv/bin/", f"{PROJECT}/.venv/bin/")


def _bash(cmd: str, env: dict, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def _check_make(cmd: str) -> None:
    target = shlex.split(cmd)[1]
    makefile = (PROJECT / "Makefile").read_text()
    assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"Makefile has no target {target}"
    done = subprocess.run(["make", "-n", target], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (cmd, done.stdout, done.stderr)


def _check_long_running(cmd: str, env: dict, cwd: Path) -> None:
    """Start it, see it serve (gunicorn: /healthz) or stay up (the dispatcher), stop it."""
    port = None
    if "gunicorn" in cmd:
        port = free_port()
        cmd = re.sub(r"-b \S+", f"-b 127.0.0.1:{port}", cmd)
    log = cwd / f"long-{time.time_ns()}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, (cmd, log.read_text())
                if port is None:
                    if "dispatcher running" in log.read_text():
                        time.sleep(2)   # and still running after its first dispatch
                        assert proc.poll() is None, (cmd, log.read_text())
                        return
                else:
                    try:
                        if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200:
                            return
                    except (requests.ConnectionError, requests.Timeout):   # still booting (a loaded machine)
                        pass
                time.sleep(0.2)
            raise AssertionError(f"{cmd} did not come up:\n{log.read_text()}")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def _check_curl(cmd: str, env: dict, cwd: Path) -> None:
    done = _bash(cmd, env, cwd)
    assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    if "=" in cmd.split()[0]:   # VAR=$(...): keep the value for the commands after it
        name = cmd.split("=", 1)[0]
        value = _bash(f'{cmd}; printf %s "${name}"', env, cwd).stdout
        assert value.strip(), f"{cmd} set {name} to nothing"
        env[name] = value
        return
    if "/metrics" in cmd:     # the Prometheus text format, not JSON: every line a sample of ours
        lines = done.stdout.splitlines()
        assert lines and all(line.startswith("wuyi_") for line in lines), (cmd, done.stdout[:2000])
        return
    body = json.loads(done.stdout)
    assert "error" not in body, (cmd, body)


def _check_flask(cmd: str, comment: str, env: dict, cwd: Path) -> None:
    prompts = (" users create ", " users set-password ")   # both prompt for the password twice
    stdin = f"{PASSWORD}\n{PASSWORD}\n" if any(p in f"{cmd} " for p in prompts) else None
    done = _bash(cmd, env, cwd, stdin)
    assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    expected = re.match(r"→\s*(\S+)", comment)
    if expected:
        assert expected.group(1) in done.stdout, (cmd, done.stdout)


def _check_register(cmd: str, env: dict, cwd: Path, server_database_url: str) -> None:
    """VAR=$(flask ... integration add-client ...): on the server's database; VAR kept."""
    name = cmd.split("=", 1)[0]
    done = _bash(f'{cmd}; printf %s "${name}"', {**env, "DATABASE_URL": server_database_url}, cwd)
    assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    assert done.stdout.strip(), f"{cmd} set {name} to nothing"
    env[name] = done.stdout.strip()


def _export(cmd: str, env: dict, database_url: str) -> None:
    name, value = cmd[len("export "):].split("=", 1)
    env[name] = database_url if name == "DATABASE_URL" else shlex.split(value)[0]


def _schedule_file(cwd: Path) -> None:
    """`calendar load-year 2027.json`: the example file of app/calendar/examples/README.md."""
    example = code_blocks((PROJECT / "app/calendar/examples/README.md").read_text(encoding="utf-8"))
    body = next(lines for info, lines in example if info == "json")
    (cwd / "2027.json").write_text("\n".join(body), encoding="utf-8")


@pytest.fixture
def api_server(tmp_path):
    srv = Server(scratch_database_url(tmp_path, "wuyi_readme_test"), tmp_path)
    for cmd in (("db", "upgrade"), ("seed", "demo")):
        done = srv.flask(*cmd)
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    srv.start()
    yield srv
    srv.stop()


def test_every_readme_command_works(api_server, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _schedule_file(cwd)
    database_url = f"sqlite:///{tmp_path / 'readme.sqlite'}"
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "WUYI_ENV", "SECRET_KEY")}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(PROJECT), PYTHONUNBUFFERED="1",
               DISPATCH_INTERVAL_SECONDS="1")
    upgrade = _bash(f"{PROJECT}/.venv/bin/flask --app wsgi db upgrade", env, cwd)   # README lists it later
    assert upgrade.returncode == 0, upgrade.stderr
    host = api_server.url.removeprefix("http://")
    checked = 0
    for cmd, comment in readme_commands():
        cmd = _fill(cmd).replace("localhost:5000", host)
        if cmd.startswith("make "):
            _check_make(cmd)
        elif cmd.startswith("export "):
            _export(cmd, env, database_url)
        elif re.match(r"^[A-Z_]+=\$\(" + re.escape(f"{PROJECT}/.venv/bin/flask --app wsgi integration add-client "),
                      cmd):
            _check_register(cmd, env, cwd, api_server.database_url)
        elif "curl " in cmd:
            _check_curl(cmd, env, cwd)
        elif "gunicorn " in cmd or cmd.endswith(" scheduler run"):
            _check_long_running(cmd, env, cwd)
        elif cmd.startswith(f"{PROJECT}/.venv/bin/flask --app wsgi "):
            _check_flask(cmd, comment, env, cwd)
        else:
            raise AssertionError(f"README command of a kind this test cannot check: {cmd}")
        checked += 1
    assert checked >= 20
