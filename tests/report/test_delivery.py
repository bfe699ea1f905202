"""SMTP delivery against a real SMTP server on 127.0.0.1: the digest arrives mail-safe, failure
notices reach only the failure list, nobody is emailed twice, and a server that is down leaves
the mail in the outbox for `send --retry`."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import os
import re
import socket

import pytest
from aiosmtpd.controller import Controller
from test_email import assert_email_safe, cids_of, html_of, make_run

from crmlib.errors import ConfigError
from crmlib.report.email.delivery import SmtpSettings, project_root, send_run, smtp_settings


class Collector:
    """aiosmtpd handler keeping every accepted message; refuses addresses in ``refuse``."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(content, policy=email.policy.default)
            for _, _, content in self.messages
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, handler: Collector) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def settings_for(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        sender="CRM Reports <crm@example.com>",
        timeout=5,
        retries=2,
        backoff=0.01,
    )


@pytest.fixture
def smtp():
    handler = Collector(refuse=("nobody@example.com",))
    port = free_port()
    controller = start_server(port, handler)
    yield port, handler
    controller.stop()


def no_sleep(seconds: float) -> None:
    assert seconds >= 0


def test_digest_is_delivered_mail_safe_and_only_once(tmp_path, smtp):
    port, server = smtp
    run_dir = make_run(tmp_path)
    result = send_run(run_dir, settings=settings_for(port), sleep=no_sleep)
    assert result.ok and result.kind == "digest"
    assert sorted(result.sent) == ["ceo@example.com", "cfo@example.com"]
    assert sorted(rcpt for _, rcpts, _ in server.messages for rcpt in rcpts) == [
        "ceo@example.com",
        "cfo@example.com",
    ]
    assert {mail_from for mail_from, _, _ in server.messages} == {"crm@example.com"}

    for msg in server.parsed():
        html = html_of(msg)
        assert_email_safe(html)
        referenced = set(re.findall(r'src="cid:([^"]+)"', html))
        assert referenced and referenced == cids_of(msg)  # every cid: has a part and vice versa
        plain = msg.get_body(preferencelist=("plain",)).get_content()
        assert "Revenue grew" in plain
        assert msg["From"] == "CRM Reports <crm@example.com>"
        assert msg["To"] in ("ceo@example.com", "cfo@example.com")  # one message per recipient

    log = json.loads((run_dir / "sent.json").read_text(encoding="utf-8"))["sent"]
    assert sorted((e["recipient"], e["kind"]) for e in log) == [
        ("ceo@example.com", "digest"),
        ("cfo@example.com", "digest"),
    ]
    assert {e["message_id"] for e in log} == {m["Message-ID"] for m in server.parsed()}
    assert not (run_dir / "outbox").exists()

    again = send_run(run_dir, settings=settings_for(port), sleep=no_sleep)
    assert again.sent == [] and sorted(again.already_sent) == ["ceo@example.com", "cfo@example.com"]
    assert len(server.messages) == 2


def test_failed_run_sends_only_the_notice_to_the_failure_list(tmp_path, smtp):
    port, server = smtp
    run_dir = make_run(
        tmp_path, status="failed", failure=["analyst@example.com", "ops@example.com"]
    )
    result = send_run(run_dir, settings=settings_for(port), sleep=no_sleep)
    assert result.kind == "failure" and sorted(result.sent) == [
        "analyst@example.com",
        "ops@example.com",
    ]
    recipients = sorted(rcpt for _, rcpts, _ in server.messages for rcpt in rcpts)
    assert recipients == ["analyst@example.com", "ops@example.com"]
    for msg in server.parsed():
        assert msg["X-CRMWB-Kind"] == "failure"
        assert not any(part.get_content_maintype() == "image" for part in msg.walk())
        assert list(msg.iter_attachments()) == []
        assert "rfm" in msg.get_body(preferencelist=("plain",)).get_content()


def test_smtp_down_then_up_delivers_once_from_the_outbox(tmp_path):
    port = free_port()  # nothing listens here yet
    run_dir = make_run(tmp_path)
    waits: list[float] = []
    down = send_run(run_dir, settings=settings_for(port), sleep=waits.append)
    assert not down.ok and down.sent == []
    assert sorted(down.failed) == ["ceo@example.com", "cfo@example.com"]
    assert "ConnectionRefusedError" in down.failed["ceo@example.com"]
    assert waits == [0.01, 0.02]  # exponential backoff, then the second message is not tried
    outbox = sorted((run_dir / "outbox").glob("*.eml"))
    assert [p.name for p in outbox] == [
        "digest--ceo@example.com.eml",
        "digest--cfo@example.com.eml",
    ]
    queued_ids = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Message-ID"]
        for p in outbox
    }
    assert not (run_dir / "sent.json").exists()

    server = Collector()
    controller = start_server(port, server)
    try:
        retried = send_run(run_dir, retry=True, settings=settings_for(port), sleep=no_sleep)
        assert retried.ok and sorted(retried.sent) == ["ceo@example.com", "cfo@example.com"]
        assert len(server.messages) == 2
        # the very messages from the outbox, with their original Message-IDs
        assert {m["Message-ID"] for m in server.parsed()} == queued_ids
        assert not (run_dir / "outbox").exists()

        again = send_run(run_dir, retry=True, settings=settings_for(port), sleep=no_sleep)
        assert again.sent == [] and again.failed == {}
        plain = send_run(run_dir, settings=settings_for(port), sleep=no_sleep)
        assert plain.sent == [] and sorted(plain.already_sent) == [
            "ceo@example.com",
            "cfo@example.com",
        ]
        assert len(server.messages) == 2
    finally:
        controller.stop()


