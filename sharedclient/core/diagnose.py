"""``account test``: connect to IMAP and SMTP, log in, and report what was found."""

from __future__ import annotations

from dataclasses import dataclass, field

from sharedclient.core import smtp
from sharedclient.core.errors import SharedClientError
from sharedclient.core.imap import session
from sharedclient.core.model import Account


@dataclass(frozen=True)
class ServiceReport:
    service: str  # "IMAP" or "SMTP"
    where: str
    security: str
    ok: bool
    tls_version: str = ""
    capabilities: tuple[str, ...] = field(default=())
    error: str = ""


@dataclass(frozen=True)
class AccountReport:
    account: str
    imap: ServiceReport
    smtp: ServiceReport

    @property
    def ok(self) -> bool:
        return self.imap.ok and self.smtp.ok

    @property
    def verdict(self) -> str:
        if self.ok:
            plain = [r.service for r in (self.imap, self.smtp) if r.security == "plain"]
            if plain:
                return (f"Account “{self.account}” is ready: IMAP and SMTP accept the login ("
                        f"{' and '.join(plain)} unencrypted, allowed because the server is on this computer).")
            return f"Account “{self.account}” is ready: IMAP and SMTP both accept the login over TLS."
        failed = [r for r in (self.imap, self.smtp) if not r.ok]
        return " ".join(r.error for r in failed)


def check_imap(account: Account, password: str) -> ServiceReport:
    base = {"service": "IMAP", "where": str(account.imap), "security": account.imap.security.value}
    try:
        client = session.open_imap(account, password)
    except SharedClientError as exc:
        return ServiceReport(ok=False, error=exc.user_message, **base)
    try:
        caps = tuple(c.decode("ascii", "replace") for c in client.capabilities())
        return ServiceReport(ok=True, tls_version=session.tls_version(client), capabilities=caps, **base)
    finally:
        session.close_imap(client)


def check_smtp(account: Account, password: str) -> ServiceReport:
    base = {"service": "SMTP", "where": str(account.smtp), "security": account.smtp.security.value}
    try:
        conn = smtp.open_smtp(account, password)
    except SharedClientError as exc:
        return ServiceReport(ok=False, error=exc.user_message, **base)
    try:
        exts = tuple(f"{k.upper()} {v}".strip() for k, v in conn.esmtp_features.items())
        return ServiceReport(ok=True, tls_version=smtp.tls_version(conn), capabilities=exts, **base)
    finally:
        smtp.close_smtp(conn)


def check_account(account: Account, imap_password: str, smtp_password: str) -> AccountReport:
    return AccountReport(account.name, check_imap(account, imap_password), check_smtp(account, smtp_password))
