"""ACL logic that needs no server: rights parsing, presets, words, risks, server sentences."""

from __future__ import annotations

import imaplib

import pytest
from imapclient.exceptions import IMAPClientError

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.acl import (
    AclEntry,
    ReviewRow,
    find_preset,
    parse_rights,
    preset_rights,
    review_csv,
    review_to_json,
    risk_of,
    rights_words,
    server_reason,
)
from sharedclient.core.imap.rights import describe_rights, right_word


@pytest.mark.parametrize(
    ("text", "current", "grantable", "expected"),
    [
        ("lrs", "", "lrswipkxtea", "lrs"),
        ("srl", "", "lrswipkxtea", "lrs"),
        ("read-only", "", "lrswipkxtea", "lrs"),
        ("Read only", "", "lrswipkxtea", "lrs"),
        ("editor", "", "lrswipkxtea", "lrswikxte"),
        ("full", "", "lrswipkxtea", "lrswipkxtea"),
        ("full", "", "lrswi", "lrswi"),  # limited to what LISTRIGHTS allows
        ("+w", "lrs", "lrswipkxtea", "lrsw"),
        ("-s", "lrsw", "lrswipkxtea", "lrw"),
        ("lrscd", "", "lrswipkxtea", "lrskxte"),  # RFC 2086 letters mean what they meant then
    ],
)
def test_parse_rights(text: str, current: str, grantable: str, expected: str) -> None:
    assert parse_rights(text, current, grantable) == expected


@pytest.mark.parametrize("text", ["", "lrz", "+", "everything", "l r"])
def test_parse_rights_refuses_nonsense(text: str) -> None:
    with pytest.raises(UsageError, match="is not a set of rights"):
        parse_rights(text, "")


def test_presets() -> None:
    assert preset_rights("contributor") == "lrswi"
    assert preset_rights("editor", "lrs") == "lrs"
    assert find_preset("slr") == "read-only" and find_preset("lr") is None


def test_words() -> None:
    assert describe_rights("lrs", limits=False) == "read, mark as read"
    assert describe_rights("l") == "see the folder name only; cannot delete, file or flag"
    assert rights_words("-bob@x", "wt") == "never: flag and tag, delete messages"
    assert rights_words("bob@x", "lrs") == "read, mark as read"
    assert right_word("a") == "administer" and right_word("z") == "right “z”"


def test_risks() -> None:
    owner = "support@example.test"
    assert risk_of(AclEntry("anyone", "l"), owner) == "Open to anyone, even without logging in."
    assert risk_of(AclEntry("authenticated", "lr"), owner) == "Open to every user of the mail server."
    assert risk_of(AclEntry("-anyone", "lr"), owner) == ""  # taking rights away is never a risk
    assert risk_of(AclEntry("alice@example.test", "lrsa"), owner) == "Can change who has access, and is not the owner."
    assert risk_of(AclEntry("Support@Example.test", "lrsa"), owner) == ""
    assert risk_of(AclEntry("owner", "lrswipkxtea"), owner) == ""
    assert risk_of(AclEntry("bob@example.test", "lrswipkxte"), owner) == ""


def test_server_sentences() -> None:
    bad = imaplib.IMAP4.error(
        'SETACL command error: BAD [b"Error in IMAP command SETACL: \'anyone\' identifier is disallowed '
        '(0.001 + 0.000 secs)."]'
    )
    assert server_reason(bad) == "'anyone' identifier is disallowed"
    no = IMAPClientError(
        "SETACL failed: [NOPERM] You lack administrator privileges on this mailbox (0.001 + 0.000 + 0.001 secs)."
    )
    assert server_reason(no) == "You lack administrator privileges on this mailbox"


def test_review_export_formats() -> None:
    rows = [
        ReviewRow("work", "shared/s@x/INBOX", "s@x", "anyone", "l", "see the folder name only", "Open to anyone."),
        ReviewRow("work", "shared/s@x/INBOX", "s@x", "bob@x", "lrs", "read, mark as read"),
    ]
    assert review_csv(rows).splitlines() == [
        "account,mailbox,owner,identifier,rights,rights_in_words,risk",
        "work,shared/s@x/INBOX,s@x,anyone,l,see the folder name only,Open to anyone.",
        'work,shared/s@x/INBOX,s@x,bob@x,lrs,"read, mark as read",',
    ]
    data = review_to_json(rows)
    assert data[0]["risky"] is True and data[1]["risky"] is False and data[1]["risk"] == ""
