"""A tiny threaded SMTP server on 127.0.0.1 for tests: keeps what it receives and refuses on demand.

Not `smtpd` (deprecated; its import warning is an error here) and not aiosmtpd (not installed).
Speaks just enough ESMTP for smtplib: EHLO/HELO, AUTH PLAIN (when `credentials` is set),
MAIL FROM, RCPT TO, DATA (with dot-unstuffing), RSET, NOOP, QUIT.
"""
from __future__ import annotations

import base64
import binascii
import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes                      # as it went over the wire (CRLF), unstuffed
    message: EmailMessage            # parsed (LF line ends) with email.policy.default


@dataclass
class SmtpSink:
    """Start with `with SmtpSink() as sink:` (or start()/stop()); then point MAIL_SERVER/MAIL_PORT at it.

    fail_all: reply this code (e.g. 451) to every MAIL FROM, so every message fails.
    refuse:   recipient address (lower case) -> code replied to its RCPT TO (451 transient, 550 permanent).
    credentials: (user, password) -> advertise AUTH PLAIN and require it before MAIL FROM.
    """

    host: str = "127.0.0.1"
    fail_all: int | None = None
    refuse: dict[str, int] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self):
        self.lock = threading.Lock()
        self._server = _Server((self.host, 0), _Handler)
        self._server.sink = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "SmtpSink":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"smtp-sink-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def received_by(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.messages if address in r.rcpt_tos]

    def _store(self, received: Received) -> None:
        with self.lock:
            self.messages.append(received)

    def _log(self, line: str) -> None:
        with self.lock:
            self.commands.append(line)


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    sink: SmtpSink

    def handle_error(self, request, client_address):  # keep tracebacks for the test, not stderr
        import sys
        self.sink.errors.append(sys.exc_info()[1])


def _address(arg: str) -> str:
    """`FROM:<a@b> SIZE=12` -> a@b"""
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:rest.find(">")] if ">" in rest else rest[1:]
    return rest.split(" ")[0]


class _Handler(socketserver.StreamRequestHandler):
    timeout = 15

    def reply(self, code: int, text: str = "OK") -> None:
        self.wfile.write(f"{code} {text}\r\n".encode())
        self.wfile.flush()

    def reply_lines(self, code: int, lines: list[str]) -> None:
        out = "".join(f"{code}-{line}\r\n" for line in lines[:-1]) + f"{code} {lines[-1]}\r\n"
        self.wfile.write(out.encode())
        self.wfile.flush()

    def readline(self) -> bytes:
        return self.rfile.readline(1 << 20)

    def handle(self) -> None:
        sink: SmtpSink = self.server.sink
        with sink.lock:
            sink.connections += 1
        try:
            self.session(sink)
        except (ConnectionError, TimeoutError, OSError):
            pass   # the client went away

    def session(self, sink: SmtpSink) -> None:
        mail_from: str | None = None
        rcpts: list[str] = []
        authenticated = sink.credentials is None
        self.reply(220, "sink ESMTP ready")
        while True:
            line = self.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            sink._log(text if verb != "AUTH" else "AUTH ***")
            if verb == "EHLO":
                mail_from, rcpts = None, []
                extensions = ["sink.localhost", "8BITMIME", "SIZE 10485760"]
                if sink.credentials:
                    extensions.append("AUTH PLAIN")
                self.reply_lines(250, extensions + ["HELP"])
            elif verb == "HELO":
                mail_from, rcpts = None, []
                self.reply(250, "sink.localhost")
            elif verb == "AUTH":
                authenticated = self.auth(sink, arg) or authenticated
            elif verb == "MAIL":
                if not authenticated:
                    self.reply(530, "5.7.0 Authentication required")
                elif sink.fail_all:
                    self.reply(sink.fail_all, "4.3.0 Try again later (sink told to fail)")
                elif not arg.upper().startswith("FROM:"):
                    self.reply(501, "Syntax: MAIL FROM:<address>")
                else:
                    mail_from, rcpts = _address(arg), []
                    self.reply(250)
            elif verb == "RCPT":
                if mail_from is None:
                    self.reply(503, "Need MAIL first")
                elif not arg.upper().startswith("TO:"):
                    self.reply(501, "Syntax: RCPT TO:<address>")
                else:
                    address = _address(arg)
                    code = sink.refuse.get(address.lower())
                    if code:
                        self.reply(code, f"Mailbox {address} refused (sink told to)")
                    else:
                        rcpts.append(address)
                        self.reply(250)
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    self.reply(503, "Need RCPT first")
                    continue
                self.reply(354, "End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                if data is None:
                    return
                parsed = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
                sink._store(Received(mail_from, list(rcpts), data, parsed))
                mail_from, rcpts = None, []
                self.reply(250, "2.0.0 Queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply(250)
            elif verb == "NOOP":
                self.reply(250)
            elif verb == "QUIT":
                self.reply(221, "Bye")
                return
            else:
                self.reply(502, "Command not implemented")

    def read_data(self) -> bytes | None:
        lines = []
        while True:
            line = self.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            if line.startswith(b"."):
                line = line[1:]   # RFC 5321 §4.5.2 transparency
            lines.append(line)

    def auth(self, sink: SmtpSink, arg: str) -> bool:
        mechanism, _, initial = arg.partition(" ")
        if sink.credentials is None or mechanism.upper() != "PLAIN":
            self.reply(504, "Unrecognized authentication type")
            return False
        if not initial:
            self.reply(334, "")
            initial = self.readline().decode("ascii", "replace").strip()
        try:
            _, user, password = base64.b64decode(initial, validate=True).decode("utf-8").split("\0")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            self.reply(501, "Malformed AUTH PLAIN")
            return False
        if (user, password) != sink.credentials:
            self.reply(535, "5.7.8 Authentication credentials invalid")
            return False
        self.reply(235, "2.7.0 Authentication successful")
        return True
