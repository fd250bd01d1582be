"""When to tell the user about new mail, and in which mailboxes they want to hear about it.

Decided from the folder counts every resync and IDLE wake-up already reads (STATUS MESSAGES/UNSEEN):
a mailbox has new mail when both its total and its unread count grew; marking a message unread or
filing a read one in is not "new mail". The first counts seen are the baseline, so starting the client
does not announce the whole Inbox. Notifications are on for each account's own INBOX and off
elsewhere until the user turns them on ("watched" shared mailboxes); the choice is kept per profile.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sharedclient.core.errors import StorageError
from sharedclient.core.fileio import atomic_write
from sharedclient.core.model import Folder, Section

log = logging.getLogger(__name__)
FILE_NAME = "notifications.json"


@dataclass(frozen=True)
class NewMail:
    account: str
    path: str
    where: str  # "support@example.com: INBOX" / "your INBOX (alice@example.com)"
    count: int


def default_on(folder: Folder) -> bool:
    return folder.section is Section.PERSONAL and folder.path.upper() == "INBOX"


def describe(folder: Folder, email: str = "") -> str:
    if folder.owner:
        return f"{folder.owner}: {folder.name}"
    return f"{folder.name} ({email})" if email else folder.name


class NotificationPrefs:
    """Per-mailbox on/off, saved as ``notifications.json`` (only the user's explicit choices)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.choices: dict[tuple[str, str], bool] = {}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for entry in data["mailboxes"]:
                self.choices[(str(entry["account"]), str(entry["path"]))] = bool(entry["notify"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring damaged notification settings in %s: %s", path, exc)
            self.choices.clear()

    def enabled(self, folder: Folder) -> bool:
        return self.choices.get((folder.account, folder.path), default_on(folder))

    def set(self, folder: Folder, on: bool) -> None:
        """Remember the choice; raises StorageError (with a sentence) when it cannot be saved."""
        self.choices[(folder.account, folder.path)] = on
        if self.path is not None:
            entries = [{"account": a, "path": p, "notify": v} for (a, p), v in sorted(self.choices.items())]
            atomic_write(self.path, json.dumps({"version": 1, "mailboxes": entries}, indent=2).encode("utf-8"))


class NewMailTracker:
    """Feed it each account's folder list; it returns what deserves a notification."""

    def __init__(self, prefs: NotificationPrefs) -> None:
        self.prefs = prefs
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}  # (account, path) -> (total, unread)
        self._folders: dict[str, list[Folder]] = {}

    def update(self, account: str, folders: list[Folder], email: str = "") -> list[NewMail]:
        self._folders[account] = folders
        found = []
        for folder in folders:
            key = (account, folder.path)
            before = self._counts.get(key)
            self._counts[key] = (folder.total, folder.unread)
            if before is None or not self.prefs.enabled(folder):
                continue
            new = min(folder.total - before[0], folder.unread - before[1])
            if new > 0:
                found.append(NewMail(account, folder.path, describe(folder, email), new))
        return found

    def watched(self) -> list[Folder]:
        """Mailboxes with notifications on (they need IDLE to hear about mail at once)."""
        return [f for fs in self._folders.values() for f in fs if f.selectable and self.prefs.enabled(f)]

    def unread(self) -> int:
        """Unread messages over the mailboxes with notifications on: the tray's number."""
        return sum(f.unread for f in self.watched())


__all__ = ["NewMail", "NewMailTracker", "NotificationPrefs", "StorageError"]
