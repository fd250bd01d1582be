"""Hostile networks against the real Dovecot and Postfix: bad certificates and STARTTLS attacks.

A loopback proxy (tests/servers/proxy.py) sits between SharedClient and the servers and plays the
attacker: it presents certificates of its own (self-signed, or a trusted CA's certificate for another
host), strips STARTTLS, answers PREAUTH, or injects replies in clear (USENIX Security 2021 "Why TLS is
better without STARTTLS"; Thunderbird CVE-2020-12398, CVE-2021-29969). Every connection must be refused
with a sentence naming the host and the reason, and the proxy -- which decrypts what it can -- must never
see a LOGIN/AUTH command or the password. Gaps filled here; the existing cases live in
tests/integration/test_account_cli.py (IMAP STARTTLS stripped, untrusted CA on implicit-TLS IMAP).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.app import main
from sharedclient.core import smtp
from sharedclient.core.errors import SharedClientError, StartTlsUnavailableError, TlsError
from sharedclient.core.imap.session import close_imap, open_imap
from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.tls import check_plaintext, is_loopback
from tests.hardening.certs import BadCert, self_signed, wrong_host
from tests.memory_keyring import MemoryKeyring
from tests.servers.proxy import Intercept, RewritingProxy

if TYPE_CHECKING:
    from tests.conftest import MailServers

USER = "alice@example.test"
PASSWORD = "alice-secret-pw"
_CREDENTIAL_COMMAND = re.compile(rb"(?im)^(?:\S+ )?(?:LOGIN|AUTHENTICATE|AUTH)\b")


def account(servers: MailServers, service: str, port: int, security: Security, ca_file: Path | None = None) -> Account:
    """alice's account with ``service`` pointed at the proxy on 127.0.0.1:``port``."""
    real_imap = Endpoint("127.0.0.1", servers.dovecot.imap_tls_port, Security.TLS)
    real_smtp = Endpoint("127.0.0.1", servers.postfix.submission_port, Security.STARTTLS)
    proxied = Endpoint("127.0.0.1", port, security)
    return Account(
        name="work", email=USER, username=USER, ca_file=str(ca_file or servers.certs.ca_pem),
        imap=proxied if service == "IMAP" else real_imap, smtp=proxied if service == "SMTP" else real_smtp,
    )  # fmt: skip


def connect(acct: Account, service: str) -> None:
    """Open (and close) the connection the way every part of SharedClient does."""
    if service == "IMAP":
        close_imap(open_imap(acct, PASSWORD))
    else:
        smtp.close_smtp(smtp.open_smtp(acct, PASSWORD))


def assert_no_credentials(proxy: RewritingProxy) -> None:
    seen = bytes(proxy.client_bytes)
    assert PASSWORD.encode() not in seen
    assert base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()) not in seen  # AUTH PLAIN
    assert base64.b64encode(PASSWORD.encode()) not in seen  # AUTH LOGIN
    assert not _CREDENTIAL_COMMAND.search(seen), seen


def real_port(servers: MailServers, service: str, security: Security) -> tuple[str, int]:
    if service == "IMAP":
        if security is Security.TLS:
            return "127.0.0.1", servers.dovecot.imap_tls_port
        return servers.dovecot.strict_host or "127.0.0.1", servers.dovecot.imap_port
    return "127.0.0.1", servers.postfix.submissions_port if security is Security.TLS else servers.postfix.submission_port


# ------------------------------------------------------------------------------------------ certificates


@pytest.fixture(scope="module")
def bad_certs(tmp_path_factory: pytest.TempPathFactory, mail_servers: MailServers) -> dict[str, BadCert]:
    directory = tmp_path_factory.mktemp("badcerts")
    return {"self-signed": self_signed(directory, mail_servers.certs.ca_pem), "wrong-host": wrong_host(directory)}


@pytest.mark.parametrize("kind", ["self-signed", "wrong-host"])
@pytest.mark.parametrize("security", [Security.TLS, Security.STARTTLS], ids=["implicit-tls", "starttls"])
@pytest.mark.parametrize("service", ["IMAP", "SMTP"])
def test_bad_certificate_is_refused_before_any_login(
    mail_servers: MailServers, bad_certs: dict[str, BadCert], service: str, security: Security, kind: str
) -> None:
    bad = bad_certs[kind]
    mode = "implicit" if security is Security.TLS else "starttls"
    with RewritingProxy(*real_port(mail_servers, service, security), intercept=Intercept(bad.cert_pem, bad.key_pem, mode)) as proxy:
        with pytest.raises(TlsError) as info:
            connect(account(mail_servers, service, proxy.port, security, bad.ca_pem), service)
    message = info.value.user_message
    assert message.startswith(f"The certificate of the {service} server 127.0.0.1:{proxy.port} is not trusted")
    assert bad.reason in message and "nothing was sent" in message
    assert proxy.tls_failures, "the client must have refused the handshake at the proxy"
    assert_no_credentials(proxy)


