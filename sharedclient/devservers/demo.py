"""``sharedclient demo``: a small support team on private, local mail servers, and the window on it.

Starts a private Dovecot (as the current user, or as Dovecot's own users when run by root) and the demo
submission server on 127.0.0.1 with a throwaway CA, seeds the team's mail, creates a throwaway profile
that trusts exactly that CA, and stops everything when the window closes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sharedclient.cli.context import CliContext
from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.secrets import SessionCredentials
from sharedclient.devservers.dovecot import DovecotInstance, MailUser
from sharedclient.devservers.seed import demo_messages, seed_desk
from sharedclient.devservers.submission import SubmissionServer, lmtp_deliverer
from sharedclient.devservers.tls import make_certs

log = logging.getLogger(__name__)

DOMAIN = "example.com"
ME = "alice"
PASSWORD = "demo-password"
# Who may use which envelope sender (what Postfix's smtpd_sender_login_maps says in production).
SENDER_LOGINS = {
    f"alice@{DOMAIN}": [f"alice@{DOMAIN}"],
    f"support@{DOMAIN}": [f"alice@{DOMAIN}"],
    f"bob@{DOMAIN}": [f"bob@{DOMAIN}"],
    f"sales@{DOMAIN}": [f"bob@{DOMAIN}"],
}
FULL = "lrswipkxtea"
READ_ONLY = "lrs"


@dataclass(frozen=True)
class DemoSetup:
    account: Account
    password: str
    workdir: Path
    dovecot: DovecotInstance
    submission: SubmissionServer


def demo_identities() -> list[Identity]:
    """Alice may answer as the support team (Send As) and on behalf of sales (her own envelope)."""
    return [
        Identity(f"support@{DOMAIN}", "Support Team", "demo", SendMode.SEND_AS, aliases=(f"help@{DOMAIN}",),
                 mailbox_owner=f"support@{DOMAIN}", signature="Support Team\nexample.com"),
        Identity(f"sales@{DOMAIN}", "Sales", "demo", SendMode.ON_BEHALF, aliases=(f"quotes@{DOMAIN}",),
                 mailbox_owner=f"sales@{DOMAIN}"),
    ]


def _users() -> list[MailUser]:
    return [MailUser(f"{name}@{DOMAIN}", PASSWORD) for name in ("alice", "bob", "support", "sales", "sink")]


def _seed(dovecot: DovecotInstance) -> None:
    me = f"{ME}@{DOMAIN}"
    for owner, rights in (("support", FULL), ("sales", READ_ONLY)):
        login = f"{owner}@{DOMAIN}"
        for folder, special in (("Sent", "\\Sent"), ("Archive", "\\Archive")):
            dovecot.create_mailbox(login, folder, special)
        for mailbox in ("INBOX", "Sent", "Archive"):
            dovecot.set_acl(login, mailbox, f"user={me}", rights)
            dovecot.set_acl(login, mailbox, f"user=bob@{DOMAIN}", FULL if owner == "sales" else READ_ONLY)
        for raw in demo_messages(DOMAIN, owner, 30 if owner == "support" else 14):
            dovecot.deliver(login, raw)
    for raw in demo_messages(DOMAIN, "personal", 8):
        dovecot.deliver(me, raw)
    team = {me: FULL, f"bob@{DOMAIN}": READ_ONLY}  # the support INBOX's grants, for its Templates and Notes
    seed_desk(dovecot, f"support@{DOMAIN}", team, demo_messages(DOMAIN, "support", 30))


@contextmanager
def demo_servers(workdir: Path) -> Iterator[DemoSetup]:
    """Start, seed and finally stop the demo servers under ``workdir``."""
    certs = make_certs(workdir / "tls")
    users = _users()
    with DovecotInstance(workdir / "dovecot", users, certs) as dovecot:
        _seed(dovecot)
        submission = SubmissionServer(
            "127.0.0.1",
            0,
            cert_pem=certs.cert_pem,
            key_pem=certs.key_pem,
            users={u.login: u.password for u in users},
            sender_logins=SENDER_LOGINS,
            local_domain=DOMAIN,
            deliver=lmtp_deliverer("127.0.0.1", dovecot.lmtp_port),
            local_recipients=[u.login for u in users],
        )
        with submission:
            me = f"{ME}@{DOMAIN}"
            account = Account(
                name="demo",
                email=me,
                imap=Endpoint("127.0.0.1", dovecot.imap_tls_port, Security.TLS),
                smtp=Endpoint("127.0.0.1", submission.port, Security.STARTTLS),
                username=me,
                ca_file=str(certs.ca_pem),
            )
            yield DemoSetup(account, PASSWORD, workdir, dovecot, submission)


def run_demo(ctx: CliContext, gui: bool = True) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="sharedclient-demo-"))
    workdir.chmod(0o755)  # Dovecot's unprivileged processes must reach their files below it
    try:
        with demo_servers(workdir) as demo:
            store = ProfileStore(workdir / "profile")
            profile = store.create("demo")
            settings = profile.load().with_account(demo.account)
            for identity in demo_identities():
                settings = settings.with_identity(identity)
            profile.save(settings)
            creds = SessionCredentials()
            creds.set("demo", "imap", demo.password)
            creds.set("demo", "smtp", demo.password)
            imap, smtp = demo.account.imap, demo.account.smtp
            ctx.out(f"Demo mail servers: IMAP {imap} (TLS), submission {smtp} (STARTTLS), CA {demo.account.ca_file}")
            ctx.out(f"Logged in as {demo.account.email} (password “{demo.password}”); data in {workdir}")
            if not gui:
                ctx.out("Press Ctrl+C to stop.")
                threading.Event().wait()
                return 0
            from sharedclient.ui.launch import run_gui

            demo_ctx = CliContext(store=store, profile_name="demo", stdout=ctx.stdout, stderr=ctx.stderr)
            return run_gui(demo_ctx, credentials=creds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