def test_a_permanently_refused_recipient_is_recorded_once_and_never_retried(
    tmp_path, smtp, monkeypatch, capsys
):
    from crmlib.report import cli

    port, server = smtp
    run_dir = make_run(tmp_path, success=["ceo@example.com", "nobody@example.com"])
    waits: list[float] = []
    result = send_run(run_dir, settings=settings_for(port), sleep=waits.append)
    assert result.sent == ["ceo@example.com"]
    assert list(result.refused) == ["nobody@example.com"]
    assert "550" in result.refused["nobody@example.com"] and not result.failed
    assert not result.ok and "refused (permanent, not retried) 1" in result.summary()
    assert waits == []  # a permanent refusal is not retried
    assert not (run_dir / "outbox").exists()  # nothing left for send --retry
    log = json.loads((run_dir / "refused.json").read_text(encoding="utf-8"))["refused"]
    assert [(e["recipient"], e["kind"]) for e in log] == [("nobody@example.com", "digest")]
    assert "550 5.1.1 mailbox unavailable" in log[0]["error"]
    assert len(server.messages) == 1

    # send --retry finds nothing to do; a plain send again skips the refused address
    monkeypatch.setattr(
        "crmlib.report.email.delivery.smtp_settings", lambda **kw: settings_for(port)
    )
    reports = run_dir.parents[1]
    assert cli.main(["send", "--retry", "--reports-dir", str(reports)]) == 0
    assert "nothing waits in an outbox" in capsys.readouterr().out
    again = send_run(run_dir, settings=settings_for(port), sleep=waits.append)
    assert again.ok and again.sent == [] and again.already_sent == ["ceo@example.com"]
    assert list(again.refused_before) == ["nobody@example.com"]
    assert len(server.messages) == 1 and waits == []
    assert len(json.loads((run_dir / "refused.json").read_text())["refused"]) == 1  # once


def test_a_temporary_refusal_stays_in_the_outbox(tmp_path):
    class Busy(Collector):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "450 4.2.1 mailbox busy, try later"

    port = free_port()
    controller = start_server(port, Busy())
    try:
        run_dir = make_run(tmp_path, success=["ceo@example.com"])
        waits: list[float] = []
        result = send_run(run_dir, settings=settings_for(port), sleep=waits.append)
    finally:
        controller.stop()
    assert list(result.failed) == ["ceo@example.com"] and not result.refused
    assert len(waits) == 2  # retried with back-off (retries=2), then left for --retry
    assert [p.name for p in (run_dir / "outbox").glob("*.eml")] == ["digest--ceo@example.com.eml"]
    assert not (run_dir / "refused.json").exists()


class AuthCollector(Collector):
    """Records every AUTH command the server receives (the server offers AUTH without TLS)."""

    def __init__(self) -> None:
        super().__init__()
        self.auth_lines: list[str] = []

    async def handle_AUTH(self, server, session, envelope, args):
        self.auth_lines.append(" ".join(args))
        return "235 2.7.0 Authentication successful"