def test_the_intercepting_proxy_would_see_a_login(mail_servers: MailServers, tmp_path: Path) -> None:
    """The certificate tests can fail: when the client trusts the proxy's CA, the proxy reads the LOGIN."""
    trusted = self_signed(tmp_path / "s", mail_servers.certs.ca_pem)
    with RewritingProxy(*real_port(mail_servers, "IMAP", Security.TLS),
                        intercept=Intercept(trusted.cert_pem, trusted.key_pem)) as proxy:
        connect(account(mail_servers, "IMAP", proxy.port, Security.TLS, trusted.cert_pem), "IMAP")
    assert PASSWORD.encode() in bytes(proxy.client_bytes) and not proxy.tls_failures


def test_account_test_names_host_and_reason_for_a_wrong_host_certificate(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring, bad_certs: dict[str, BadCert]
) -> None:
    bad = bad_certs["wrong-host"]
    intercept = Intercept(bad.cert_pem, bad.key_pem, "starttls")
    with RewritingProxy("127.0.0.1", mail_servers.postfix.submission_port, intercept=intercept) as proxy:
        out, err = io.StringIO(), io.StringIO()
        base = ["--basedir", str(tmp_path)]
        assert main([*base, "account", "add", "work", "--email", USER, "--imap",
                     f"127.0.0.1:{mail_servers.dovecot.imap_tls_port}", "--smtp", f"127.0.0.1:{proxy.port}",
                     "--smtp-security", "starttls", "--ca-file", str(bad.ca_pem), "--password-stdin"],
                    stdin=io.StringIO(PASSWORD + "\n"), stdout=out, stderr=err) == 0, err.getvalue()  # fmt: skip
        code = main([*base, "account", "test", "work"], stdin=io.StringIO(), stdout=out, stderr=err)
    assert code == 1
    assert f"The certificate of the SMTP server 127.0.0.1:{proxy.port} is not trusted ({bad.reason})" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert_no_credentials(proxy)


# ------------------------------------------------------------------------------------------ STARTTLS attacks


