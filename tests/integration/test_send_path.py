"""The send path end to end through the CLI, against the real Postfix (sender rules) and Dovecot (ACLs).

alice may send as support@ and has ``i`` on support@'s Sent; bob may not send as support@ (but may send
on its behalf, with his own envelope) and has only ``lrs`` there — see the table in tests/conftest.py.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import time
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.app import main
from sharedclient.core.identities import permitted_identities
from sharedclient.core.model import Endpoint, Security
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.profile_db import ProfileDb
from tests.conftest import DOMAIN, addr
from tests.memory_keyring import MemoryKeyring
from tests.servers.postfix import PostfixInstance

if TYPE_CHECKING:
    from tests.conftest import ImapServer, MailServers

SUPPORT = addr("support")
SUPPORT_SENT = f"shared/{SUPPORT}/Sent"
SUPPORT_INBOX = f"shared/{SUPPORT}/INBOX"
DENIED = (
    f"{SUPPORT} requires Send As permission; the server refused: 553 5.7.1 <{SUPPORT}>: "
    f"Sender address rejected: not owned by user bob@{DOMAIN}"
)


def run(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def ok(basedir: Path, *argv: str) -> str:
    code, out, err = run(basedir, *argv)
    assert code == 0, f"{argv}: {code}\n{out}\n{err}"
    return out


def setup_profile(basedir: Path, servers: MailServers, user: str, *, smtp_port: int | None = None) -> None:
    code, out, err = run(
        basedir, "account", "add", "work", "--email", addr(user),
        "--imap", f"127.0.0.1:{servers.dovecot.imap_tls_port}",
        "--smtp", f"127.0.0.1:{smtp_port or servers.postfix.submission_port}", "--smtp-security", "starttls",
        "--ca-file", str(servers.certs.ca_pem), "--password-stdin", stdin=f"{user}-secret-pw\n",
    )  # fmt: skip
    assert code == 0, err


def add_support(basedir: Path, mode: str) -> None:
    ok(basedir, "identity", "add", SUPPORT, "--account", "work", "--name", "Support Team", "--mode", mode,
       "--mailbox", SUPPORT)  # fmt: skip


def history(basedir: Path, *extra: str) -> list[dict[str, object]]:
    return json.loads(ok(basedir, "log", "--json", *extra))  # type: ignore[no-any-return]


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def find(servers: ImapServer, user: str, folder: str, msgid: str) -> list[tuple[bytes, tuple[bytes, ...]]]:
    """(raw, flags) of every message with ``msgid`` in ``folder``."""
    with servers.imap(user) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["HEADER", "Message-ID", msgid])
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
    return [(data[u][b"BODY[]"], data[u][b"FLAGS"]) for u in uids]


def wait_for(servers: ImapServer, user: str, folder: str, msgid: str, timeout: float = 15) -> bytes:
    deadline = time.monotonic() + timeout
    while not (found := find(servers, user, folder, msgid)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{msgid} did not arrive in {user}'s {folder} within {timeout} s")
        time.sleep(0.2)
    assert len(found) == 1, f"{msgid} is {len(found)} times in {user}'s {folder}"
    return found[0][0]


def test_alice_sends_as_support_with_a_team_copy_and_history(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(tmp_path, mail_servers, "alice")
    add_support(tmp_path, "send-as")
    out = ok(tmp_path, "send", "--from", SUPPORT, "--to", "Carol Chen <carol@example.test>",
             "--bcc", "boss@customer.test", "--subject", "Your order 4471", "--body", "It shipped today.")  # fmt: skip
    assert out.startswith("Sent from Support Team <support@example.test> to carol@example.test, boss@customer.test.")
    assert f"Copy saved in {SUPPORT_SENT}." in out
    entry, = history(tmp_path)
    msgid = str(entry["message_id"])
    assert msgid.endswith(f"@{DOMAIN}>")

    delivered = wait_for(mail_servers, "carol", "INBOX", msgid)
    msg = parse(delivered)
    assert msg["From"] == "Support Team <support@example.test>"
    assert msg["Sender"] is None and msg["Bcc"] is None
    assert msg["Return-Path"] == f"<{SUPPORT}>"
    assert "X-SharedClient-Sent-By" not in msg and b"boss@customer.test" not in delivered
    bcc_copy = parse(wait_for(mail_servers, "sink", "INBOX", msgid))
    assert bcc_copy["X-Original-To"] == "boss@customer.test" and bcc_copy["Bcc"] is None

    (copy, flags), = find(mail_servers, "alice", SUPPORT_SENT, msgid)
    team = parse(copy)
    assert team["X-SharedClient-Sent-By"] == addr("alice")
    assert team["Bcc"] == "boss@customer.test"
    assert b"\\Seen" in flags
    assert len(find(mail_servers, "support", "Sent", msgid)) == 1  # what the team sees, via the owner's login

    assert {k: entry[k] for k in ("account", "identity", "mode", "user", "envelope_from", "from", "sender",
                                  "recipients", "subject", "status", "copy_mailbox")} == {  # fmt: skip
        "account": "work", "identity": SUPPORT, "mode": "send-as", "user": addr("alice"), "envelope_from": SUPPORT,
        "from": "Support Team <support@example.test>", "sender": "", "recipients": ["carol@example.test", "boss@customer.test"],
        "subject": "Your order 4471", "status": "sent", "copy_mailbox": SUPPORT_SENT,
    }  # fmt: skip
    assert str(entry["smtp_reply"]).startswith("250 2.0.0 Ok")
    assert json.loads(ok(tmp_path, "outbox", "--json")) == []
    assert [e["id"] for e in history(tmp_path, "--identity", SUPPORT, "--search", "order 4471")] == [entry["id"]]
    assert history(tmp_path, "--search", "nothingmatches") == []

    listed = {i["address"]: i for i in json.loads(ok(tmp_path, "identity", "list", "--check", "--json"))}
    assert listed[SUPPORT]["status"] == "verified" and listed[addr("alice")]["status"] == "verified"
    assert set(listed[SUPPORT]) >= {"address", "name", "mode", "account", "status", "reason", "checked_at"}
    assert listed[addr("alice")]["implicit"] is True


def test_bob_sends_on_behalf_of_support_with_his_own_envelope(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(tmp_path, mail_servers, "bob")
    add_support(tmp_path, "on-behalf")
    ok(tmp_path, "identity", "add", addr("bob"), "--account", "work", "--mode", "own", "--name", "Bob Builder")
    code, out, err = run(tmp_path, "send", "--from", SUPPORT, "--to", addr("carol"), "--subject", "On behalf",
                         "--body", "Hello from the team.")  # fmt: skip
    assert code == 0, err
    # bob may read support@'s Sent but not add to it: the copy goes to his own Sent, and he is told so.
    assert f"you may not add messages to {SUPPORT_SENT}" in err and "your team will not see it there" in err
    entry, = history(tmp_path)
    msg = parse(wait_for(mail_servers, "carol", "INBOX", str(entry["message_id"])))
    assert msg["From"] == "Support Team <support@example.test>"
    assert msg["Sender"] == "Bob Builder <bob@example.test>"
    assert msg["Return-Path"] == f"<{addr('bob')}>"
    assert (entry["mode"], entry["envelope_from"], entry["sender"], entry["copy_mailbox"]) == (
        "on-behalf", addr("bob"), "Bob Builder <bob@example.test>", "Sent",
    )
    (copy, _), = find(mail_servers, "bob", "Sent", str(entry["message_id"]))
    assert parse(copy)["X-SharedClient-Sent-By"] == addr("bob")


def test_bob_may_not_send_as_support(tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring) -> None:
    setup_profile(tmp_path, mail_servers, "bob")
    add_support(tmp_path, "send-as")
    code, out, _ = run(tmp_path, "identity", "check", SUPPORT)
    assert code == 1 and out.startswith(f"{SUPPORT} (send-as): denied — {DENIED}")
    listed = {i["address"]: i for i in json.loads(ok(tmp_path, "identity", "list", "--json"))}
    assert listed[SUPPORT]["status"] == "denied" and listed[SUPPORT]["reason"] == DENIED
    assert listed[SUPPORT]["checked_at"] is not None

    profile = ProfileStore(tmp_path).get("default")
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        offered = [o.identity.address for o in permitted_identities(profile.load(), IdentityCheckStore(db).all())]
    assert offered == [addr("bob")]

    code, _, err = run(tmp_path, "send", "--from", SUPPORT, "--to", addr("carol"), "--subject", "Not allowed",
                       "--body", "x")  # fmt: skip
    assert code == 1
    assert err.startswith(f"sharedclient: {DENIED} (kept in the outbox as id 1)")
    item, = json.loads(ok(tmp_path, "outbox", "--json"))
    assert {k: item[k] for k in ("id", "status", "identity", "subject", "attempts", "last_error")} == {
        "id": 1, "status": "failed", "identity": SUPPORT, "subject": "Not allowed", "attempts": 1, "last_error": DENIED,
    }
    entry, = history(tmp_path)
    assert entry["status"] == "failed" and str(entry["smtp_reply"]).startswith("553 5.7.1")
    mail_servers.postfix.wait_idle()
    with mail_servers.imap("carol") as client:
        client.select_folder("INBOX", readonly=True)
        assert not client.search(["SUBJECT", "Not allowed"])


def test_a_refused_send_marks_an_unchecked_identity_denied(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(tmp_path, mail_servers, "bob")
    add_support(tmp_path, "send-as")
    listed = {i["address"]: i for i in json.loads(ok(tmp_path, "identity", "list", "--json"))}
    assert listed[SUPPORT]["status"] == "unknown"
    assert run(tmp_path, "send", "--from", SUPPORT, "--to", addr("carol"), "--subject", "x", "--body", "x")[0] == 1
    listed = {i["address"]: i for i in json.loads(ok(tmp_path, "identity", "list", "--json"))}
    assert listed[SUPPORT]["status"] == "denied" and listed[SUPPORT]["reason"] == DENIED


# ------------------------------------------------------------------------- outbox: server down, then flush


def test_postfix_down_keeps_the_message_queued_and_flush_delivers_it_once(
    tmp_path: Path, mail_servers: MailServers, private_postfix: PostfixInstance, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(tmp_path, mail_servers, "alice", smtp_port=private_postfix.submission_port)
    add_support(tmp_path, "send-as")
    private_postfix.stop()
    code, _, err = run(tmp_path, "send", "--from", SUPPORT, "--to", addr("carol"), "--subject", "While Postfix was down",
                       "--body", "Queued first.")  # fmt: skip
    assert code == 75, err
    assert "queued, retrying" in err and "refused the connection" in err and "(outbox id 1)" in err
    item, = json.loads(ok(tmp_path, "outbox", "--json"))
    assert (item["status"], item["attempts"]) == ("queued", 1) and "refused the connection" in item["last_error"]
    assert "queued, retrying" in ok(tmp_path, "outbox")

    private_postfix.start()
    profile = ProfileStore(tmp_path).get("default")
    settings = profile.load()
    account = settings.accounts[0]
    if account.smtp.port != private_postfix.submission_port:  # start() picks new ports only after a clash
        moved = replace(account, smtp=Endpoint("127.0.0.1", private_postfix.submission_port, Security.STARTTLS))
        profile.save(replace(settings, accounts=(moved,)))
    out = ok(tmp_path, "outbox", "flush")
    assert out.startswith("Sent from Support Team <support@example.test> to carol@example.test.")
    assert ok(tmp_path, "outbox", "flush") == "Nothing to send.\n"
    msgid = str(history(tmp_path)[0]["message_id"])
    wait_for(mail_servers, "carol", "INBOX", msgid)
    private_postfix.wait_idle()
    assert len(find(mail_servers, "carol", "INBOX", msgid)) == 1
    assert len(find(mail_servers, "alice", SUPPORT_SENT, msgid)) == 1
    assert [e["status"] for e in history(tmp_path)] == ["sent", "retrying"]
    assert json.loads(ok(tmp_path, "outbox", "--json")) == []


# ------------------------------------------------------------------------- replies and forwards


def _deliver_customer_mail(servers: MailServers, subject: str, *, attachment: bool = False) -> tuple[str, int]:
    msg = EmailMessage()
    msg["From"] = "Marco Bellini <marco.bellini@pizzeria.test>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msgid = make_msgid(domain="pizzeria.test")
    msg["Message-ID"] = msgid
    msg.set_content("Buongiorno,\nwhere is my order?\n")
    if attachment:
        msg.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    servers.dovecot.deliver(SUPPORT, msg.as_bytes())
    with servers.imap("alice") as client:
        client.select_folder(SUPPORT_INBOX, readonly=True)
        uid, = client.search(["HEADER", "Message-ID", msgid])
    return msgid, uid


def _flags(servers: MailServers, uid: int) -> tuple[bytes, ...]:
    with servers.imap("alice") as client:
        client.select_folder(SUPPORT_INBOX, readonly=True)
        return tuple(client.get_flags([uid])[uid])


def test_reply_from_the_shared_mailbox_picks_support_and_flags_the_original(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    original_id, uid = _deliver_customer_mail(mail_servers, "Order #9001 missing")
    setup_profile(tmp_path, mail_servers, "alice")
    add_support(tmp_path, "send-as")
    code, out, err = run(tmp_path, "send", "--reply-to-message", f"work:{SUPPORT_INBOX}:{uid}", "--body", "We are on it.")
    assert code == 0, err
    assert f"From: {SUPPORT} (the message is in the shared mailbox {SUPPORT})" in err
    entry, = history(tmp_path)
    reply = parse(wait_for(mail_servers, "sink", "INBOX", str(entry["message_id"])))
    assert reply["To"] == "Marco Bellini <marco.bellini@pizzeria.test>"
    assert reply["Subject"] == "Re: Order #9001 missing"
    assert reply["In-Reply-To"] == original_id and reply["References"] == original_id
    body = reply.get_content()
    assert body.startswith("We are on it.") and "Marco Bellini wrote:" in body and "> where is my order?" in body
    assert b"\\Answered" in _flags(mail_servers, uid)


def test_forward_keeps_the_attachment_and_marks_forwarded(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    _, uid = _deliver_customer_mail(mail_servers, "Receipt attached", attachment=True)
    setup_profile(tmp_path, mail_servers, "alice")
    add_support(tmp_path, "send-as")
    code, _, err = run(tmp_path, "send", "--from", SUPPORT, "--forward-message", f"work:{SUPPORT_INBOX}:{uid}",
                       "--to", addr("carol"), "--body", "FYI")  # fmt: skip
    assert code == 0, err
    entry, = history(tmp_path)
    fwd = parse(wait_for(mail_servers, "carol", "INBOX", str(entry["message_id"])))
    assert fwd["Subject"] == "Fwd: Receipt attached"
    (att,) = list(fwd.iter_attachments())
    assert (att.get_filename(), att.get_content()) == ("receipt.pdf", b"%PDF-1.4 receipt")
    assert b"$Forwarded" in _flags(mail_servers, uid)
