"""Who may use a mailbox: RFC 4314 ACL administration (GETACL, SETACL, DELETEACL, LISTRIGHTS, MYRIGHTS).

Everything here runs on the account's worker with the IMAP client it owns. Identifiers are shown exactly
as the server reports them — ``anyone``, ``authenticated``, groups, and negative entries such as
``-bob@example.com`` (rights taken away from bob whatever else grants them) — and never dropped.

All five commands go through imapclient's raw command path rather than ``getacl``/``setacl``: imapclient
sends SETACL's identifier and rights unquoted (an identifier with a space breaks the command, one with a
CR LF would inject another) and its GETACL parser keeps the quotes of quoted identifiers; imaplib knows
no LISTRIGHTS. Mailbox names are quoted and encoded by ``client._normalise_folder``.

A server refusal (``NO [NOPERM]``, an identifier the server does not accept) becomes one sentence:
:class:`PermissionDenied` or :class:`AclRefused`; nothing is changed locally. Every change — and every
refused attempt — is written to the audit trail with the rights before and after.
"""

from __future__ import annotations

import csv
import imaplib
import io
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.imapclient import _quote
from imapclient.response_parser import parse_response

from sharedclient.core.errors import PermissionDenied, SharedClientError, UsageError
from sharedclient.core.imap.discovery import NamespaceEntry, classify, read_namespaces
from sharedclient.core.imap.rights import FULL_RIGHTS, describe_rights, my_rights, normalise_rights, right_word
from sharedclient.core.imap.session import server_reason, server_text
from sharedclient.core.model import Account, Section
from sharedclient.core.store.audit import AuditLog

log = logging.getLogger(__name__)

ADMIN = "a"
#: Presets, each limited to what LISTRIGHTS allows for the grantee. Keys are what the CLI accepts.
PRESETS: dict[str, str] = {
    "read-only": "lrs",
    "contributor": "lrswi",
    "editor": "lrswitekx",
    "full": FULL_RIGHTS,
}
PRESET_LABELS: dict[str, str] = {
    "read-only": "Read only",
    "contributor": "Contributor",
    "editor": "Editor",
    "full": "Full (incl. administer)",
}
#: Identifiers that stand for many people (RFC 4314 §3 "anyone"; Dovecot/Cyrus "authenticated").
EVERYONE = {"anyone": "anyone, even without logging in", "authenticated": "every user of the mail server"}


class AclRefused(SharedClientError):
    """The server did not accept an ACL command (unknown or disallowed identifier, invalid right…)."""


# -- data ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AclEntry:
    """One GETACL entry: ``identifier`` as the server wrote it, ``rights`` as canonical letters."""

    identifier: str
    rights: str

    @property
    def negative(self) -> bool:
        return self.identifier.startswith("-")

    @property
    def words(self) -> str:
        return rights_words(self.identifier, self.rights)


@dataclass(frozen=True)
class GrantableRights:
    """LISTRIGHTS: ``required`` is always granted to the identifier; each ``optional`` group may be added."""

    identifier: str
    required: str
    optional: tuple[str, ...]

    @property
    def grantable(self) -> str:
        return normalise_rights(self.required + "".join(self.optional))


@dataclass(frozen=True)
class AclChange:
    """What happened on one mailbox: rights of ``identifier`` before and after ("" = no entry)."""

    path: str
    identifier: str
    before: str
    after: str
    ok: bool = True
    error: str = ""
    audit_seq: int | None = None

    @property
    def changed(self) -> bool:
        return self.ok and self.before != self.after


@dataclass(frozen=True)
class ReviewRow:
    account: str
    mailbox: str
    owner: str
    identifier: str
    rights: str
    words: str
    risk: str = ""  # why this entry deserves a look; "" when it does not

    @property
    def risky(self) -> bool:
        return bool(self.risk)


