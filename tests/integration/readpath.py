"""Helpers shared by the read-path integration tests (``test_read_path``, ``test_idle``).

Users made here are new for each test, so the shared seed of ``tests/conftest.py`` stays unchanged.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from sharedclient.app import main
from sharedclient.core.account_session import AccountSession
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import open_imap
from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.store.cache import HeaderCache
from sharedclient.devservers.dovecot import MailUser

if TYPE_CHECKING:
    from tests.conftest import ImapServer

DOMAIN = "example.test"
#: ``session_for(user, port=None, **AccountSession kwargs)``: the fixture in this directory's conftest.
SessionFor = Callable[..., AccountSession]


def run(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def add_account(basedir: Path, server: ImapServer, user: MailUser, name: str = "work") -> None:
    argv = [
        "account", "add", name, "--email", user.login, "--imap", f"127.0.0.1:{server.dovecot.imap_tls_port}",
        "--smtp", "127.0.0.1:587", "--ca-file", str(server.certs.ca_pem), "--password-stdin",
    ]  # fmt: skip
    code, _, err = run(basedir, *argv, stdin=user.password + "\n")
    assert code == 0, err


def new_user(server: ImapServer) -> MailUser:
    """Another isolated user (``fresh_user`` gives one per test); its special-use folders exist."""
    name = f"u{secrets.token_hex(4)}"
    user = MailUser(f"{name}@{DOMAIN}", f"{name}-secret-pw")
    server.dovecot.add_user(user)
    server.users[name] = user
    server.dovecot.doveadm("mailbox", "status", "-u", user.login, "messages", "INBOX")
    return user


def message(subject: str, *, sender: str = f"Dana <dana@customer.{DOMAIN}>", extra: dict[str, str] | None = None,
            body: str = "Hello,\nplease help.\n") -> bytes:  # fmt: skip
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"team@{DOMAIN}"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=DOMAIN)
    msg["Date"] = "Mon, 03 Jun 2024 08:30:00 +0000"
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def fill(server: ImapServer, user: MailUser, count: int) -> None:
    """``count`` small messages in ``user``'s INBOX, fast: MULTIAPPEND in batches.

    Not LMTP: each delivery rewrites the maildir's uidlist, so LMTP slows down as the mailbox grows
    (measured: ~60 messages/s at 3000, against ~1000/s here).
    """
    started = time.monotonic()
    raw = [
        (f"From: Customer {i} <c{i}@customer.test>\r\nTo: team@{DOMAIN}\r\nSubject: Bulk {i}\r\n"
         f"Message-ID: <bulk-{i}@{DOMAIN}>\r\nDate: Mon, 03 Jun 2024 08:30:00 +0000\r\n\r\nBody {i}\r\n").encode()
        for i in range(count)
    ]  # fmt: skip
    with server.imap(user.login.split("@")[0]) as client:
        for start in range(0, count, 500):
            client.multiappend("INBOX", raw[start : start + 500])
    print(f"filled {count} messages in {time.monotonic() - started:.1f} s")


def account_of(server: ImapServer, user: MailUser, port: int | None = None) -> Account:
    imap = Endpoint("127.0.0.1", port or server.dovecot.imap_tls_port, Security.TLS)
    return Account(user.login.split("@")[0], user.login, imap, imap, user.login, ca_file=str(server.certs.ca_pem))


def sessions(server: ImapServer) -> Iterator[SessionFor]:
    """Body of the ``session_for`` fixture: AccountSessions with in-memory caches, closed afterwards."""
    opened: list[AccountSession] = []

    def make(user: MailUser, port: int | None = None, **kwargs: object) -> AccountSession:
        account = account_of(server, user, port)
        session = AccountSession(
            account, lambda: ImapConnection(open_imap(account, user.password)), HeaderCache(":memory:"), **kwargs
        )
        opened.append(session)
        return session

    try:
        yield make
    finally:
        for session in opened:
            session.close()


def shared_team(server: ImapServer, rights: dict[str, str]) -> tuple[MailUser, MailUser]:
    """A new shared mailbox owner and a new teammate holding ``rights`` on the owner's folders."""
    owner, mate = new_user(server), new_user(server)
    for folder, letters in rights.items():
        server.dovecot.set_acl(owner.login, folder, mate.login, letters)
    return owner, mate


def flags_of(server: ImapServer, user: MailUser, folder: str) -> dict[int, set[str]]:
    name = user.login.split("@")[0]
    with server.imap(name) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search()
        fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
        return {uid: {f.decode() for f in d[b"FLAGS"]} - {"\\Recent"} for uid, d in fetched.items()}
