"""When new mail deserves a notification, and the per-mailbox on/off choice (no Qt)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sharedclient.core.model import Folder, Section
from sharedclient.core.newmail import NewMail, NewMailTracker, NotificationPrefs

INBOX = Folder("work", "INBOX", "INBOX", Section.PERSONAL, None, "/", rights="lrswipkxtea", unread=2, total=10)
ARCHIVE = Folder("work", "Archive", "Archive", Section.PERSONAL, None, "/", rights="lrswipkxtea", unread=0, total=5)
SUPPORT = Folder("work", "shared/support@x.test/INBOX", "INBOX", Section.SHARED, "support@x.test", "/",
                 rights="lrs", unread=7, total=40)


def counts(folder: Folder, total: int, unread: int) -> Folder:
    return replace(folder, total=total, unread=unread)


def test_first_counts_are_the_baseline_then_new_arrivals_in_the_inbox_are_announced() -> None:
    tracker = NewMailTracker(NotificationPrefs())
    assert tracker.update("work", [INBOX, ARCHIVE, SUPPORT], "alice@x.test") == []  # start: no flood
    news = tracker.update("work", [counts(INBOX, 13, 5), ARCHIVE, SUPPORT], "alice@x.test")
    assert news == [NewMail("work", "INBOX", "INBOX (alice@x.test)", 3)]


def test_marking_unread_or_filing_read_mail_is_not_new_mail() -> None:
    tracker = NewMailTracker(NotificationPrefs())
    tracker.update("work", [INBOX])
    assert tracker.update("work", [counts(INBOX, 10, 4)]) == []  # marked two as unread
    assert tracker.update("work", [counts(INBOX, 12, 4)]) == []  # two read messages moved in
    assert tracker.update("work", [counts(INBOX, 11, 3)]) == []  # one deleted
    assert tracker.update("work", [counts(INBOX, 12, 5)])[0].count == 1  # one arrived, unread


def test_shared_mailboxes_only_when_watched_and_the_choice_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "notifications.json"
    prefs = NotificationPrefs(path)
    tracker = NewMailTracker(prefs)
    tracker.update("work", [INBOX, SUPPORT])
    assert tracker.update("work", [INBOX, counts(SUPPORT, 41, 8)]) == []  # not watched by default
    assert [f.path for f in tracker.watched()] == ["INBOX"]
    assert tracker.unread() == 2
    prefs.set(SUPPORT, True)
    prefs.set(INBOX, False)
    news = tracker.update("work", [counts(INBOX, 11, 3), counts(SUPPORT, 43, 10)])
    assert news == [NewMail("work", SUPPORT.path, "support@x.test: INBOX", 2)]
    assert tracker.unread() == 10
    again = NotificationPrefs(path)  # a restart reads the choices back
    assert again.enabled(SUPPORT) and not again.enabled(INBOX) and not again.enabled(ARCHIVE)
    assert json.loads(path.read_text())["mailboxes"][0]["account"] == "work"


def test_a_damaged_choices_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "notifications.json"
    path.write_text('{"mailboxes": [{"account": 1}]')
    prefs = NotificationPrefs(path)
    assert prefs.enabled(INBOX) and not prefs.enabled(SUPPORT)
