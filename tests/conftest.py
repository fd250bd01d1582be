"""Shared fixtures: the real Dovecot + Postfix servers, started once per test session.

Tests that use ``mail_servers`` (or ``imap_server``) are marked ``servers`` automatically, so
``pytest -m "not servers"`` runs without them. When the servers cannot start the tests are skipped with
the install command in the reason, except on CI (``CI=true``), where that is a failure: CI must run them.

The world the servers hold (``example.test``, password of every user ``<name>-secret-pw``):

======== ============================== ======================= =========================
user     rights on support@ folders     rights on sales@ INBOX  may send as (envelope)
======== ============================== ======================= =========================
alice    lrswipkxtecda (incl. admin a)  lrs                     alice@, support@
bob      lrs (read-only)                lrswipkxte              bob@, sales@
carol    none (does not see them)       none                    carol@
support  owner                          -                       support@
sales    -                              owner                   sales@
sink     -                              -                       (receives all mail to other domains)
======== ============================== ======================= =========================

support@'s shared folders are INBOX, Sent and Archive; sales@ shares INBOX, Sent and Archive as well.
Seeded: support@ INBOX 10 customer messages (3 of them \\Seen), support@ Sent 2, sales@ INBOX 5,
alice@ INBOX 3, Public/Announcements 1. Other tests add mail, so count relative to a baseline.
"""

from __future__ import annotations

import os

# Qt must never try a real display in tests; this has to happen before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import contextlib
import secrets
import shutil
import smtplib
import ssl
import tempfile
import time
from collections.abc import Iterator
from typing import NoReturn
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from imapclient import IMAPClient

from sharedclient.core.errors import SharedClientError
from sharedclient.devservers.dovecot import DovecotInstance, MailUser
from sharedclient.devservers.tls import CertFiles, make_certs
from tests.memory_keyring import memory_keyring  # noqa: F401 - fixture
from tests.servers.postfix import PostfixInstance

DOMAIN = "example.test"
INSTALL_HINT = "sudo apt-get install dovecot-imapd dovecot-lmtpd postfix"
PEOPLE = ("alice", "bob", "carol")
SHARED_OWNERS = ("support", "sales")
SINK = "sink"
SHARED_FOLDERS = ("INBOX", "Sent", "Archive")
#: owner -> grantee -> IMAP rights on each of SHARED_FOLDERS
RIGHTS: dict[str, dict[str, str]] = {
    "support": {"alice": "lrswipkxtecda", "bob": "lrs"},
    "sales": {"alice": "lrs", "bob": "lrswipkxte"},
}
#: envelope sender (short name) -> logins (short names) allowed to use it
SENDERS: dict[str, tuple[str, ...]] = {
    "alice": ("alice",),
    "support": ("alice", "support"),
    "bob": ("bob",),
    "sales": ("bob", "sales"),
    "carol": ("carol",),
    "sink": ("sink",),
}
SEED_COUNTS = {("support", "INBOX"): 10, ("support", "Sent"): 2, ("sales", "INBOX"): 5, ("alice", "INBOX"): 3}
_SERVER_FIXTURES = frozenset({"mail_servers", "imap_server", "fresh_user"})


def addr(name: str) -> str:
    """``alice`` -> ``alice@example.test``."""
    return f"{name}@{DOMAIN}"


def password(name: str) -> str:
    return f"{name}-secret-pw"


@dataclass(frozen=True)
class ImapServer:
    """The running Dovecot plus what a test needs to talk to it."""

    dovecot: DovecotInstance
    certs: CertFiles
    domain: str
    users: dict[str, MailUser]

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying context that trusts only the session's throwaway CA."""
        return ssl.create_default_context(cafile=str(self.certs.ca_pem))

    @contextlib.contextmanager
    def imap(self, name: str, *, starttls: bool = False) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient for user ``name`` (implicit TLS, or STARTTLS on the plain port)."""
        user = self.users[name]
        if starttls:
            client = IMAPClient(self.dovecot.host, port=self.dovecot.imap_port, ssl=False, timeout=10)
        else:
            client = IMAPClient(
                self.dovecot.host, port=self.dovecot.imap_tls_port, ssl_context=self.ssl_context(), timeout=10
            )
        try:
            if starttls:
                client.starttls(self.ssl_context())
            client.login(user.login, user.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()


@dataclass(frozen=True)
class MailServers(ImapServer):
    """Dovecot and the Postfix submission server in front of it."""

    postfix: PostfixInstance

    @contextlib.contextmanager
    def smtp(self, name: str, *, implicit_tls: bool = False) -> Iterator[smtplib.SMTP]:
        """An authenticated submission session for user ``name`` (STARTTLS, or implicit TLS)."""
        user = self.users[name]
        if implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.postfix.host, self.postfix.submissions_port, timeout=10, context=self.ssl_context()
            )
        else:
            conn = smtplib.SMTP(self.postfix.host, self.postfix.submission_port, timeout=10)
        with conn:
            if not implicit_tls:
                conn.starttls(context=self.ssl_context())
            conn.login(user.login, user.password)
            yield conn


def servers_unavailable(reason: str) -> NoReturn:
    """Skip (locally) or fail (``CI=true``) because the real servers cannot run here."""
    message = f"real mail servers unavailable: {reason}\nTo run these tests: {INSTALL_HINT} (Postfix needs root)."
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _start(server: DovecotInstance | PostfixInstance) -> str | None:
    """Start ``server``; the reason it cannot run, or None (skip/fail outside the except block)."""
    try:
        server.start()
    except SharedClientError as exc:
        return str(exc)
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the servers, so ``-m "not servers"`` deselects them."""
    for item in items:
        if _SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session")
