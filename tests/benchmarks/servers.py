"""The benchmark's own private Dovecot (and, for send metrics, Postfix), seeded with a big shared INBOX.

The world: ``support@example.test`` owns the INBOX that ``alice@example.test`` reads (rights
``lrswipkxtecda``, as in tests/conftest.py) through the shared namespace as
``shared/support@example.test/INBOX``. Nothing here touches the test suite's servers.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.secrets import SessionCredentials
from sharedclient.devservers.dovecot import DovecotInstance, MailUser
from sharedclient.devservers.tls import CertFiles, make_certs
from tests.benchmarks.corpus import bench_messages, message_pool, write_maildir

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
SUPPORT = f"support@{DOMAIN}"
SINK = f"sink@{DOMAIN}"
SHARED_INBOX = f"shared/{SUPPORT}/INBOX"
ALICE_RIGHTS = "lrswipkxtecda"


def password(login: str) -> str:
    return login.split("@")[0] + "-bench-pw"


@dataclass
class BenchWorld:
    dovecot: DovecotInstance
    certs: CertFiles
    workdir: Path
    postfix: object | None = None  # tests.servers.postfix.PostfixInstance when started
    postfix_problem: str = ""  # why Postfix is not running, when it was asked for

    def account(self, login: str = ALICE, name: str = "alice") -> Account:
        imap = Endpoint(self.dovecot.host, self.dovecot.imap_tls_port, Security.TLS)
        smtp = imap
        if self.postfix is not None:
            smtp = Endpoint(self.postfix.host, self.postfix.submissions_port, Security.TLS)  # type: ignore[attr-defined]
        return Account(name, login, imap, smtp, login, ca_file=str(self.certs.ca_pem))

    def credentials(self, name: str = "alice", login: str = ALICE) -> SessionCredentials:
        creds = SessionCredentials()
        creds.set(name, "imap", password(login))
        creds.set(name, "smtp", password(login))
        return creds

    def imaplib_login(self, login: str = ALICE) -> imaplib.IMAP4_SSL:
        """A plain imaplib session (no imapclient), as the raw-fetch baseline uses."""
        ctx = ssl.create_default_context(cafile=str(self.certs.ca_pem))
        imap = imaplib.IMAP4_SSL(self.dovecot.host, self.dovecot.imap_tls_port, ssl_context=ctx, timeout=120)
        imap.login(login, password(login))
        return imap


@contextlib.contextmanager
def bench_servers(workdir: Path, *, postfix: bool = False) -> Iterator[BenchWorld]:
    """Start Dovecot (and Postfix when asked and possible); stop them on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    users = [MailUser(login, password(login)) for login in (ALICE, SUPPORT, SINK)]
    certs = make_certs(workdir / "tls")
    dovecot = DovecotInstance(workdir / "dovecot", users, certs)
    dovecot.start()
    world = BenchWorld(dovecot, certs, workdir)
    pf = None
    try:
        dovecot.set_acl(SUPPORT, "INBOX", ALICE, ALICE_RIGHTS)
        for login in (ALICE, SINK):
            dovecot.doveadm("mailbox", "status", "-u", login, "messages", "INBOX")
        if postfix:
            from sharedclient.core.errors import SharedClientError
            from tests.servers.postfix import PostfixInstance

            # Alice sends as support@; the team copy goes to support@'s Sent, shared with her.
            dovecot.create_mailbox(SUPPORT, "Sent")
            dovecot.set_acl(SUPPORT, "Sent", ALICE, ALICE_RIGHTS)
            senders = {ALICE: [ALICE], SUPPORT: [ALICE, SUPPORT], SINK: [SINK]}
            candidate = PostfixInstance(workdir / "postfix", dovecot, certs, DOMAIN, senders)
            try:
                candidate.start()
            except SharedClientError as exc:
                world.postfix_problem = exc.user_message.splitlines()[0]
            else:
                pf = world.postfix = candidate
        yield world
    finally:
        if pf is not None:
            pf.stop()
        dovecot.stop()


def seed_shared_inbox(world: BenchWorld, count: int, pool_size: int = 300) -> dict[str, float]:
    """Put ``count`` messages into support@'s INBOX the maildir way, then let Dovecot index them."""
    dovecot = world.dovecot
    started = time.monotonic()
    pool = message_pool(DOMAIN, pool_size)
    pooled = time.monotonic()
    home = dovecot.mail_root / SUPPORT.lower()
    inbox = home / "Maildir" / "INBOX"
    inbox.mkdir(parents=True, exist_ok=True)
    for path in (home, home / "Maildir", inbox):
        os.chown(path, dovecot.mail_uid, dovecot.mail_gid)
    written, size = write_maildir(inbox, bench_messages(count, DOMAIN, SUPPORT, pool), dovecot.mail_uid, dovecot.mail_gid)
    wrote = time.monotonic()
    dovecot.doveadm("force-resync", "-u", SUPPORT, "INBOX", timeout=600)
    status = dovecot.doveadm("mailbox", "status", "-u", SUPPORT, "messages", "INBOX")
    indexed = time.monotonic()
    messages = int(status.split("=", 1)[1])
    if messages != count:
        raise RuntimeError(f"seeded {count} messages but Dovecot sees {messages}")
    return {
        "messages": float(written),
        "bytes": float(size),
        "pool_s": pooled - started,
        "write_s": wrote - pooled,
        "index_s": indexed - wrote,
    }