@dataclass(frozen=True)
class AccessReview:
    account: str
    mailboxes: list[str] = field(default_factory=list)  # every mailbox the user administers
    rows: list[ReviewRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # mailboxes that could not be read, as sentences


# -- words ---------------------------------------------------------------------------------------------


def rights_words(identifier: str, rights: str) -> str:
    """What an entry means: "read, mark as read" or, for a negative entry, "never: flag and tag"."""
    if identifier.startswith("-"):
        return "never: " + ", ".join(right_word(r) for r in rights) if rights else "nothing taken away"
    return describe_rights(rights, limits=False)


def not_admin_message(label: str, rights: str, *, doing: str = "change who may use") -> str:
    return (
        f"You cannot {doing} {label}: only an administrator of the mailbox can "
        f"(your rights: {describe_rights(rights, limits=False)})."
    )


# -- server commands -----------------------------------------------------------------------------------


def _arg(value: str) -> bytes:
    """A quoted IMAP string; 8-bit text goes unquoted, because imapclient sends it as a literal."""
    if any(ch in value for ch in "\r\n\0"):
        raise UsageError("An identifier or right may not contain line breaks.")
    raw = value.encode("utf-8")
    return raw if any(byte > 127 for byte in raw) else _quote(raw)


def _folder(client: IMAPClient, path: str) -> bytes:
    name = client._normalise_folder(path)  # noqa: SLF001 - modified UTF-7 + quoting, as imapclient does it
    return name if isinstance(name, bytes) else name.encode("utf-8")


def _run(
    client: IMAPClient, command: bytes, args: list[bytes], response: str | None, what: str
) -> list[bytes | tuple[bytes, bytes] | None]:
    # Drop leftovers a previous command may have left, so an answer is never mixed with an old one.
    if response:
        client._imap.untagged_responses.pop(response, None)  # noqa: SLF001
    try:
        return client._raw_command_untagged(  # noqa: SLF001
            command, args, response_name=response or command.decode(), uid=False
        )
    except imaplib.IMAP4.abort:
        raise  # the connection is gone: the worker reports it as such
    except imaplib.IMAP4.error as exc:
        reason = server_reason(exc)
        if "NOPERM" in str(exc) or "administrator" in reason.lower():
            raise PermissionDenied(f"The server refused to {what}: {reason}.") from None
        raise AclRefused(f"The server refused to {what}: {reason}.") from None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _parsed(data: list[bytes | tuple[bytes, bytes] | None]) -> list[str]:
    items = [d for d in data if d is not None]
    if not items:
        return []
    return [_text(v) for v in parse_response(items)]


def get_acl(client: IMAPClient, path: str) -> list[AclEntry]:
    """GETACL, in the server's order. Needs the ``a`` right on ``path``."""
    values = _parsed(_run(client, b"GETACL", [_folder(client, path)], "ACL", f"show who may use {path}"))
    pairs = values[1:]  # the first value is the mailbox name
    return [AclEntry(pairs[i], normalise_rights(pairs[i + 1])) for i in range(0, len(pairs) - 1, 2)]


def list_rights(client: IMAPClient, path: str, identifier: str) -> GrantableRights:
    """LISTRIGHTS: what may be granted to ``identifier`` on ``path``."""
    data = _run(
        client, b"LISTRIGHTS", [_folder(client, path), _arg(identifier)], "LISTRIGHTS",
        f"list the rights that can be granted on {path}",
    )  # fmt: skip
    values = _parsed(data)
    if len(values) < 3:
        return GrantableRights(identifier, "", tuple(FULL_RIGHTS))
    required = normalise_rights(values[2])
    optional = tuple(g for g in (normalise_rights(v) for v in values[3:]) if g)
    return GrantableRights(identifier, required, optional)


def set_acl(client: IMAPClient, path: str, identifier: str, rights: str, *, label: str | None = None) -> None:
    """SETACL: ``identifier`` gets exactly ``rights`` on ``path`` (replacing what it had)."""
    _run(
        client, b"SETACL", [_folder(client, path), _arg(identifier), _arg(rights)], None,
        f"give {identifier} access to {label or path}",
    )  # fmt: skip


def delete_acl(client: IMAPClient, path: str, identifier: str, *, label: str | None = None) -> None:
    """DELETEACL: remove ``identifier``'s entry on ``path``."""
    _run(
        client, b"DELETEACL", [_folder(client, path), _arg(identifier)], None,
        f"take {identifier}'s access to {label or path} away",
    )  # fmt: skip


def rights_of(entries: Iterable[AclEntry], identifier: str) -> str:
    return next((e.rights for e in entries if e.identifier == identifier), "")


def subfolders(client: IMAPClient, path: str) -> list[str]:
    """Every mailbox below ``path`` (all levels), found by LIST with the server's own delimiter."""
    own = client.list_folders("", path)
    delimiter = next((_text(d) for _f, d, name in own if _text(name) == path and d), "")
    if not delimiter:
        return []
    prefix = path + delimiter
    found: list[str] = []
    for flags, _d, name in client.list_folders("", prefix + "*"):
        sub = _text(name)
        selectable = not any(_text(f).lower() in ("\\noselect", "\\nonexistent") for f in flags)
        if sub.startswith(prefix) and selectable and sub not in found:  # Dovecot may list a mailbox twice
            found.append(sub)
    return sorted(found)


@dataclass(frozen=True)
class MailboxAccess:
    """Everything the permissions dialog shows for one mailbox, read in one job.

    ``entries`` is None when the user may not administer the mailbox (GETACL would be refused);
    ``grantable`` maps identifiers (and ``""`` for a new one) to what LISTRIGHTS allows them.
    """

    path: str
    my_rights: str
    entries: list[AclEntry] | None
    grantable: dict[str, str]
    subfolders: list[str]

    @property
    def administrable(self) -> bool:
        return self.entries is not None


def read_access(client: IMAPClient, path: str) -> MailboxAccess:
    mine = my_rights(client, path)
    if ADMIN not in mine:
        return MailboxAccess(path, mine, None, {}, [])
    entries = get_acl(client, path)
    grantable = {"": list_rights(client, path, "anyone").grantable}
    for entry in entries:
        try:
            grantable[entry.identifier] = list_rights(client, path, entry.identifier).grantable
        except (AclRefused, PermissionDenied):  # some servers refuse LISTRIGHTS for a negative identifier
            grantable[entry.identifier] = grantable[""]
    return MailboxAccess(path, mine, entries, grantable, subfolders(client, path))


# -- choosing rights -----------------------------------------------------------------------------------


def preset_rights(name: str, grantable: str = FULL_RIGHTS) -> str:
    """A preset's letters limited to what may be granted."""
    letters = PRESETS[name]
    return normalise_rights("".join(r for r in letters if r in grantable))


def find_preset(rights: str) -> str | None:
    """The preset whose letters are exactly ``rights`` (within what may be granted), if any."""
    for name, letters in PRESETS.items():
        if normalise_rights(letters) == normalise_rights(rights):
            return name
    return None


def parse_rights(text: str, current: str, grantable: str = FULL_RIGHTS) -> str:
    """RIGHTS as the CLI takes them: letters (``lrs``), ``+w``/``-w`` relative to ``current``, or a preset."""
    raw = text.strip()
    key = raw.lower().replace("_", "-").replace(" ", "-")
    if key in ("readonly", "read"):
        key = "read-only"
    if key in PRESETS:
        return preset_rights(key, grantable)
    sign = raw[:1] if raw[:1] in "+-" else ""
    letters = raw[1:] if sign else raw
    unknown = sorted({r for r in letters if r not in FULL_RIGHTS + "cd"})
    if not letters or unknown:
        raise UsageError(
            f"“{text}” is not a set of rights: use letters of {FULL_RIGHTS} (e.g. lrs), +LETTERS or -LETTERS, "
            f"or a preset ({', '.join(PRESETS)})."
        )
    letters = normalise_rights(letters)
    if sign == "+":
        return normalise_rights(current + letters)
    if sign == "-":
        return normalise_rights("".join(r for r in current if r not in letters))
    return letters


# -- changing ------------------------------------------------------------------------------------------


def change_access(
    client: IMAPClient,
    account: Account,
    path: str,
    identifier: str,
    rights: str | None,
    *,
    recursive: bool = False,
    audit: AuditLog | None = None,
    label: str | None = None,
    rights_text: str | None = None,
) -> list[AclChange]:
    """Grant/change (``rights`` letters) or revoke (``rights=None``) ``identifier``'s access to ``path``
    and, with ``recursive``, to every mailbox below it.

    The user's own ``a`` right is checked first (a refusal names their rights). ``rights_text`` is
    what the user typed (``+w``, ``editor``…), resolved per mailbox against its current entry and
    LISTRIGHTS; by default ``rights`` is used as given. The first mailbox failing raises; a subfolder
    failing is reported in its :class:`AclChange` and the others still change. ``after`` is read back
    from the server, so it shows what the server really stored.
    """
    identifier = identifier.strip()
    if not identifier:
        raise UsageError("Name who should get access (a login such as carol@example.com).")
    label = label or path
    if rights_text:
        parse_rights(rights_text, "")  # a typo is refused before anything is asked of the server
    mine = my_rights(client, path)
    if ADMIN not in mine:
        _audit(audit, account, path, identifier, rights, "", "", "denied", not_admin_message(label, mine), recursive)
        raise PermissionDenied(not_admin_message(label, mine))
    targets = [path] + (subfolders(client, path) if recursive else [])
    changes: list[AclChange] = []
    for target in targets:
        try:
            changes.append(
                _change_one(client, account, target, identifier, rights, audit, recursive, rights_text,
                            label if target == path else target)
            )
        except (PermissionDenied, AclRefused, UsageError) as exc:
            if target == path:
                raise
            changes.append(AclChange(target, identifier, "", "", ok=False, error=exc.user_message))
    return changes


def _change_one(
    client: IMAPClient,
    account: Account,
    path: str,
    identifier: str,
    rights: str | None,
    audit: AuditLog | None,
    recursive: bool,
    rights_text: str | None,
    label: str,
) -> AclChange:
    try:
        entries = get_acl(client, path)
        before = rights_of(entries, identifier)
        if rights is None:
            if any(e.identifier == identifier for e in entries):
                delete_acl(client, path, identifier, label=label)
        else:
            allowed = list_rights(client, path, identifier)
            wanted = parse_rights(rights_text, before, allowed.grantable) if rights_text else normalise_rights(rights)
            refused = [r for r in wanted if r not in allowed.grantable]
            if refused:
                raise AclRefused(
                    f"The server does not let {identifier} be given “{''.join(refused)}” on {label} "
                    f"(it allows: {allowed.grantable or 'nothing'})."
                )
            wanted = normalise_rights(wanted + allowed.required)
            if not wanted:
                raise UsageError(f"No rights left to give {identifier} on {label}; to take access away, revoke it.")
            set_acl(client, path, identifier, wanted, label=label)
        after = rights_of(get_acl(client, path), identifier)
    except (PermissionDenied, AclRefused, UsageError) as exc:
        _audit(audit, account, path, identifier, rights, "", "", "denied" if isinstance(exc, PermissionDenied)
               else "failed", exc.user_message, recursive)
        raise
    seq = _audit(audit, account, path, identifier, rights, before, after, "ok", "", recursive)
    return AclChange(path, identifier, before, after, audit_seq=seq)


def _audit(
    audit: AuditLog | None,
    account: Account,
    path: str,
    identifier: str,
    rights: str | None,
    before: str,
    after: str,
    result: str,
    error: str,
    recursive: bool,
) -> int | None:
    if audit is None:
        return None
    action = "acl.revoke" if rights is None else ("acl.change" if before else "acl.grant")
    details: dict[str, object] = {
        "identifier": identifier,
        "before": before,
        "after": after,
        "login": account.username,
    }
    if rights is not None:
        details["requested"] = rights
    if recursive:
        details["recursive"] = True
    if error:
        details["error"] = error
    return audit.record(action, account=account.name, target={"mailbox": path}, result=result, details=details)


# -- the review ----------------------------------------------------------------------------------------


def risk_of(entry: AclEntry, owner: str | None, self_login: str | None = None) -> str:
    """Why an entry deserves a look, or "": anyone/authenticated with any right; admin besides the owner."""
    if entry.negative or not entry.rights:
        return ""
    who = entry.identifier.lower()
    if who in EVERYONE:
        return f"Open to {EVERYONE[who]}."
    owners = {o.lower() for o in (owner, "owner") if o}
    if ADMIN in entry.rights and who not in owners:
        return "Can change who has access, and is not the owner."
    return ""


def access_review(
    client: IMAPClient,
    account: Account,
    namespaces: list[NamespaceEntry] | None = None,
    *,
    cancelled: Callable[[], bool] = lambda: False,
) -> AccessReview:
    """For every mailbox this login administers (MYRIGHTS has ``a``): who holds which rights (GETACL)."""
    review = AccessReview(account.name)
    if not client.has_capability("ACL"):
        return review
    if namespaces is None:
        namespaces = read_namespaces(client)
    seen: set[str] = set()
    for flags, _delim, name in client.list_folders():
        if cancelled():
            break
        path = _text(name)
        if path in seen or any(_text(f).lower() in ("\\noselect", "\\nonexistent") for f in flags):
            continue
        seen.add(path)
        try:
            if ADMIN not in my_rights(client, path):
                continue
            entries = get_acl(client, path)
        except imaplib.IMAP4.abort:
            raise
        except (imaplib.IMAP4.error, SharedClientError) as exc:
            text = exc.user_message if isinstance(exc, SharedClientError) else server_reason(exc)
            review.problems.append(f"{path}: {text}")
            continue
        section, owner = classify(path, namespaces, account)
        if section is Section.PERSONAL:
            owner = account.username
        review.mailboxes.append(path)
        for entry in entries:
            review.rows.append(
                ReviewRow(account.name, path, owner or "", entry.identifier, entry.rights, entry.words,
                          risk_of(entry, owner))
            )
    return review


REVIEW_COLUMNS = ("account", "mailbox", "owner", "identifier", "rights", "rights_in_words", "risk")


def review_to_json(rows: Iterable[ReviewRow]) -> list[dict[str, object]]:
    return [
        {"account": r.account, "mailbox": r.mailbox, "owner": r.owner, "identifier": r.identifier,
         "rights": r.rights, "rights_in_words": r.words, "risky": r.risky, "risk": r.risk}
        for r in rows
    ]  # fmt: skip


def review_csv(rows: Iterable[ReviewRow]) -> str:
    """The review as CSV with a header row (the CLI's ``--csv`` and the window's export)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    for r in rows:
        writer.writerow([r.account, r.mailbox, r.owner, r.identifier, r.rights, r.words, r.risk])
    return out.getvalue()
