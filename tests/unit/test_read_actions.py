"""Pure logic of the read path's actions: refusal sentences, mailbox labels, which right a flag needs."""

from __future__ import annotations

import ssl

import pytest

from sharedclient.core.errors import AuthError, NetworkError, PermissionDenied, TlsError
from sharedclient.core.imap.discovery import NamespaceEntry, mailbox_label
from sharedclient.core.imap.idle import _classify, _permanent
from sharedclient.core.imap.messages import _owner_root, flag_rights
from sharedclient.core.imap.rights import access_summary, require_rights
from sharedclient.core.imap.session import server_reason
from sharedclient.core.model import Folder, Section

DOVECOT = [
    NamespaceEntry("shared/", "/", Section.SHARED),
    NamespaceEntry("Public/", "/", Section.PUBLIC),
    NamespaceEntry("", "/", Section.PERSONAL),
]
CYRUS = [NamespaceEntry("user.", ".", Section.SHARED), NamespaceEntry("INBOX.", ".", Section.PERSONAL)]


def folder(path: str, section: Section, owner: str | None = None, delim: str = "/", rights: str = "lrs") -> Folder:
    return Folder("work", path, path.rsplit(delim, 1)[-1], section, owner, delim, rights=rights)


def test_refusal_sentence_names_mailbox_and_access() -> None:
    support = folder("shared/support@x.test/INBOX", Section.SHARED, "support@x.test")
    with pytest.raises(PermissionDenied) as err:
        require_rights(support.rights, "te", f"delete messages in {mailbox_label(support)}")
    assert str(err.value) == (
        "You may not delete messages in support@x.test's INBOX: you have read-only access (read, mark as read)."
    )
    require_rights("lrswi", "s", "mark messages as read in it")  # enough rights: no exception


@pytest.mark.parametrize(
    ("rights", "summary"),
    [
        ("lrs", "you have read-only access (read, mark as read)"),
        ("lr", "you have read-only access (read)"),
        ("l", "you have no access to its messages"),
        ("lrswi", "your access is limited to: read, mark as read, flag and tag, add messages"),
    ],
)
def test_access_summary(rights: str, summary: str) -> None:
    assert access_summary(rights) == summary


def test_mailbox_labels() -> None:
    assert mailbox_label(folder("shared/sales@x.test/Sent", Section.SHARED, "sales@x.test")) == "sales@x.test's Sent"
    assert mailbox_label(folder("INBOX", Section.SHARED, "help@x.test")) == "help@x.test's INBOX"  # shared login
    assert mailbox_label(folder("Trash", Section.PERSONAL)) == "your Trash"
    assert mailbox_label(folder("Public/News", Section.PUBLIC)) == "the public folder Public/News"


def test_flag_rights_follow_rfc_4314() -> None:
    assert flag_rights(["\\Seen"]) == "s"
    assert flag_rights(["\\Deleted"]) == "t"
    assert flag_rights(["\\Flagged", "$Claimed"]) == "w"
    assert flag_rights(["\\Seen", "\\Flagged"]) == "sw"


def test_trash_is_looked_for_next_to_the_owners_folders() -> None:
    shared = folder("shared/support@x.test/INBOX", Section.SHARED, "support@x.test")
    assert _owner_root(shared, DOVECOT) == "shared/support@x.test/"
    assert _owner_root(folder("Archive", Section.PERSONAL), DOVECOT) == ""
    assert _owner_root(folder("INBOX.Drafts", Section.PERSONAL, delim="."), CYRUS) == "INBOX."
    cyrus_shared = folder("user.support.Sent", Section.SHARED, "support", delim=".")
    assert _owner_root(cyrus_shared, CYRUS) == "user.support."


def test_server_reason_drops_the_noise() -> None:
    raw = "select failed: [NONEXISTENT] Mailbox doesn't exist: X (0.001 + 0.000 + 0.002 secs)."
    assert server_reason(Exception(raw)) == "Mailbox doesn't exist: X"
    assert server_reason(Exception("b'[NOPERM] Permission denied (0.001 + 0.000 secs).'")) == "Permission denied"


def test_idle_classifies_only_changes() -> None:
    assert _classify(b"* 12 EXISTS") == {"exists"}
    assert _classify(b"* 3 EXPUNGE") == {"expunge"}
    assert _classify(b"* 4 FETCH (FLAGS (\\Seen) UID 9)") == {"fetch"}
    assert _classify(b"* VANISHED 5:7") == {"vanished"}
    assert _classify(b"* 1 RECENT") == set() and _classify(b"* OK Still here") == set()


def test_idle_retries_only_what_a_retry_can_fix() -> None:
    import ssl

    assert _permanent(AuthError("wrong password"))
    assert not _permanent(NetworkError("refused"))
    handshake_cut = TlsError("handshake failed")
    handshake_cut.__cause__ = ssl.SSLEOFError()
    assert not _permanent(handshake_cut)
    untrusted = TlsError("untrusted")
    untrusted.__cause__ = ssl.SSLCertVerificationError()
    assert _permanent(untrusted)