def once(match: bytes, replace: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """A rewrite applied to the first server chunk containing ``match`` only."""
    done = False

    def rewrite(data: bytes) -> bytes:
        nonlocal done
        if not done and match in data:
            done = True
            return replace(data)
        return data

    return rewrite


def refused(servers: MailServers, service: str, rewrite: Callable[[bytes], bytes], **proxy_args: object) -> tuple[SharedClientError, RewritingProxy]:
    with RewritingProxy(*real_port(servers, service, Security.STARTTLS), rewrite, **proxy_args) as proxy:  # type: ignore[arg-type]
        with pytest.raises(SharedClientError) as info:
            connect(account(servers, service, proxy.port, Security.STARTTLS), service)
    assert_no_credentials(proxy)
    return info.value, proxy


def test_smtp_starttls_stripped_from_ehlo_is_refused(mail_servers: MailServers) -> None:
    err, proxy = refused(mail_servers, "SMTP", lambda d: re.sub(rb"250[- ]STARTTLS\r\n", b"", d))
    assert isinstance(err, StartTlsUnavailableError)
    assert err.user_message.startswith(f"The SMTP server 127.0.0.1:{proxy.port} does not offer STARTTLS")
    assert "never sends a password unencrypted" in err.user_message


def test_imap_preauth_in_clear_is_refused(mail_servers: MailServers) -> None:
    """A MITM answers PREAUTH so the client would skip STARTTLS and work unencrypted."""
    err, proxy = refused(mail_servers, "IMAP", once(b"* OK", lambda d: d.replace(b"* OK", b"* PREAUTH", 1)))
    assert isinstance(err, TlsError)
    assert err.user_message.startswith(f"The IMAP server 127.0.0.1:{proxy.port} claimed the session was already logged in (PREAUTH)")
    assert b"STARTTLS" not in bytes(proxy.client_bytes).replace(b"LOGINDISABLED", b"")


def _next_tag_injection(proxy_ref: list[RewritingProxy]) -> Callable[[bytes], bytes]:
    """After the STARTTLS OK, a tagged OK for the *next* command (a fake LOGIN success) and a capability."""

    def inject(data: bytes) -> bytes:
        tag = re.findall(rb"(?m)^([A-Z]+)(\d+) STARTTLS", bytes(proxy_ref[0].client_bytes))[-1]
        nxt = tag[0] + str(int(tag[1]) + 1).encode()
        return data + b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + nxt + b" OK LOGIN completed\r\n"

    return inject


@pytest.mark.parametrize("segments", ["same-segment", "next-segment"])
def test_imap_response_injected_after_starttls_ok_aborts(mail_servers: MailServers, segments: str) -> None:
    ref: list[RewritingProxy] = []
    rewrite = once(b"OK Begin TLS", lambda d: _next_tag_injection(ref)(d))

    def split(data: bytes) -> list[bytes]:  # the OK alone, the injected lines a moment later
        head, sep, tail = data.partition(b"\r\n")
        return [head + sep, tail] if segments == "next-segment" and b"LOGIN completed" in tail else [data]

    host, port = real_port(mail_servers, "IMAP", Security.STARTTLS)
    with RewritingProxy(host, port, rewrite, split=split, split_delay=0.3) as proxy:
        ref.append(proxy)
        with pytest.raises(TlsError) as info:
            connect(account(mail_servers, "IMAP", proxy.port, Security.STARTTLS), "IMAP")
    message = info.value.user_message
    if segments == "same-segment":  # found in the buffer before the handshake
        assert message.startswith(f"The IMAP server 127.0.0.1:{proxy.port} sent unexpected data right after agreeing to start TLS")
        assert "tampering" in message
    else:  # arrives during the handshake: it is not TLS, so the handshake fails (or, on a slow machine, the
        # guard already sees it before the handshake starts)
        assert message.startswith((f"The secure connection to the IMAP server 127.0.0.1:{proxy.port} failed",
                                   f"The IMAP server 127.0.0.1:{proxy.port} sent unexpected data"))  # fmt: skip
    assert "nothing was sent" in message
    assert_no_credentials(proxy)


def test_smtp_reply_injected_after_starttls_220_aborts(mail_servers: MailServers) -> None:
    err, proxy = refused(mail_servers, "SMTP", once(b"220 2.0.0", lambda d: d + b"250-PIPELINING\r\n250 AUTH PLAIN\r\n"))
    assert isinstance(err, TlsError)
    assert err.user_message.startswith(f"The SMTP server 127.0.0.1:{proxy.port} sent unexpected data right after agreeing to start TLS")


def test_smtp_reply_injected_after_greeting_aborts(mail_servers: MailServers) -> None:
    """CVE-2021-29969 style: an extra reply after 220 would be taken as the EHLO answer (no STARTTLS)."""
    err, proxy = refused(mail_servers, "SMTP", once(b"220 ", lambda d: d + b"250-fake.test\r\n250 AUTH PLAIN LOGIN\r\n"))
    assert isinstance(err, TlsError)
    assert err.user_message.startswith(f"The SMTP server 127.0.0.1:{proxy.port} sent unexpected data after its greeting")
    assert not re.search(rb"(?im)^EHLO", bytes(proxy.client_bytes))  # stopped before saying anything


def test_smtp_reply_injected_after_ehlo_aborts(mail_servers: MailServers) -> None:
    err, proxy = refused(mail_servers, "SMTP", once(b"250 ", lambda d: d + b"220 2.0.0 Ready to start TLS\r\n"))
    assert isinstance(err, TlsError)
    assert err.user_message.startswith(f"The SMTP server 127.0.0.1:{proxy.port} sent unexpected data after its EHLO reply")
    assert b"STARTTLS" not in bytes(proxy.client_bytes)


# ------------------------------------------------------------------------------------------ no plaintext login
# Never, except to a server on this computer with an explicit --allow-plaintext-loopback.


def test_starttls_happens_before_login_even_where_the_server_allows_plain_login(mail_servers: MailServers) -> None:
    """On 127.0.0.1 Dovecot offers LOGIN before STARTTLS; SharedClient still upgrades first."""
    with RewritingProxy("127.0.0.1", mail_servers.dovecot.imap_port) as proxy:
        connect(account(mail_servers, "IMAP", proxy.port, Security.STARTTLS), "IMAP")
    clear, sep, _ = bytes(proxy.client_bytes).partition(b"STARTTLS\r\n")
    assert sep and not _CREDENTIAL_COMMAND.search(clear)
    assert PASSWORD.encode() not in bytes(proxy.client_bytes)  # the rest was encrypted


def add_plain(tmp_path: Path, servers: MailServers, host: str, *flags: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["--basedir", str(tmp_path), "account", "add", "bridge", "--email", USER,
                 "--imap", f"{host}:{servers.dovecot.imap_port}", "--imap-security", "plain",
                 "--smtp", f"127.0.0.1:{servers.postfix.submission_port}", "--smtp-security", "starttls",
                 "--ca-file", str(servers.certs.ca_pem), "--password-stdin", *flags],
                stdin=io.StringIO(PASSWORD + "\n"), stdout=io.StringIO(), stderr=err)  # fmt: skip
    return code, err.getvalue()


def test_plaintext_needs_the_explicit_flag_and_a_loopback_host(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    code, err = add_plain(tmp_path, mail_servers, "127.0.0.1")
    assert code != 0 and "only when you also pass --allow-plaintext-loopback" in err
    code, err = add_plain(tmp_path, mail_servers, "mail.example.com", "--allow-plaintext-loopback")
    assert code != 0 and "mail.example.com is not on this computer" in err
    assert memory_keyring.get_password("sharedclient/default", "bridge/imap") is None  # nothing stored


def test_plaintext_login_to_loopback_with_the_flag(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    """The one case a password crosses a socket unencrypted: a server on this computer, chosen explicitly."""
    with RewritingProxy("127.0.0.1", mail_servers.dovecot.imap_port) as proxy:
        acct = account(mail_servers, "IMAP", proxy.port, Security.PLAIN)
        connect(acct, "IMAP")
    assert PASSWORD.encode() in bytes(proxy.client_bytes) and b"STARTTLS" not in bytes(proxy.client_bytes)
    code, err = add_plain(tmp_path, mail_servers, "127.0.0.1", "--allow-plaintext-loopback")
    assert code == 0, err
    out = io.StringIO()
    assert main(["--basedir", str(tmp_path), "account", "test", "bridge"], stdin=io.StringIO(), stdout=out,
                stderr=io.StringIO()) == 0  # fmt: skip
    assert f"IMAP 127.0.0.1:{mail_servers.dovecot.imap_port} (plain): OK" in out.getvalue()
    assert "IMAP unencrypted, allowed because the server is on this computer" in out.getvalue()


@pytest.mark.parametrize("service", ["IMAP", "SMTP"])
def test_a_tampered_plaintext_setting_to_another_host_sends_nothing(mail_servers: MailServers, service: str) -> None:
    """A settings file edited to "plain" for a remote server: refused before any connection is made."""
    acct = account(mail_servers, service, 143, Security.PLAIN)
    remote = Endpoint("192.0.2.10", 143, Security.PLAIN)  # TEST-NET: connecting would just hang
    acct = dataclasses.replace(acct, **{service.lower(): remote})
    started = time.monotonic()
    with pytest.raises(TlsError) as info:
        connect(acct, service)
    assert time.monotonic() - started < 1.0
    assert info.value.user_message.startswith(f"The {service} server 192.0.2.10:143 is set up without encryption")


def test_plaintext_peer_must_really_be_loopback() -> None:
    """"localhost" made to resolve elsewhere: the connected peer address decides."""

    class Peer:
        def __init__(self, addr: str) -> None:
            self.addr = addr

        def getpeername(self) -> tuple[str, int]:
            return (self.addr, 143)

    check_plaintext("localhost", Peer("127.0.0.1"), "IMAP", "localhost:143")  # type: ignore[arg-type]
    check_plaintext("localhost", Peer("::1"), "IMAP", "localhost:143")  # type: ignore[arg-type]
    with pytest.raises(TlsError):
        check_plaintext("localhost", Peer("192.0.2.7"), "IMAP", "localhost:143")  # type: ignore[arg-type]
    for host in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "::ffff:127.0.0.1", "localhost", "mail.localhost"):
        assert is_loopback(host), host
    for host in ("10.0.0.1", "example.com", "localhost.example.com", "0.0.0.0", "::ffff:8.8.8.8"):
        assert not is_loopback(host), host
