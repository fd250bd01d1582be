"""Where the team's copy of a sent message goes, and putting it there.

Outlook's best-known shared-mailbox defect is that mail sent as support@ lands in the sender's *personal*
Sent Items, so the team never sees the answer. Here the copy goes to the shared mailbox's Sent folder when
MYRIGHTS there has ``i``; otherwise to the personal Sent folder with a warning sentence the person sees.

Finding the folder: SPECIAL-USE ``\\Sent`` where the server marks it — Dovecot marks special-use only in the
personal namespace, so ``shared/support@…/Sent`` carries no flag — then the usual (also localized) names
under the shared mailbox's path; a per-identity override (``Identity.sent_folder``) wins over both.
Before appending, the target is searched for the Message-ID: some servers save submitted mail themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import PermissionDenied, ProtocolError
from sharedclient.core.imap.discovery import SPECIAL_USE, classify, read_namespaces
from sharedclient.core.imap.rights import FULL_RIGHTS, my_rights
from sharedclient.core.imap.session import server_text
from sharedclient.core.model import Account, Folder, Identity, Section

log = logging.getLogger(__name__)

#: Common names of Sent folders, most usual first (compared case-insensitively with the last path part).
SENT_NAMES = (
    "Sent", "Sent Items", "Sent Messages", "Sent Mail", "Sent-Mail",
    "Gesendete Objekte", "Gesendete Elemente", "Gesendet",
    "Éléments envoyés", "Messages envoyés", "Envoyés",
    "Enviados", "Elementos enviados", "Itens Enviados", "Posta inviata", "Inviati", "Elementi inviati",
    "Verzonden items", "Verzonden", "Skickat", "Skickade objekt", "Sendt", "Sendte elementer", "Sendte",
    "Lähetetyt", "Wysłane", "Elementy wysłane", "Odeslaná pošta", "Odeslané", "Отправленные", "Gönderilenler",
)  # fmt: skip
_NAME_RANK = {name.casefold(): n for n, name in enumerate(SENT_NAMES)}


@dataclass(frozen=True)
class SentTarget:
    """The folder for the copy (None: nowhere) and, when it is not where the team expects, why."""

    path: str | None
    warning: str = ""


def _best(folders: Sequence[Folder]) -> Folder | None:
    usable = [f for f in folders if f.selectable]
    marked = [f for f in usable if f.special_use == "\\Sent"]
    if marked:
        return min(marked, key=lambda f: len(f.path))
    named = [f for f in usable if f.name.casefold() in _NAME_RANK]
    return min(named, key=lambda f: (_NAME_RANK[f.name.casefold()], len(f.path))) if named else None


def choose_sent_folder(folders: Sequence[Folder], identity: Identity) -> SentTarget:
    """Pure decision over a folder list (from ``discover_folders`` or :func:`sent_candidates`)."""
    personal = _best([f for f in folders if f.section is Section.PERSONAL])

    def fallback(reason: str) -> SentTarget:
        if personal is None:
            return SentTarget(None, f"No copy of the sent message was saved: {reason}, and no personal Sent folder was found.")
        return SentTarget(
            personal.path,
            f"The copy was saved in your personal folder {personal.path} because {reason}; your team will not see it there.",
        )

    if identity.sent_folder:
        chosen = next((f for f in folders if f.path == identity.sent_folder and f.selectable), None)
        if chosen is None:
            return fallback(f"the folder {identity.sent_folder} chosen for {identity.address} was not found")
        if "i" not in chosen.rights:
            return fallback(f"you may not add messages to {chosen.path}")
        return SentTarget(chosen.path)
    owner = (identity.mailbox_owner or "").lower()
    if owner:
        shared = [f for f in folders if f.section is Section.SHARED and (f.owner or "").lower() == owner]
        target = _best(shared)
        if target is None:
            return fallback(f"no Sent folder was found in the shared mailbox {identity.mailbox_owner}")
        if "i" not in target.rights:
            return fallback(f"you may not add messages to {target.path}")
        return SentTarget(target.path)
    if personal is None:
        return SentTarget(None, "No copy of the sent message was saved: no Sent folder was found.")
    return SentTarget(personal.path)


def sent_candidates(client: IMAPClient, account: Account, identity: Identity) -> list[Folder]:
    """The folders :func:`choose_sent_folder` may pick, with rights — LIST plus MYRIGHTS on candidates only.

    Cheaper than a full discovery (no STATUS on every folder), and current: rights are read now.
    """
    namespaces = read_namespaces(client)
    folders = []
    for raw_flags, delim, name in client.list_folders():
        path = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        flags = tuple(f.decode("ascii", "replace") if isinstance(f, bytes) else str(f) for f in raw_flags)
        delimiter = delim.decode("ascii", "replace") if isinstance(delim, bytes) else delim
        display = path.rsplit(delimiter, 1)[-1] if delimiter else path
        special = next((f for f in flags if f in SPECIAL_USE), None)
        if not (special == "\\Sent" or display.casefold() in _NAME_RANK or path == identity.sent_folder):
            continue
        selectable = not any(f.lower() in ("\\noselect", "\\nonexistent") for f in flags)
        section, owner = classify(path, namespaces, account)
        rights = ""
        if selectable:
            try:
                rights = FULL_RIGHTS if section is Section.PERSONAL and account.kind != "shared" else my_rights(client, path)
            except IMAPClientError as exc:
                log.info("MYRIGHTS %s failed: %s", path, exc)
        folders.append(Folder(account.name, path, display, section, owner, delimiter, flags, special, rights, selectable))
    return folders


def append_copy(client: IMAPClient, path: str, data: bytes, message_id: str, *, rights: str = "") -> bool:
    """Append ``data`` to ``path`` as \\Seen unless a message with ``message_id`` is already there.

    Returns False when it was already there. The search needs ``r``; without it we append regardless.
    """
    try:
        if "r" in (rights or my_rights(client, path)):
            client.select_folder(path, readonly=True)
            try:
                if client.search(["HEADER", "Message-ID", message_id]):
                    return False
            finally:
                if client.has_capability("UNSELECT"):
                    client.unselect_folder()
                else:
                    client.close_folder()  # on a read-only selection CLOSE expunges nothing
        client.append(path, data, flags=(b"\\Seen",))
        return True
    except IMAPClientError as exc:
        text = server_text(exc)
        if "NOPERM" in text.upper() or "permission" in text.lower():
            raise PermissionDenied(f"The server did not let you add the copy to {path}: {text}.") from None
        raise ProtocolError(f"Saving the copy in {path} failed: {text}.") from None
