"""The demo's submission server, for real over 127.0.0.1 with TLS verified against a trustme CA."""

from __future__ import annotations

import base64
import contextlib
import gc
import logging
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from sharedclient.devservers.submission import SubmissionServer, lmtp_deliverer

HOST = "127.0.0.1"
DOMAIN = "example.test"
USERS = {"alice": "alice-pw", "bob": "bob-pw"}
SENDER_LOGINS = {
    "alice@example.test": ["alice"],
    "bob@example.test": ["bob"],
    "support@example.test": ["alice", "bob"],
    "sales@example.test": ["bob"],
}
MESSAGE = (
    b"From: Support <support@example.test>\r\n"
    b"To: Carol <carol@example.test>\r\n"
    b"Subject: Your order\r\n"
    b"Message-ID: <1@example.test>\r\n"
    b"\r\n"
    b"It shipped today.\r\n"
)

Delivered = list[tuple[str, list[str], bytes]]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_files(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(cafile, cert chain, key) for a server certificate valid for 127.0.0.1."""
    cert = ca.issue_cert(HOST, "localhost")
    cafile, chain, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(cafile))
    cert.cert_chain_pems[0].write_to_path(str(chain))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(chain), append=True)
    cert.private_key_pem.write_to_path(str(key))
    return cafile, chain, key


@pytest.fixture
def client_tls(tls_files: tuple[Path, Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))  # verifies chain and host name


@pytest.fixture
def delivered() -> Delivered:
    return []


@pytest.fixture
def make_server(
    tls_files: tuple[Path, Path, Path], delivered: Delivered
) -> Iterator[Callable[..., SubmissionServer]]:
    servers: list[SubmissionServer] = []

    def make(
        *,
        implicit_tls: bool = False,
        deliver: Callable[[str, list[str], bytes], None] | None = None,
        local_recipients: list[str] | None = None,
    ) -> SubmissionServer:
        def collect(sender: str, rcpts: list[str], data: bytes) -> None:
            delivered.append((sender, rcpts, data))

        server = SubmissionServer(
            HOST, 0, cert_pem=tls_files[1], key_pem=tls_files[2], users=USERS,
            sender_logins=SENDER_LOGINS, local_domain=DOMAIN, deliver=deliver or collect,
            implicit_tls=implicit_tls, local_recipients=local_recipients,
        )
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., SubmissionServer]) -> SubmissionServer:
    return make_server()


def connect(server: SubmissionServer, context: ssl.SSLContext, login: str | None = "alice") -> smtplib.SMTP:
    client = smtplib.SMTP(HOST, server.port, local_hostname="localhost", timeout=10)
    client.starttls(context=context)
    if login is not None:
        client.login(login, USERS[login])
    return client


def test_starttls_auth_and_send_is_delivered(
    server: SubmissionServer, client_tls: ssl.SSLContext, delivered: Delivered, caplog: pytest.LogCaptureFixture
) -> None:
    assert server.port != 0
    caplog.set_level(logging.INFO)
    with smtplib.SMTP(HOST, server.port, local_hostname="localhost", timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=client_tls)
        client.ehlo()
        assert client.has_extn("dsn")
        assert set(client.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        client.login("alice", "alice-pw")
        assert client.sendmail("support@example.test", ["carol@example.test"], MESSAGE) == {}
    assert delivered == [("support@example.test", ["carol@example.test"], MESSAGE)]
    # aiosmtpd's per-AUTH "login_data is deprecated" warning is filtered out: a clean session logs no warning.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_auth_login_mechanism_works(server: SubmissionServer, client_tls: ssl.SSLContext) -> None:
    with connect(server, client_tls, login=None) as client:
        client.ehlo()
        client.user, client.password = "bob", "bob-pw"
        assert client.auth("LOGIN", client.auth_login)[0] == 235


def test_auth_and_mail_before_starttls_are_refused(server: SubmissionServer) -> None:
    with smtplib.SMTP(HOST, server.port, local_hostname="localhost", timeout=10) as client:
        client.ehlo()
        creds = base64.b64encode(b"\0alice\0alice-pw").decode()
        code, text = client.docmd("AUTH", f"PLAIN {creds}")
        assert code == 530 and b"STARTTLS" in text
        assert client.mail("alice@example.test")[0] == 530


def test_wrong_password_is_535(server: SubmissionServer, client_tls: ssl.SSLContext) -> None:
    with connect(server, client_tls, login=None) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            client.login("alice", "wrong")
        assert err.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("mallory", "alice-pw")


def test_mail_from_needs_auth(server: SubmissionServer, client_tls: ssl.SSLContext) -> None:
    with connect(server, client_tls, login=None) as client:
        client.ehlo()
        code, text = client.mail("alice@example.test")
        assert (code, text) == (530, b"5.7.0 Authentication required")


@pytest.mark.parametrize("sender", ["sales@example.test", "bob@example.test", "nobody@example.test", ""])
def test_sender_not_owned_is_refused_with_postfix_wording(
    server: SubmissionServer, client_tls: ssl.SSLContext, delivered: Delivered, sender: str
) -> None:
    with connect(server, client_tls, login="alice") as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            client.sendmail(sender, ["carol@example.test"], MESSAGE)
    assert err.value.recipients == {
        "carol@example.test": (553, f"5.7.1 <{sender}>: Sender address rejected: not owned by user alice".encode())
    }
    assert delivered == []


def test_sender_ownership_ignores_case(
    server: SubmissionServer, client_tls: ssl.SSLContext, delivered: Delivered
) -> None:
    with connect(server, client_tls, login="bob") as client:
        client.sendmail("Sales@Example.TEST", ["carol@example.test"], MESSAGE)
    assert delivered[0][0] == "Sales@Example.TEST"


def test_external_recipients_go_to_sink(
    server: SubmissionServer, client_tls: ssl.SSLContext, delivered: Delivered
) -> None:
    rcpts = ["customer@example.com", "carol@example.test", "other@example.org", "dave@EXAMPLE.test"]
    with connect(server, client_tls) as client:
        client.sendmail("support@example.test", rcpts, MESSAGE)
    assert delivered == [
        ("support@example.test", ["sink@example.test", "carol@example.test", "dave@EXAMPLE.test"], MESSAGE)
    ]


def test_unknown_local_recipient_is_refused_when_the_list_is_given(
    make_server: Callable[..., SubmissionServer], client_tls: ssl.SSLContext, delivered: Delivered
) -> None:
    server = make_server(local_recipients=["carol@example.test", "sink@example.test"])
    with connect(server, client_tls) as client:
        refused = client.sendmail(
            "support@example.test", ["carol@example.test", "Nobody@example.test", "x@example.com"], MESSAGE
        )
    assert refused == {
        "Nobody@example.test": (
            550, b"5.1.1 <Nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table"
        )
    }
    assert delivered == [("support@example.test", ["carol@example.test", "sink@example.test"], MESSAGE)]


def test_dsn_parameters_are_accepted(
    server: SubmissionServer, client_tls: ssl.SSLContext, delivered: Delivered
) -> None:
    with connect(server, client_tls) as client:
        refused = client.sendmail(
            "support@example.test", ["carol@example.test", "x@example.net"], MESSAGE,
            mail_options=["RET=HDRS", "ENVID=abc"],
            rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;carol+40example.test"],
        )
        assert refused == {}
        assert client.mail("support@example.test", ["RET=FULL", "ENVID=Q+2Bx"])[0] == 250
        assert client.rcpt("carol@example.test", ["NOTIFY=NEVER"])[0] == 250
        client.rset()
    assert len(delivered) == 1


@pytest.mark.parametrize(
    ("command", "args", "options"),
    [
        ("mail", ("support@example.test",), ["RET=BODY"]),
        ("mail", ("support@example.test",), ["ENVID=a=b"]),
        ("mail", ("support@example.test",), ["RET=HDRS", "RET=FULL"]),
        ("rcpt", ("carol@example.test",), ["NOTIFY=NEVER,SUCCESS"]),
        ("rcpt", ("carol@example.test",), ["ORCPT=carol@example.test"]),
    ],
)
def test_malformed_dsn_parameters_are_501(
    server: SubmissionServer, client_tls: ssl.SSLContext, command: str, args: tuple[str], options: list[str]
) -> None:
    with connect(server, client_tls) as client:
        if command == "rcpt":
            assert client.mail("support@example.test")[0] == 250
        code, text = getattr(client, command)(*args, options)
        assert code == 501 and text.startswith(b"5.5.4 ")


def test_implicit_tls(
    make_server: Callable[..., SubmissionServer], client_tls: ssl.SSLContext, delivered: Delivered
) -> None:
    server = make_server(implicit_tls=True)
    with smtplib.SMTP_SSL(HOST, server.port, local_hostname="localhost", context=client_tls, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("starttls") and client.has_extn("auth") and client.has_extn("dsn")
        assert client.mail("support@example.test")[0] == 530
        client.rset()
        client.login("alice", "alice-pw")
        client.sendmail("support@example.test", ["customer@example.com"], MESSAGE, mail_options=["RET=HDRS"])
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("sales@example.test", ["carol@example.test"], MESSAGE)
    assert delivered == [("support@example.test", ["sink@example.test"], MESSAGE)]


def test_untrusted_certificate_is_refused(server: SubmissionServer) -> None:
    with smtplib.SMTP(HOST, server.port, local_hostname="localhost", timeout=10) as client:
        other_ca = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=other_ca)


def test_delivery_failure_is_451_and_logged(
    make_server: Callable[..., SubmissionServer], client_tls: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: str, rcpts: list[str], data: bytes) -> None:
        raise ConnectionRefusedError("LMTP is down")

    server = make_server(deliver=broken)
    with caplog.at_level(logging.ERROR, logger="sharedclient.devservers.submission"):
        with connect(server, client_tls) as client:
            with pytest.raises(smtplib.SMTPDataError) as err:
                client.sendmail("support@example.test", ["carol@example.test"], MESSAGE)
    assert err.value.smtp_code == 451 and err.value.smtp_error.startswith(b"4.3.0 ")
    assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_stop_with_open_connections_leaves_nothing_behind(
    tls_files: tuple[Path, Path, Path], client_tls: ssl.SSLContext
) -> None:
    threads_before = set(threading.enumerate())
    for implicit in (False, True):
        server = SubmissionServer(
            HOST, 0, cert_pem=tls_files[1], key_pem=tls_files[2], users=USERS, sender_logins=SENDER_LOGINS,
            local_domain=DOMAIN, deliver=lambda *_: None, implicit_tls=implicit,
        )
        with contextlib.ExitStack() as clients:
            with server:
                if implicit:
                    idle = smtplib.SMTP_SSL(
                        HOST, server.port, local_hostname="localhost", context=client_tls, timeout=10
                    )
                    idle.login("alice", "alice-pw")
                else:
                    idle = connect(server, client_tls)
                clients.callback(idle.close)
                idle.sendmail("alice@example.test", ["x@example.com"], MESSAGE)  # also starts the delivery thread
                # Connections that never spoke (no TLS handshake in implicit mode), some not yet accepted.
                for _ in range(5):
                    clients.enter_context(socket.create_connection((HOST, server.port), timeout=10))
        server.stop()  # idempotent
    gc.collect()  # unclosed transports/sockets would raise ResourceWarning (an error under -W error) here
    assert set(threading.enumerate()) == threads_before


def test_port_in_use_is_a_network_error(server: SubmissionServer, tls_files: tuple[Path, Path, Path]) -> None:
    from sharedclient.core.errors import NetworkError

    other = SubmissionServer(
        HOST, server.port, cert_pem=tls_files[1], key_pem=tls_files[2], users=USERS, sender_logins={},
        local_domain=DOMAIN, deliver=lambda *_: None,
    )
    with pytest.raises(NetworkError) as err:
        other.start()
    assert str(server.port) in err.value.user_message


class _LmtpController(Controller):
    def factory(self) -> SMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def test_lmtp_deliverer_makes_one_transaction_per_recipient() -> None:
    """Against aiosmtpd's LMTP server (the demo uses Dovecot's)."""
    transactions: list[tuple[str, list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            transactions.append((envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b""))
            return "250 2.0.0 Ok"

    controller = _LmtpController(Handler(), hostname=HOST, port=0, server_hostname="lmtp.test")
    # aiosmtpd's Controller cannot report an ephemeral port, so borrow a free one.
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        controller.port = probe.getsockname()[1]
    controller.start()
    try:
        lmtp_deliverer(HOST, controller.port)("support@example.test", ["a@example.test", "b@example.test"], MESSAGE)
    finally:
        controller.stop()
    assert transactions == [
        ("support@example.test", ["a@example.test"], MESSAGE),
        ("support@example.test", ["b@example.test"], MESSAGE),
    ]
