"""``sharedclient account add`` + ``account test`` against the real Dovecot and Postfix."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.app import main
from tests.memory_keyring import MemoryKeyring
from tests.servers.proxy import RewritingProxy

if TYPE_CHECKING:
    from tests.conftest import MailServers


def run(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def add(basedir: Path, servers: MailServers, *, name: str = "work", user: str = "alice", pw: str | None = None,
        imap: str | None = None, smtp: str | None = None, smtp_security: str = "starttls",
        extra: tuple[str, ...] = (), ca: bool = True) -> None:
    d, p = servers.dovecot, servers.postfix
    argv = [
        "account", "add", name, "--email", f"{user}@example.test",
        "--imap", imap or f"127.0.0.1:{d.imap_tls_port}",
        "--smtp", smtp or f"127.0.0.1:{p.submission_port}", "--smtp-security", smtp_security,
        "--password-stdin", *extra,
    ]  # fmt: skip
    if ca:
        argv += ["--ca-file", str(servers.certs.ca_pem)]
    code, _, err = run(basedir, *argv, stdin=(pw or f"{user}-secret-pw") + "\n")
    assert code == 0, err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_account_test_succeeds_over_tls(tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring) -> None:
    add(tmp_path, mail_servers)
    code, out, err = run(tmp_path, "account", "test", "work")
    assert (code, err) == (0, "")
    imap_line, _, smtp_line, _, verdict = out.strip().splitlines()
    assert imap_line.startswith(f"IMAP 127.0.0.1:{mail_servers.dovecot.imap_tls_port} (tls): OK, TLSv1.")
    assert smtp_line.startswith(f"SMTP 127.0.0.1:{mail_servers.postfix.submission_port} (starttls): OK, TLSv1.")
    assert "ACL" in out and "NAMESPACE" in out and "DSN" in out
    assert verdict == "Account “work” is ready: IMAP and SMTP both accept the login over TLS."


def test_starttls_imap_and_implicit_tls_smtp(tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring) -> None:
    host = mail_servers.dovecot.strict_host or "127.0.0.1"  # 127.0.0.2 advertises LOGINDISABLED before STARTTLS
    add(tmp_path, mail_servers, imap=f"{host}:{mail_servers.dovecot.imap_port}",
        smtp=f"127.0.0.1:{mail_servers.postfix.submissions_port}", smtp_security="tls",
        extra=("--imap-security", "starttls"))
    code, out, err = run(tmp_path, "account", "test", "work")
    assert code == 0, out + err
    assert "(starttls): OK" in out and "(tls): OK" in out


def test_wrong_password_is_one_clear_sentence(tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring) -> None:
    add(tmp_path, mail_servers, pw="not-the-password")
    code, out, err = run(tmp_path, "account", "test", "work")
    assert code == 1
    assert "rejected the user name or password for alice@example.test" in err
    assert "Traceback" not in err and "FAILED" in out


def test_untrusted_certificate_names_the_host(tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring) -> None:
    add(tmp_path, mail_servers, ca=False)
    code, _, err = run(tmp_path, "account", "test", "work")
    assert code == 1
    port = mail_servers.dovecot.imap_tls_port
    assert f"The certificate of the IMAP server 127.0.0.1:{port} is not trusted" in err
    assert "--ca-file" in err and "Traceback" not in err


def test_closed_port_is_one_clear_sentence(tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring) -> None:
    port = closed_port()
    add(tmp_path, mail_servers, imap=f"127.0.0.1:{port}")
    code, _, err = run(tmp_path, "account", "test", "work")
    assert code == 1
    assert f"The IMAP server 127.0.0.1:{port} refused the connection" in err


def test_missing_starttls_is_refused_and_no_password_is_sent(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    """A man in the middle strips STARTTLS from the capabilities: we refuse instead of logging in."""
    host = mail_servers.dovecot.strict_host or "127.0.0.1"

    def strip(data: bytes) -> bytes:
        return data.replace(b" STARTTLS", b"").replace(b" LOGINDISABLED", b"")

    with RewritingProxy(host, mail_servers.dovecot.imap_port, strip) as proxy:
        add(tmp_path, mail_servers, imap=f"127.0.0.1:{proxy.port}", extra=("--imap-security", "starttls"))
        code, _, err = run(tmp_path, "account", "test", "work")
    assert code == 1
    assert f"The IMAP server 127.0.0.1:{proxy.port} does not offer STARTTLS" in err
    assert b"alice-secret-pw" not in bytes(proxy.client_bytes)
    assert b"LOGIN" not in bytes(proxy.client_bytes).upper().replace(b"LOGINDISABLED", b"")