def test_plain_text_login_only_to_loopback(tmp_path, monkeypatch):
    from crmlib.report.email.smtpconfig import is_loopback

    handler = AuthCollector()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, auth_require_tls=False, auth_exclude_mechanism=[]
    )
    controller.start()
    try:
        # a host that is not this machine: refused before any connection is opened
        run_dir = make_run(tmp_path / "a", success=["ceo@example.com"])
        remote = dataclasses.replace(
            settings_for(port), host="smtp.example.com", user="crm", password="s3cret"
        )
        with pytest.raises(ConfigError, match="CRMWB_SMTP_SECURITY=none.*clear text"):
            send_run(run_dir, settings=remote, sleep=no_sleep)
        assert handler.auth_lines == [] and handler.messages == []
        assert (run_dir / "outbox").exists() is False  # nothing was even queued

        # the same settings against this machine log in and send
        local = dataclasses.replace(remote, host="127.0.0.1")
        result = send_run(run_dir, settings=local, sleep=no_sleep)
    finally:
        controller.stop()
    assert result.ok and len(handler.messages) == 1
    assert handler.auth_lines  # the login happened, on loopback only
    for host, expected in [
        ("localhost", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.5", False),
        ("smtp.example.com", False),
        ("localhost.evil.example", False),
    ]:
        assert is_loopback(host) is expected, host


@pytest.mark.parametrize(
    "sender",
    [
        "CRM <crm@example.com>\r\nBcc: victim@example.com",
        "crm@example.com\nX-Injected: 1",
        "not an address",
    ],
)
def test_sender_with_a_line_break_or_no_address_is_refused(tmp_path, sender, monkeypatch, capsys):
    from crmlib.report import cli

    with pytest.raises(ConfigError, match="CRMWB_SMTP_SENDER"):
        smtp_settings(env={"CRMWB_SMTP_SENDER": sender}, dotenv_path=tmp_path / "none.env")
    run_dir = make_run(tmp_path)
    monkeypatch.setenv("CRMWB_SMTP_SENDER", sender)
    monkeypatch.setenv("CRMWB_SMTP_HOST", "127.0.0.1")
    code = cli.main(["send", str(run_dir), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "CRMWB_SMTP_SENDER" in err
    assert "Traceback" not in err


def test_dry_run_writes_eml_files_and_sends_nothing(tmp_path):
    run_dir = make_run(tmp_path)
    result = send_run(run_dir, dry_run=True, settings=SmtpSettings(), sleep=no_sleep)
    assert sorted(p.name for p in result.written) == [
        "digest--ceo@example.com.eml",
        "digest--cfo@example.com.eml",
    ]
    assert all(p.parent == run_dir / "outbox-dry-run" for p in result.written)
    msg = email.message_from_bytes(result.written[0].read_bytes(), policy=email.policy.default)
    assert set(re.findall(r'src="cid:([^"]+)"', html_of(msg))) == cids_of(msg)
    assert not (run_dir / "sent.json").exists() and not (run_dir / "outbox").exists()


def test_sending_without_host_or_sender_names_the_variable(tmp_path):
    run_dir = make_run(tmp_path)
    with pytest.raises(ConfigError, match="CRMWB_SMTP_HOST"):
        send_run(run_dir, settings=SmtpSettings(sender="crm@example.com"))
    with pytest.raises(ConfigError, match="CRMWB_SMTP_SENDER"):
        send_run(run_dir, settings=SmtpSettings(host="127.0.0.1"))


def test_dotenv_is_read_without_overriding_the_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "CRMWB_SMTP_HOST=file-host.example.com\n"
        "CRMWB_SMTP_PORT=2525\n"
        "CRMWB_SMTP_SECURITY=ssl\n"
        'CRMWB_SMTP_SENDER="Reports <reports@example.com>"\n'
        "CRMWB_SMTP_PASSWORD=from-file\n",
        encoding="utf-8",
    )
    for name in ("HOST", "PORT", "SECURITY", "SENDER", "PASSWORD", "USER", "RETRIES"):
        monkeypatch.delenv(f"CRMWB_SMTP_{name}", raising=False)
    monkeypatch.setenv("CRMWB_SMTP_HOST", "real-env-host.example.com")
    monkeypatch.setenv("CRMWB_SMTP_RETRIES", "5")
    settings = smtp_settings(dotenv_path=env_file)
    assert settings.host == "real-env-host.example.com"  # the real environment wins
    assert settings.port == 2525 and settings.security == "ssl"  # the rest comes from the file
    assert settings.sender == "Reports <reports@example.com>" and settings.password == "from-file"
    assert settings.retries == 5
    assert "CRMWB_SMTP_PORT" not in os.environ  # the file is read, not loaded into os.environ
    assert "from-file" not in repr(settings)

    defaults = smtp_settings(env={}, dotenv_path=tmp_path / "missing.env")
    assert (defaults.host, defaults.port, defaults.security) == ("", 587, "starttls")
    assert smtp_settings(env={"CRMWB_SMTP_SECURITY": "none"}, dotenv_path=env_file).port == 2525
    assert smtp_settings(env={"CRMWB_SMTP_SECURITY": "ssl"}, dotenv_path=tmp_path / "x").port == 465


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CRMWB_SMTP_SECURITY": "tls"}, "CRMWB_SMTP_SECURITY.*'tls'"),
        ({"CRMWB_SMTP_PORT": "70000"}, "CRMWB_SMTP_PORT"),
        ({"CRMWB_SMTP_PORT": "smtp"}, "CRMWB_SMTP_PORT must be a number"),
        ({"CRMWB_SMTP_BACKOFF": "-1"}, "CRMWB_SMTP_BACKOFF"),
    ],
)
def test_bad_smtp_settings_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        smtp_settings(env=env, dotenv_path=tmp_path / "none.env")


def test_project_root_of_an_installed_workbook_is_its_params_folder(tmp_path):
    """Without pyproject.toml (pip-installed), the .env is found beside params/."""
    run_dir = tmp_path / "shop" / "reports" / "weekly" / "2026-W47"
    run_dir.mkdir(parents=True)
    (tmp_path / "shop" / "params").mkdir()
    assert project_root(run_dir) == (tmp_path / "shop").resolve()


def test_old_delivery_module_still_works_and_warns():
    import crmlib.report.delivery as old

    with pytest.warns(DeprecationWarning, match="crmlib.report.email.delivery"):
        assert old.send_run is send_run
