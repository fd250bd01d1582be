"""Who may send as whom, and which identity answers a given message.

Identities come from the profile settings; every account's own address is implicitly an ``own`` identity
(an explicit ``own`` identity for that address — with a display name and signature — replaces it).
Whether the submission server lets this login use an identity is learnt without sending anything
(:func:`probe_identity`: EHLO, TLS, AUTH, ``MAIL FROM:<envelope>``, ``RCPT TO:<identity address>``, RSET,
QUIT) and from real sends refused for permission. The result is stored with its time
(:class:`~sharedclient.core.store.checks.IdentityCheckStore`).

What the probe can and cannot tell: for Send As the envelope is the identity's address, so Postfix'
``reject_sender_login_mismatch`` answers exactly the question. For On Behalf the envelope is the person's
own address and the From header is *not* checked by Postfix, so the probe only verifies the person's own
address; Exchange checks From (Send As / Send on Behalf rights) only after DATA, which a probe never
reaches — there a refused real send (``550 5.7.60``) marks the identity denied.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import HeaderRegistry
from enum import Enum

from sharedclient.core import smtp
from sharedclient.core.errors import NetworkError, SenderRefused, SendError, SharedClientError
from sharedclient.core.mime.compose import envelope_sender
from sharedclient.core.model import Account, Identity, SendMode
from sharedclient.core.settings import Settings


class IdentityStatus(str, Enum):
    VERIFIED = "verified"
    DENIED = "denied"  # the server refused; ``reason`` quotes it
    UNKNOWN = "unknown"  # never checked, or the server could not be asked


@dataclass(frozen=True)
class CheckResult:
    status: IdentityStatus
    reason: str = ""
    checked_at: float | None = None


CheckKey = tuple[str, str, str]  # (account, address lower-case, mode)
UNCHECKED = CheckResult(IdentityStatus.UNKNOWN, "not checked yet")


def check_key(identity: Identity) -> CheckKey:
    return (identity.account, identity.address.lower(), identity.mode.value)


# ------------------------------------------------------------------------------------------- lookup


def implicit_own(account: Account) -> Identity:
    return Identity(address=account.email, name="", account=account.name, mode=SendMode.OWN)


def all_identities(settings: Settings) -> list[Identity]:
    """Explicit identities plus one implicit ``own`` identity per account whose address has none."""
    explicit = {i.address.lower() for i in settings.identities}
    implicit = [implicit_own(a) for a in settings.accounts if a.email.lower() not in explicit]
    return [*implicit, *settings.identities]


def own_identity(settings: Settings, account_name: str) -> Identity:
    """The person behind an account (Sender of On Behalf mail): its own-address identity."""
    account = settings.account(account_name)
    for ident in settings.identities:
        if ident.address.lower() == account.email.lower():
            return ident
    return implicit_own(account)


def find_identity(settings: Settings, address: str) -> Identity:
    """The identity for ``address`` (explicit or an account's implicit own address)."""
    for ident in all_identities(settings):
        if ident.address.lower() == address.lower():
            return ident
    return settings.identity(address)  # raises NotFoundError listing the known ones


def own_addresses(identity: Identity) -> set[str]:
    """The identity's address and aliases, lower-case (never put into Reply All)."""
    return {identity.address.lower(), *(a.lower() for a in identity.aliases)}


# ---------------------------------------------------------------------------------------- permission


@dataclass(frozen=True)
class IdentityOption:
    """One entry of the From-picker."""

    identity: Identity
    status: IdentityStatus
    reason: str
    checked_at: float | None
    group: str  # "" for the person's own addresses, else the shared mailbox (or address) it belongs to


def _group(identity: Identity) -> str:
    if identity.mode is SendMode.OWN:
        return ""
    return (identity.mailbox_owner or identity.address).lower()


def identity_options(settings: Settings, checks: Mapping[CheckKey, CheckResult]) -> list[IdentityOption]:
    """Every identity with its stored check result, own first, then grouped by shared mailbox."""
    options = []
    for ident in all_identities(settings):
        result = checks.get(check_key(ident), UNCHECKED)
        options.append(IdentityOption(ident, result.status, result.reason, result.checked_at, _group(ident)))
    order = {a.name: n for n, a in enumerate(settings.accounts)}
    options.sort(key=lambda o: (o.group != "", o.group, order.get(o.identity.account, 99), o.identity.address))
    return options


def permitted_identities(settings: Settings, checks: Mapping[CheckKey, CheckResult]) -> list[IdentityOption]:
    """The From-picker: own addresses first, then shared identities grouped by mailbox; denied ones never.

    Unchecked identities are offered (the server decides when sending; a refusal marks them denied).
    """
    return [o for o in identity_options(settings, checks) if o.status is not IdentityStatus.DENIED]


def probe_identity(
    account: Account,
    password: str,
    identity: Identity,
    user: Identity,
    *,
    open_smtp: Callable[[Account, str], smtplib.SMTP] = smtp.open_smtp,
    clock: Callable[[], float] = time.time,
) -> CheckResult:
    """Ask the submission server whether this login may use ``identity``, sending nothing."""
    envelope = envelope_sender(identity, user)
    try:
        conn = open_smtp(account, password)
    except SharedClientError as exc:
        return CheckResult(IdentityStatus.UNKNOWN, exc.user_message, clock())
    try:
        reply = smtp.probe_sender(conn, envelope, identity.address, identity_address=identity.address, mode=identity.mode)
    except SenderRefused as exc:
        return CheckResult(IdentityStatus.DENIED, exc.user_message, clock())
    except (SendError, NetworkError) as exc:
        return CheckResult(IdentityStatus.UNKNOWN, exc.user_message, clock())
    finally:
        smtp.close_smtp(conn)
    what = f"the server accepts {envelope} as sender for {account.username}"
    if identity.mode is SendMode.ON_BEHALF:
        what += f" (checked: your own address; the From {identity.address} is not checked by every server)"
    return CheckResult(IdentityStatus.VERIFIED, f"{what} ({reply})", clock())


# ------------------------------------------------------------------------------------ reply identity


@dataclass(frozen=True)
class ReplyIdentity:
    identity: Identity
    reason: str  # shown next to the From-picker: "received via sales@example.test"


_REGISTRY = HeaderRegistry()


def _addresses_of(values: Iterable[str]) -> list[str]:
    registry = _REGISTRY
    found = []
    for value in values:
        if not value:
            continue
        try:
            header = registry("to", value)
            found.extend(a.addr_spec.lower() for a in header.addresses if a.addr_spec)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a broken header only means no match from it
            continue
    return found


def _untagged(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def choose_reply_identity(
    headers: Mapping[str, Sequence[str]],
    candidates: Sequence[Identity],
    *,
    mailbox_owner: str | None = None,
    default: Identity | None = None,
) -> ReplyIdentity | None:
    """Which identity answers a message, and why.

    ``headers``: lower-case header name → all its values (newest first, as in the message). ``candidates``:
    permitted identities only. Order: the shared mailbox the message lies in; then Delivered-To,
    X-Original-To, To, Cc — in each, exact address or alias before ``+tag`` variants.
    """
    if mailbox_owner:
        owner = mailbox_owner.lower()
        for ident in candidates:
            if (ident.mailbox_owner or "").lower() == owner or ident.address.lower() == owner:
                return ReplyIdentity(ident, f"the message is in the shared mailbox {mailbox_owner}")
    for header in ("delivered-to", "x-original-to", "to", "cc"):
        addresses = _addresses_of(headers.get(header, ()))
        for matcher in (lambda a: a, _untagged):
            for address in addresses:
                wanted = matcher(address)
                for ident in candidates:
                    if wanted in own_addresses(ident):
                        return ReplyIdentity(ident, f"received via {address}")
    if default is not None:
        return ReplyIdentity(default, "your own address (no identity matched the recipients)")
    return None