def _server_workdir() -> Iterator[Path]:
    # Not tmp_path_factory: as root its base is 0700, which the dovecot/mail/postfix users cannot enter.
    workdir = Path(tempfile.mkdtemp(prefix="sharedclient-servers-"))
    workdir.chmod(0o755)
    yield workdir
    if not os.environ.get("SHAREDCLIENT_KEEP_SERVERS"):
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def imap_server(_server_workdir: Path) -> Iterator[ImapServer]:
    """Dovecot with the seeded users, rights and mail; works as root and as a normal user."""
    names = (*PEOPLE, *SHARED_OWNERS, SINK)
    users = {name: MailUser(addr(name), password(name)) for name in names}
    certs = make_certs(_server_workdir / "tls")
    dovecot = DovecotInstance(_server_workdir / "dovecot", list(users.values()), certs)
    started = time.monotonic()
    problem = _start(dovecot)
    if problem:
        servers_unavailable(problem)
    try:
        _seed(dovecot)
        print(f"dovecot ready in {time.monotonic() - started:.2f} s (seeded)")
        yield ImapServer(dovecot=dovecot, certs=certs, domain=DOMAIN, users=users)
    finally:
        dovecot.stop()


@pytest.fixture(scope="session")
def mail_servers(imap_server: ImapServer, _server_workdir: Path) -> Iterator[MailServers]:
    """Dovecot + Postfix (submission 587-style with STARTTLS, 465-style with implicit TLS)."""
    senders = {addr(a): [addr(login) for login in logins] for a, logins in SENDERS.items()}
    postfix = PostfixInstance(_server_workdir / "postfix", imap_server.dovecot, imap_server.certs, DOMAIN, senders)
    problem = _start(postfix)
    if problem:
        servers_unavailable(problem)
    try:
        yield MailServers(
            dovecot=imap_server.dovecot,
            certs=imap_server.certs,
            domain=imap_server.domain,
            users=imap_server.users,
            postfix=postfix,
        )
    finally:
        postfix.stop()


@pytest.fixture
def fresh_user(imap_server: ImapServer) -> MailUser:
    """A brand-new Dovecot user with an empty mailbox, for tests that need isolation.

    IMAP and LMTP only: Postfix's recipient and sender tables are not updated (see
    ``PostfixInstance.set_sender_logins`` if a test needs that). The user is also added to
    ``imap_server.users`` under its short name, so ``imap_server.imap(name)`` works.
    """
    name = f"u{secrets.token_hex(4)}"
    user = MailUser(addr(name), password(name))
    imap_server.dovecot.add_user(user)
    imap_server.users[name] = user
    return user


# ---------------------------------------------------------------------- seed data

_CUSTOMERS = (
    ("Dana Whitfield", "dana@customer.test", "Invoice 2024-0117 charged twice"),
    ("Marco Bellini", "marco.bellini@pizzeria.test", "Order #4471 has not arrived"),
    ("Li Wei", "li.wei@example.org", "Cannot reset my password"),
    ("Sophie Laurent", "sophie@boutique.test", "Demande de remboursement – commande 8812"),
    ("Ahmed Karim", "akarim@logistics.test", "Delivery address change for shipment 55-210"),
    ("Jana Nováková", "jana@firma.test", "Přihlášení nefunguje / login not working"),
    ("Tom Becker", "tom.becker@customer.test", "Re: Invoice 2024-0117 charged twice"),
    ("Priya Natarajan", "priya@startup.test", "Question about the API rate limits"),
    ("Olaf Jensen", "olaf@shipyard.test", "Warranty claim, serial SN-99812"),
    ("Grace Okafor", "grace@school.test", "Bulk licence for 40 seats"),
)
_PROSPECTS = (
    ("Henrik Sørensen", "henrik@nordic.test", "Quote for 200 units"),
    ("Amélie Rousseau", "amelie@atelier.test", "Volume discount?"),
    ("Kenji Tanaka", "kenji@trading.test", "Distributor enquiry for Japan"),
    ("Rosa Jiménez", "rosa@hotel.test", "Demo request next week"),
    ("Ben Carter", "ben@agency.test", "Pricing PDF please"),
)
_BASE_DATE = datetime(2024, 6, 3, 8, 30, tzinfo=timezone.utc)


