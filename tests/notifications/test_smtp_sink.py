"""The test sink itself speaks enough SMTP for smtplib, so the outbox tests measure the sender, not the sink."""
from __future__ import annotations

import smtplib

from .smtp_sink import SmtpSink


def test_sink_session_commands_and_dot_unstuffing():
    with SmtpSink() as sink, smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
        assert smtp.helo("tester")[0] == 250
        assert smtp.noop()[0] == 250
        assert smtp.rcpt("early@wuyi.test")[0] == 503          # RCPT before MAIL
        assert smtp.mail("a@wuyi.test")[0] == 250
        assert smtp.rset()[0] == 250
        assert smtp.rcpt("after-rset@wuyi.test")[0] == 503      # RSET forgot the sender
        assert smtp.docmd("VRFY", "x")[0] == 502
        smtp.sendmail("a@wuyi.test", ["b@wuyi.test", "c@wuyi.test"],
                      b"Subject: hi\r\n\r\n.leading dot\r\nplain\r\n")
    [got] = sink.messages
    assert got.mail_from == "a@wuyi.test" and got.rcpt_tos == ["b@wuyi.test", "c@wuyi.test"]
    assert got.data == b"Subject: hi\r\n\r\n.leading dot\r\nplain\r\n"
    assert got.message["Subject"] == "hi" and sink.commands[-1].upper() == "QUIT"


def test_sink_refusals_and_auth():
    with SmtpSink(refuse={"no@wuyi.test": 550}, credentials=("u", "p")) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            assert smtp.ehlo()[0] == 250 and smtp.has_extn("auth")
            assert smtp.mail("a@wuyi.test")[0] == 530                    # must log in first
            smtp.login("u", "p")
            assert smtp.mail("a@wuyi.test")[0] == 250
            assert smtp.rcpt("no@wuyi.test")[0] == 550
        sink.fail_all = 451
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            smtp.login("u", "p")
            assert smtp.mail("a@wuyi.test")[0] == 451
    assert sink.messages == [] and sink.connections == 2 and sink.errors == []
