"""Identities: implicit own addresses, the From-picker, reply-identity rules, reply/forward building."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharedclient.core.errors import AlreadyExistsError, NotFoundError
from sharedclient.core.identities import (
    CheckResult,
    IdentityStatus,
    all_identities,
    check_key,
    choose_reply_identity,
    find_identity,
    own_identity,
    permitted_identities,
)
from sharedclient.core.mime.compose import compose
from sharedclient.core.mime.reply import (
    clean_subject,
    forward_message,
    prefixed,
    quote_lines,
    read_original,
    reply_message,
)
from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode
from sharedclient.core.settings import Settings, load_settings, save_settings

WORK = Account("work", "alice@example.test", Endpoint("h", 993), Endpoint("h", 587, Security.STARTTLS), "alice@example.test")
HOME = Account("home", "alice@home.test", Endpoint("h", 993), Endpoint("h", 465), "alice@home.test")
SUPPORT = Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS, mailbox_owner="support@example.test")
SALES = Identity("sales@example.test", "Sales", "work", SendMode.ON_BEHALF, aliases=("vertrieb@example.test",),
                 mailbox_owner="sales@example.test")
ALICE = Identity("alice@example.test", "Alice Archer", "work")
SETTINGS = Settings(accounts=(WORK, HOME), identities=(SALES, SUPPORT, ALICE))


def test_settings_round_trip_with_identities_and_old_files(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(path, SETTINGS)
    assert load_settings(path) == SETTINGS
    data = json.loads(path.read_text())
    assert data["identities"][0]["mode"] == "on-behalf" and data["identities"][0]["aliases"] == ["vertrieb@example.test"]
    del data["identities"]
    path.write_text(json.dumps(data))
    assert load_settings(path).identities == ()  # written before identities existed


def test_identity_lookup_and_uniqueness() -> None:
    with pytest.raises(AlreadyExistsError):
        SETTINGS.with_identity(Identity("SUPPORT@example.test", "x", "work"))
    with pytest.raises(NotFoundError, match="no account named"):
        Settings().with_identity(SUPPORT)
    assert SETTINGS.without_account("work").identities == ()
    assert find_identity(SETTINGS, "alice@home.test").mode is SendMode.OWN  # implicit
    with pytest.raises(NotFoundError, match="identities: sales@"):
        find_identity(SETTINGS, "nobody@example.test")


def test_own_identity_explicit_replaces_implicit() -> None:
    assert own_identity(SETTINGS, "work") == ALICE
    assert own_identity(SETTINGS, "home") == Identity("alice@home.test", "", "home", SendMode.OWN)
    assert [i.address for i in all_identities(SETTINGS)] == [
        "alice@home.test", "sales@example.test", "support@example.test", "alice@example.test",
    ]


def test_permitted_identities_own_first_grouped_and_never_denied() -> None:
    checks = {
        check_key(SUPPORT): CheckResult(IdentityStatus.DENIED, "553 5.7.1 not owned by user", 1.0),
        check_key(SALES): CheckResult(IdentityStatus.VERIFIED, "ok", 1.0),
    }
    options = permitted_identities(SETTINGS, checks)
    assert [(o.identity.address, o.group, o.status.value) for o in options] == [
        ("alice@example.test", "", "unknown"),
        ("alice@home.test", "", "unknown"),
        ("sales@example.test", "sales@example.test", "verified"),
    ]


# ------------------------------------------------------------------------------------------------ reply identity

CANDIDATES = [ALICE, SALES, SUPPORT]


def choose(headers: dict[str, list[str]], **kw: object) -> tuple[str, str] | None:
    got = choose_reply_identity(headers, CANDIDATES, **kw)  # type: ignore[arg-type]
    return (got.identity.address, got.reason) if got else None


def test_message_in_a_shared_mailbox_answers_as_that_mailbox() -> None:
    headers = {"delivered-to": ["sales@example.test"], "to": ["support@example.test"]}
    assert choose(headers, mailbox_owner="support@example.test") == (
        "support@example.test", "the message is in the shared mailbox support@example.test",
    )


def test_delivered_to_beats_x_original_to_beats_to_and_cc() -> None:
    headers = {
        "to": ["Support <support@example.test>"],
        "x-original-to": ["vertrieb@example.test"],
        "delivered-to": ["sales+promo@example.test"],
    }
    assert choose(headers) == ("sales@example.test", "received via sales+promo@example.test")
    assert choose({"to": ["a@x.test"], "cc": ["Support <support@example.test>"]}) == (
        "support@example.test", "received via support@example.test",
    )


def test_alias_and_exact_before_tag() -> None:
    assert choose({"to": ["Vertrieb <vertrieb@example.test>"]}) == ("sales@example.test", "received via vertrieb@example.test")
    # In one header, an exact address wins over a +tag variant listed before it.
    assert choose({"to": ["support+urgent@example.test, sales@example.test"]}) == (
        "sales@example.test", "received via sales@example.test",
    )
    assert choose({"to": ["support+urgent@example.test"]}) == ("support@example.test", "received via support+urgent@example.test")


def test_no_match_falls_back_to_the_default_or_none() -> None:
    assert choose({"to": ["stranger@else.test"]}) is None
    got = choose_reply_identity({"to": ["x@y.test"]}, CANDIDATES, default=ALICE)
    assert got is not None and got.identity == ALICE and "own address" in got.reason
    assert choose({"to": ["=?broken"]}) is None  # malformed headers never raise


# ------------------------------------------------------------------------------------------------ reply / forward

ORIGINAL = (
    b"From: Dana Whitfield <dana@customer.test>\r\n"
    b"To: Support <support@example.test>, vertrieb@example.test\r\n"
    b"Cc: Tom <tom@customer.test>, \"evil@attacker.test\"@x.test, alice@example.test\r\n"
    b"Subject: =?utf-8?q?Re:_AW:_Rechnung_=0D=0AX-Evil:_1?=\r\n"
    b"Date: Mon, 03 Jun 2024 08:30:00 +0000\r\n"
    b"Message-ID: <seed-1@customer.test>\r\n"
    b"References: <root@customer.test>\r\n"
    b"\r\n"
    b"Hello support,\r\n> earlier quote\r\n\r\nThanks\r\n"
)


def test_reply_all_excludes_the_identity_and_aliases_and_unusable_addresses() -> None:
    original = read_original(ORIGINAL)
    assert original.skipped == ('"evil@attacker.test"@x.test',)  # CVE-2023-27043 shape
    msg = reply_message(original, SALES, reply_all=True, body="We are on it.", also_exclude=["alice@example.test"])
    assert [a.addr_spec for a in msg.to] == ["dana@customer.test"]
    assert [a.addr_spec for a in msg.cc] == ["support@example.test", "tom@customer.test"]  # vertrieb@ is SALES' alias
    assert msg.subject == "Re: Rechnung X-Evil: 1"  # the encoded newline became a space
    assert msg.in_reply_to == "<seed-1@customer.test>"
    assert msg.references == ("<root@customer.test>", "<seed-1@customer.test>")
    assert msg.quote.startswith("On Mon, 03 Jun 2024 at ") and "Dana Whitfield wrote:\n> Hello support,\n>> earlier quote\n>\n> Thanks\n" in msg.quote
    composed = compose(msg, ALICE)
    assert b"X-Evil" not in composed.raw.split(b"\r\nSubject:")[0]


def test_plain_reply_goes_to_reply_to_or_from() -> None:
    raw = ORIGINAL.replace(b"Date:", b"Reply-To: Billing <billing@customer.test>\r\nDate:")
    msg = reply_message(read_original(raw), SUPPORT)
    assert [a.addr_spec for a in msg.to] == ["billing@customer.test"] and msg.cc == ()


def test_reply_to_own_sent_message_goes_to_its_recipients() -> None:
    raw = b"From: Support <support@example.test>\r\nTo: Dana <dana@customer.test>\r\nSubject: Hi\r\n\r\nText\r\n"
    msg = reply_message(read_original(raw), SUPPORT)
    assert [a.addr_spec for a in msg.to] == ["dana@customer.test"]


def test_html_only_original_is_quoted_as_text() -> None:
    raw = (b"From: a@x.test\r\nSubject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<p>Hello <b>there</b></p><script>alert(1)</script>")
    msg = reply_message(read_original(raw), SUPPORT)
    assert "> Hello **there**" in msg.quote and "alert" not in msg.quote


def test_forward_keeps_attachments_and_headers() -> None:
    raw = (
        b"From: Dana <dana@customer.test>\r\nTo: support@example.test\r\nSubject: Invoice\r\n"
        b"Date: Mon, 03 Jun 2024 08:30:00 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="inv\\"oice.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--b--\r\n"
    )
    msg = forward_message(read_original(raw), SUPPORT)
    assert msg.subject == "Fwd: Invoice"
    assert "From: Dana <dana@customer.test>" in msg.quote and "See attached." in msg.quote
    (att,) = msg.attachments
    assert (att.filename, att.data, att.content_type) == ('inv"oice.pdf', b"%PDF-1.4", "application/pdf")


def test_subject_helpers() -> None:
    assert prefixed("Re: AW: re: Hello", "Re:") == "Re: Hello"
    assert prefixed("Fwd: x", "Fwd:") == "Fwd: x"
    assert clean_subject("a\r\nb =?utf-8?q?x?=") == "a b = ?utf-8?q?x?="
    assert quote_lines("a\n\n> b\n") == "> a\n>\n>> b\n"


def test_outgoing_from_a_composer_draft() -> None:
    from sharedclient.core.draft_message import outgoing_from_draft
    from sharedclient.core.drafts import Draft

    draft = Draft(identity="SALES@example.test", to=('"Doe, Jane" <jane@x.test>, tom@x.test',), bcc=("boss@x.test",),
                  subject="Re: Rechnung", body="Hi", in_reply_to="work:shared/sales@example.test/INBOX:7", reply_kind="reply")
    msg, ref = outgoing_from_draft(draft, SETTINGS, read_original(ORIGINAL))
    assert msg.identity == SALES and [a.addr_spec for a in msg.to] == ["jane@x.test", "tom@x.test"]
    assert msg.in_reply_to == "<seed-1@customer.test>" and ref is not None and (ref.path, ref.uid) == ("shared/sales@example.test/INBOX", 7)
    with pytest.raises(NotFoundError):
        outgoing_from_draft(replace_identity(draft, "nobody@x.test"), SETTINGS)


def replace_identity(draft: object, address: str) -> object:
    from dataclasses import replace

    return replace(draft, identity=address)  # type: ignore[type-var]