def _message(
    sender: tuple[str, str], to: str, subject: str, body: str, when: datetime, *, msgid: str,
    in_reply_to: str | None = None, html: bool = False, attachment: bool = False,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = msgid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    if html:
        msg.add_alternative(f"<html><body><p>{body}</p><img src=\"https://tracker.test/p.gif\"></body></html>", subtype="html")
    if attachment:
        msg.add_attachment(b"%PDF-1.4\n% tiny test file\n", maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _seed(dovecot: DovecotInstance) -> None:
    """Mailboxes, ACLs and messages of the table in the module docstring."""
    for owner, grants in RIGHTS.items():
        for folder in SHARED_FOLDERS:
            if folder != "INBOX":
                dovecot.create_mailbox(addr(owner), folder)
            for grantee, rights in grants.items():
                dovecot.set_acl(addr(owner), folder, addr(grantee), rights)
    for name in (*PEOPLE, SINK):  # INBOX and the special-use folders exist before the first login
        dovecot.doveadm("mailbox", "status", "-u", addr(name), "messages", "INBOX")

    support = [
        _message(
            (name, email), addr("support"), subject,
            f"Hello support team,\n\n{subject}. Could you please help?\n\nThanks,\n{name.split()[0]}",
            _BASE_DATE + timedelta(hours=3 * i),
            msgid=f"<seed-support-{i}@customer.test>",
            in_reply_to="<seed-support-0@customer.test>" if subject.startswith("Re:") else None,
            html=i % 4 == 1,
            attachment=i == 0,
        )
        for i, (name, email, subject) in enumerate(_CUSTOMERS)
    ]
    dovecot.deliver_many(addr("support"), support)
    dovecot.doveadm("flags", "add", "-u", addr("support"), "\\Seen", "mailbox", "INBOX", "uid", "1:3")
    sent = [
        _message(
            ("Support", addr("support")), f"{_CUSTOMERS[i][0]} <{_CUSTOMERS[i][1]}>", f"Re: {_CUSTOMERS[i][2]}",
            "Thanks for reaching out, we are on it.\n\n-- \nSupport team",
            _BASE_DATE + timedelta(hours=3 * i + 1), msgid=f"<seed-support-reply-{i}@example.test>",
            in_reply_to=f"<seed-support-{i}@customer.test>",
        )
        for i in range(2)
    ]
    dovecot.deliver_many(addr("support"), sent, mailbox="Sent")
    sales = [
        _message(
            (name, email), addr("sales"), subject,
            f"Hi sales,\n\n{subject}.\n\nBest regards,\n{name}",
            _BASE_DATE + timedelta(days=1, hours=2 * i), msgid=f"<seed-sales-{i}@prospect.test>",
        )
        for i, (name, email, subject) in enumerate(_PROSPECTS)
    ]
    dovecot.deliver_many(addr("sales"), sales)
    alice = [
        _message(("Bob Builder", addr("bob")), addr("alice"), "Lunch on Friday?", "Pizza or sushi?",
                 _BASE_DATE + timedelta(days=2), msgid=make_msgid(domain=DOMAIN)),
        _message(("Carol Chen", addr("carol")), addr("alice"), "Shift swap next week", "Can you take Tuesday?",
                 _BASE_DATE + timedelta(days=2, hours=1), msgid=make_msgid(domain=DOMAIN)),
        _message(("HR", f"hr@{DOMAIN}"), addr("alice"), "Your payslip for May", "Attached.",
                 _BASE_DATE + timedelta(days=2, hours=2), msgid=make_msgid(domain=DOMAIN), attachment=True),
    ]
    dovecot.deliver_many(addr("alice"), alice)


@pytest.fixture
def private_postfix(mail_servers: MailServers) -> Iterator[PostfixInstance]:
    """A Postfix of this test's own (same Dovecot and rules), so stopping it never disturbs other tests."""
    workdir = Path(tempfile.mkdtemp(prefix="sharedclient-postfix-"))
    workdir.chmod(0o755)
    senders = {addr(a): [addr(login) for login in logins] for a, logins in SENDERS.items()}
    postfix = PostfixInstance(workdir, mail_servers.dovecot, mail_servers.certs, DOMAIN, senders)
    postfix.start()
    try:
        yield postfix
    finally:
        postfix.stop()
        shutil.rmtree(workdir, ignore_errors=True)
