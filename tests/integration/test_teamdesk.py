"""Templates and notes in a shared mailbox, against the real Dovecot (ACLs) and Postfix (what is delivered).

Each test builds its own team so the conftest seed stays untouched: an owner (the shared mailbox), an
agent with ``lrswipkxte`` on its INBOX (may create folders and add) and a read-only teammate (``lrs``).
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sharedclient.app import main
from sharedclient.core.identities import own_identity
from sharedclient.core.mime.reply import read_original
from sharedclient.core.model import Identity
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.teamdesk.placeholders import context_for, fill
from sharedclient.devservers.dovecot import MailUser
from tests.integration.readpath import DOMAIN, message, new_user
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from tests.conftest import ImapServer, MailServers

TEMPLATE_TEXT = (
    "Dear {customer_name},\n\nthanks for writing about “{original_subject}” ({customer_email}).\n"
    "We refunded the second charge on {date}.\n\nKind regards,\n{agent_name} for {identity_name}\n{ticket_no}\n"
)


@dataclass(frozen=True)
class Team:
    owner: MailUser
    agent: MailUser  # lrswipkxte on the owner's INBOX
    reader: MailUser  # lrs

    @property
    def inbox(self) -> str:
        return f"shared/{self.owner.login}/INBOX"


def make_team(server: ImapServer) -> Team:
    owner, agent, reader = new_user(server), new_user(server), new_user(server)
    server.dovecot.set_acl(owner.login, "INBOX", agent.login, "lrswipkxte")
    server.dovecot.set_acl(owner.login, "INBOX", reader.login, "lrs")
    return Team(owner, agent, reader)


def run(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def ok(basedir: Path, *argv: str, stdin: str = "") -> str:
    code, out, err = run(basedir, *argv, stdin=stdin)
    assert code == 0, f"{argv}: {code}\n{out}\n{err}"
    return out


def profile_for(basedir: Path, server: ImapServer, user: MailUser, account: str, name: str,
                smtp_port: int = 587) -> Path:  # fmt: skip
    """A profile whose account ``account`` (unique: the test keyring is shared) logs in as ``user``."""
    basedir.mkdir()
    ok(basedir, "account", "add", account, "--email", user.login, "--imap", f"127.0.0.1:{server.dovecot.imap_tls_port}",
       "--smtp", f"127.0.0.1:{smtp_port}", "--smtp-security", "starttls", "--ca-file", str(server.certs.ca_pem),
       "--password-stdin", stdin=user.password + "\n")  # fmt: skip
    ok(basedir, "identity", "add", user.login, "--account", account, "--name", name, "--mode", "own")
    return basedir


def uid_of(server: ImapServer, user: MailUser, folder: str, msgid: str) -> int:
    with server.imap(user.login.split("@")[0]) as client:
        client.select_folder(folder, readonly=True)
        (uid,) = client.search(["HEADER", "Message-ID", msgid])
        return int(uid)


def deliver_customer_mail(server: ImapServer, team: Team, subject: str, **extra: str) -> tuple[int, str, bytes]:
    raw = message(subject, sender=f"Dana Whitfield <dana@customer.{DOMAIN}>", extra=extra or None,
                  body="Hello,\nI was charged twice for invoice 2024-0117.\nDana\n")  # fmt: skip
    msgid = email.message_from_bytes(raw)["Message-ID"]
    server.dovecot.deliver(team.owner.login, raw)
    return uid_of(server, team.owner, "INBOX", msgid), msgid, raw


# -- templates ---------------------------------------------------------------------------------------


def test_template_added_by_one_agent_is_listed_and_filled_in_by_a_read_only_teammate(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    team = make_team(imap_server)
    agent = profile_for(tmp_path / "agent", imap_server, team.agent, "ag", "Kim Agent")
    reader = profile_for(tmp_path / "reader", imap_server, team.reader, "rd", "Robin Reader")
    uid, _, _ = deliver_customer_mail(imap_server, team, "Invoice 2024-0117 charged twice")

    # Nothing there yet; the read-only teammate is told why it cannot add (no "k" to create the folder).
    assert json.loads(ok(reader, "templates", "list", f"rd:{team.inbox}", "--json")) == []
    body = tmp_path / "refund.txt"
    body.write_text(TEMPLATE_TEXT, encoding="utf-8")
    code, _, err = run(reader, "templates", "add", f"rd:{team.inbox}", "--name", "Refund", "--body-file", str(body))
    assert code == 1
    assert "no Templates folder" in err and "“k” (create folders)" in err and "read-only access" in err

    # The agent holds "k": the folder is created inside the INBOX (so it inherits the team's ACL).
    attachment = tmp_path / "refund-policy.pdf"
    attachment.write_bytes(b"%PDF-1.4 policy")
    out = ok(agent, "templates", "add", f"ag:{team.inbox}", "--name", "Refund – double charge",
             "--body-file", str(body), "--attach", str(attachment))  # fmt: skip
    assert f"to {team.owner.login}'s INBOX/Templates" in out

    listed = json.loads(ok(reader, "templates", "list", f"rd:{team.inbox}", "--json"))
    assert [t["name"] for t in listed] == ["Refund – double charge"]
    assert listed[0]["body"] == TEMPLATE_TEXT and listed[0]["attachments"] == ["refund-policy.pdf"]
    assert listed[0]["author"] == f"Kim Agent <{team.agent.login}>"
    assert listed[0]["mailbox"] == f"{team.inbox}/Templates"
    assert json.loads(ok(reader, "templates", "list", f"rd:{team.inbox}", "--json", "--search", "REFUNDED second"))
    assert json.loads(ok(reader, "templates", "list", f"rd:{team.inbox}", "--json", "--search", "shipping")) == []
    text = ok(reader, "templates", "list", f"rd:{team.inbox}")
    assert "Refund – double charge" in text and "you have read-only access" in text

    # Dovecot now lists the shared INBOX twice (it has a child); the folder list shows it once.
    paths = [b["path"] for b in json.loads(ok(reader, "mailboxes", "--json"))]
    assert paths.count(team.inbox) == 1 and f"{team.inbox}/Templates" in paths

    # Now that the folder exists, the refusal names the folder's rights instead.
    code, _, err = run(reader, "templates", "add", f"rd:{team.inbox}", "--name", "Mine", "--body-file", str(body))
    assert code == 1 and f"You may not add templates to {team.owner.login}'s INBOX/Templates" in err

    # The teammate inserts it into a reply: placeholders come from the original message.
    with imap_server.imap(team.reader.login.split("@")[0]) as client:
        client.select_folder(team.inbox, readonly=True)
        raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    settings = ProfileStore(reader).get("default").load()
    me = own_identity(settings, "rd")
    filled = fill(listed[0]["body"], context_for(read_original(raw), me, me, date(2026, 11, 27)))
    assert filled.text.startswith(
        "Dear Dana Whitfield,\n\nthanks for writing about “Invoice 2024-0117 charged twice” "
        f"(dana@customer.{DOMAIN}).\nWe refunded the second charge on 27 November 2026."
    )
    assert "Robin Reader for Robin Reader\n{ticket_no}\n" in filled.text  # unknown: left as written
    assert [(u.name, u.reason) for u in filled.unfilled] == [("ticket_no", "unknown placeholder")]
    assert filled.text[filled.unfilled[0].start : filled.unfilled[0].end] == "{ticket_no}"


def test_personal_templates_live_in_the_users_own_mailbox(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    user = new_user(imap_server)
    basedir = profile_for(tmp_path / "p", imap_server, user, "pp", "Pat Person")
    body = tmp_path / "b.txt"
    body.write_text("Hi {customer_name}!\n", encoding="utf-8")
    ok(basedir, "templates", "add", "pp:INBOX", "--name", "Greeting", "--body-file", str(body))
    listed = json.loads(ok(basedir, "templates", "list", "pp:INBOX", "--json"))
    assert [(t["name"], t["mailbox"]) for t in listed] == [("Greeting", "Templates")]
    code, _, err = run(basedir, "templates", "add", "pp:INBOX", "--name", "Bad =?utf-8?q?x?= name", "--body-file", str(body))
    assert code == 1 and "template name" in err


# -- notes -------------------------------------------------------------------------------------------


def _delivered(server: MailServers, since_uid: int) -> list[bytes]:
    """Every message Postfix delivered to the sink (all mail to outside domains) after ``since_uid``."""
    with server.imap("sink") as client:
        client.select_folder("INBOX", readonly=True)
        uids = [u for u in client.search(["UID", f"{since_uid + 1}:*"]) if u > since_uid]
        data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [bytes(data[u][b"BODY[]"]) for u in uids]


def _sink_last_uid(server: MailServers) -> int:
    with server.imap("sink") as client:
        info = client.select_folder("INBOX", readonly=True)
        return int(info[b"UIDNEXT"]) - 1


def test_note_is_shared_with_the_team_and_never_reaches_the_customer(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    team = make_team(mail_servers)
    postfix = mail_servers.postfix
    postfix.set_sender_logins({**postfix.sender_logins, team.agent.login: [team.agent.login]})
    port = postfix.submission_port
    agent = profile_for(tmp_path / "agent", mail_servers, team.agent, "na", "Kim Agent", port)
    reader = profile_for(tmp_path / "reader", mail_servers, team.reader, "nr", "Robin Reader", port)
    uid, msgid, _ = deliver_customer_mail(mail_servers, team, "Refund please")
    follow_uid, _, _ = deliver_customer_mail(mail_servers, team, "Re: Refund please", **{"In-Reply-To": msgid,
                                             "References": msgid})  # fmt: skip
    secret = "VIP customer, refund approved by Jo; do not mention the fraud check"
    sink_before = _sink_last_uid(mail_servers)
    log_before = postfix.log_path.read_text(errors="replace")

    code, _, err = run(reader, "notes", "add", f"nr:{team.inbox}", str(uid), "--text", "mine")
    assert code == 1 and "no Notes folder" in err and "“k” (create folders)" in err
    ok(agent, "notes", "add", f"na:{team.inbox}", str(uid), "--text", secret)

    # The read-only teammate sees it, on the message and on the follow-up of the same conversation.
    for which in (uid, follow_uid):
        (note,) = json.loads(ok(reader, "notes", f"nr:{team.inbox}", str(which), "--json"))
        assert note["author"] == f"Kim Agent <{team.agent.login}>" and note["text"] == secret
        assert note["about"] == msgid and note["date"]
    shown = ok(reader, "notes", f"nr:{team.inbox}", str(uid))
    assert secret in shown and f"You may not add notes to {team.owner.login}'s INBOX/Notes" in shown
    code, _, err = run(reader, "notes", "add", f"nr:{team.inbox}", str(uid), "--text", "mine")
    assert code == 1 and "read-only access" in err
    assert len(json.loads(ok(reader, "notes", f"nr:{team.inbox}", str(uid), "--json"))) == 1

    # On the server: a message in INBOX/Notes, threaded onto the conversation, marked as a note.
    with mail_servers.imap(team.owner.login.split("@")[0]) as client:
        client.select_folder("INBOX/Notes", readonly=True)
        (note_uid,) = client.search()
        data = client.fetch([note_uid], ["BODY.PEEK[]", "FLAGS"])[note_uid]
    stored = email.message_from_bytes(data[b"BODY[]"], policy=email.policy.default)
    assert stored["In-Reply-To"] == msgid and msgid in stored["References"]
    assert stored["X-SharedClient-Note"] and stored["From"].addresses[0].addr_spec == team.agent.login
    assert b"$SharedClientNote" in data[b"FLAGS"]
    assert stored["To"] is None  # nothing a mail program could send it to

    # The agent replies; the reply quotes the customer, never the note. Replying to the note is refused.
    out = ok(agent, "send", "--reply-to-message", f"na:{team.inbox}:{uid}", "--from", team.agent.login,
             "--body", "We are on it.")  # fmt: skip
    assert out.startswith("Sent from")
    code, _, err = run(agent, "send", "--reply-to-message", f"na:{team.inbox}/Notes:{note_uid}",
                       "--from", team.agent.login, "--body", "x")  # fmt: skip
    assert code == 1 and "internal note" in err
    code, _, err = run(agent, "send", "--forward-message", f"na:{team.inbox}/Notes:{note_uid}",
                       "--from", team.agent.login, "--to", "boss@customer.test")  # fmt: skip
    assert code == 1 and "internal note" in err
    postfix.wait_idle()

    deadline = time.monotonic() + 15
    while not (delivered := _delivered(mail_servers, sink_before)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(delivered) == 1, "exactly the reply went out through Postfix"
    reply = email.message_from_bytes(delivered[0], policy=email.policy.default)
    text = reply.get_body(("plain",)).get_content()
    assert reply["Subject"] == "Re: Refund please" and reply["In-Reply-To"] == msgid
    assert "We are on it." in text and "> I was charged twice for invoice 2024-0117." in text
    assert "VIP" not in text and secret not in delivered[0].decode(errors="replace")
    assert reply["X-SharedClient-Note"] is None
    submitted = postfix.log_path.read_text(errors="replace")[len(log_before) :]
    assert str(stored["Message-ID"]) not in submitted  # the note never passed through Postfix at all
    assert str(reply["Message-ID"]) in submitted


def test_demo_seed_gives_the_team_templates_and_a_note(imap_server: ImapServer) -> None:
    """What ``make demo`` puts into support@ (devservers.seed.seed_desk), read back as a teammate would."""
    from sharedclient.core.imap.connection import ImapConnection  # noqa: PLC0415
    from sharedclient.core.imap.session import open_imap  # noqa: PLC0415
    from sharedclient.core.teamdesk.notes import conversation_of, notes_for  # noqa: PLC0415
    from sharedclient.core.teamdesk.templates import list_templates  # noqa: PLC0415
    from sharedclient.devservers.seed import demo_messages, seed_desk  # noqa: PLC0415
    from tests.integration.readpath import account_of  # noqa: PLC0415

    team = make_team(imap_server)
    inbox = demo_messages(DOMAIN, "support", 30, to=team.owner.login)
    imap_server.dovecot.deliver_many(team.owner.login, inbox)
    seed_desk(imap_server.dovecot, team.owner.login, {team.agent.login: "lrswipkxte", team.reader.login: "lrs"}, inbox)
    account = account_of(imap_server, team.reader)
    conn = ImapConnection(open_imap(account, team.reader.password))
    try:
        found = list_templates(conn, account, team.inbox)
        assert [t.name for t in found.templates] == ["Password reset instructions", "Refund confirmed"]
        assert "read-only access" in found.desk.reason
        noted = [raw for raw in inbox if notes_for(conn, account, team.inbox, conversation_of(raw)).notes]
        assert len(noted) == 1
        (note,) = notes_for(conn, account, team.inbox, conversation_of(noted[0])).notes
        assert note.author == f"Bob Baker <bob@{DOMAIN}>" and "key account" in note.text
    finally:
        conn.close()


def test_reader_reuses_the_located_notes_folder_for_a_minute(imap_server: ImapServer, session_for) -> None:  # type: ignore[no-untyped-def]
    """Reading notes looks the Notes folder up once a minute, not for every message shown."""
    from sharedclient.core.teamdesk.notes import conversation_of  # noqa: PLC0415
    from sharedclient.core.teamdesk.service import TeamDesk, author_address  # noqa: PLC0415

    team = make_team(imap_server)
    _, _, raw = deliver_customer_mail(imap_server, team, "Cache me")
    about = conversation_of(raw)
    now = [1000.0]
    reader = TeamDesk(session_for(team.reader), clock=lambda: now[0])
    agent = TeamDesk(session_for(team.agent))
    first = reader.notes(team.inbox, about).result(timeout=30)
    assert first.notes == () and first.desk.folder is None and "“k”" in first.desk.reason

    agent.add_note(team.inbox, about, "First!", author_address("Kim", team.agent.login)).result(timeout=30)
    assert reader.notes(team.inbox, about).result(timeout=30).notes == ()  # still the place seen a moment ago
    now[0] += 61
    (note,) = reader.notes(team.inbox, about).result(timeout=30).notes
    assert note.text == "First!"
    agent.add_note(team.inbox, about, "Second", author_address("Kim", team.agent.login)).result(timeout=30)
    assert [n.text for n in reader.notes(team.inbox, about).result(timeout=30).notes] == ["First!", "Second"]
