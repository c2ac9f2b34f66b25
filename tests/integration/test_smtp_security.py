"""The SMTP sender against real servers that require STARTTLS and login, or implicit TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wod.errors import MailError
from wod.mail.render import RenderedEmail, build_message
from wod.mail.sender import SmtpMailer
from wod.ports import free_port
from wod.settings import SmtpSettings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 OK"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"wod", b"s3cret")
    return AuthResult(success=ok)


def message() -> Any:
    return build_message(
        RenderedEmail("Hi", "text", "<p>html</p>"),
        sender="a@example.org",
        sender_name="A",
        recipient="b@example.org",
    )


def starttls_settings(port: int, certificate: tuple[Path, Path]) -> SmtpSettings:
    """The settings that pass the STARTTLS server: its port, its login, its certificate."""
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username="wod",
        password="s3cret",
        ca_file=certificate[0],
    )


def send_once(settings: SmtpSettings, email: Any) -> None:
    """One message as a batch of one: sent, then the connection closed."""
    mailer = SmtpMailer(settings)
    try:
        mailer.send(email)
    finally:
        mailer.close()


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Inbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    controller.start()
    yield port, inbox
    controller.stop()


def test_starttls_with_login(
    starttls_server: tuple[int, Inbox], certificate: tuple[Path, Path]
) -> None:
    port, inbox = starttls_server
    settings = starttls_settings(port, certificate)
    send_once(settings, message())
    assert len(inbox.messages) == 1 and b"Subject: Hi" in inbox.messages[0]


def test_wrong_password_or_no_tls_is_a_mail_error(
    starttls_server: tuple[int, Inbox], certificate: tuple[Path, Path]
) -> None:
    port, inbox = starttls_server
    wrong = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username="wod",
        password="nope",
        ca_file=certificate[0],
        timeout=2,
    )
    with pytest.raises(MailError):
        send_once(wrong, message())
    plain = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=2)
    with pytest.raises(MailError):
        send_once(plain, message())
    untrusted = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username="wod",
        password="s3cret",
        timeout=2,
    )  # the self-signed cert: untrusted
    with pytest.raises(MailError):
        send_once(untrusted, message())
    assert inbox.messages == []


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="ssl", ca_file=certificate[0])
        send_once(settings, message())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_body_lines_starting_with_from_arrive_unchanged(
    starttls_server: tuple[int, Inbox], certificate: tuple[Path, Path]
) -> None:
    port, inbox = starttls_server
    settings = starttls_settings(port, certificate)
    text = "Hello\nFrom your manage page you can end it.\n.\nThe end\n"
    send_once(
        settings,
        build_message(
            RenderedEmail("Hi", text, "<p>x</p>"),
            sender="a@example.org",
            sender_name="A",
            recipient="b@example.org",
        ),
    )
    raw = inbox.messages[0]
    assert b"\nFrom your manage page" in raw.replace(b"\r\n", b"\n") and b">From" not in raw


def test_one_tls_context_and_one_connection_serve_a_batch(
    starttls_server: tuple[int, Inbox],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox's pass is a batch: its messages share one connection (one STARTTLS, one
    login), and the TLS context is built once for the mailer's life, not per message."""
    built: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(create(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr("wod.mail.sender.ssl.create_default_context", counted)
    port, inbox = starttls_server
    settings = starttls_settings(port, certificate)
    mailer = SmtpMailer(settings)
    for _ in range(5):
        mailer.send(message())
    assert (len(inbox.messages), mailer.connections, len(built)) == (5, 1, 1)
    mailer.close()
    mailer.send(message())  # the next batch: a new connection, the same context
    mailer.close()
    assert (len(inbox.messages), mailer.connections, len(built)) == (6, 2, 1)


def test_without_tls_no_context_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        raise AssertionError("a TLS context for a relay without TLS")

    monkeypatch.setattr("wod.mail.sender.ssl.create_default_context", refused)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, security="none"))
        mailer.send(message())
        mailer.send(message())
        mailer.close()
    finally:
        controller.stop()
    assert (len(inbox.messages), mailer.connections) == (2, 1)


def test_a_connection_the_relay_closed_is_replaced_not_guessed(tmp_path: Path) -> None:
    """The relay restarts between two messages of a batch: the kept connection fails its
    NOOP, a new one carries the next message, and each message arrives once."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, security="none"))
    try:
        mailer.send(message())
        controller.stop()  # the relay goes away, and with it the kept connection
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        mailer.send(message())
        mailer.close()
    finally:
        controller.stop()
    assert (len(inbox.messages), mailer.connections) == (2, 2)
