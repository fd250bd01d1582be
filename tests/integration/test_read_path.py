"""The read path against the real Dovecot: CLI commands, message actions under ACLs, and faults.

Tests that change mail use users created for the test (``fresh_user`` / ``new_user``), so the shared
seed (support@, sales@, alice@) stays as conftest describes it; tests that read the seed only read it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.core.errors import NetworkError, PermissionDenied
from sharedclient.core.imap import messages
from sharedclient.core.imap import sync as sync_module
from sharedclient.core.imap.sync import SyncCancelled
from sharedclient.core.imap.summary_pool import SummaryPool
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.devservers.dovecot import MailUser
from tests.integration.readpath import (
    DOMAIN,
    SessionFor,
    add_account,
    fill,
    flags_of,
    message,
    run,
    shared_team,
)
from tests.memory_keyring import MemoryKeyring
from tests.servers.proxy import RewritingProxy

if TYPE_CHECKING:
    from tests.conftest import ImapServer

SUPPORT_INBOX = f"shared/support@{DOMAIN}/INBOX"
SALES_INBOX = f"shared/sales@{DOMAIN}/INBOX"
READ_ONLY = "you have read-only access (read, mark as read)"
NO_TRASH = "(it has no Trash you may move it to)"


# -- CLI: reading --------------------------------------------------------------------------------


def test_mailboxes_json_has_sections_owners_and_rights(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    add_account(tmp_path, imap_server, imap_server.users["alice"], "work")
    code, out, err = run(tmp_path, "mailboxes", "--json")
    assert (code, err) == (0, "")
    boxes = {b["path"]: b for b in json.loads(out)}
    keys = {"account", "section", "owner", "path", "name", "rights", "unread", "total"}
    assert all(set(b) == keys for b in boxes.values())
    support = boxes[SUPPORT_INBOX]
    assert (support["section"], support["owner"], support["name"]) == ("shared", f"support@{DOMAIN}", "INBOX")
    assert support["rights"] == "lrswipkxtea" and support["total"] >= 10
    assert boxes[SALES_INBOX]["rights"] == "lrs"
    assert (boxes["INBOX"]["section"], boxes["INBOX"]["owner"]) == ("personal", None)
    assert boxes["Public/Announcements"]["section"] == "public"
    assert f"shared/support@{DOMAIN}" not in boxes  # \Noselect parents are not mailboxes

    code, out, _ = run(tmp_path, "mailboxes")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ACCOUNT", "SECTION", "OWNER", "MAILBOX", "RIGHTS", "UNREAD", "TOTAL"]
    assert any(SALES_INBOX in r and " lrs " in r for r in rows)


def test_sync_then_messages_reads_the_cache_file_the_window_uses(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    add_account(tmp_path, imap_server, imap_server.users["bob"], "desk")
    code, out, err = run(tmp_path, "sync", f"desk:{SUPPORT_INBOX}", "--json")
    assert (code, err) == (0, ""), err
    first = json.loads(out)
    assert first["fetched"] >= 10 and first["total"] == first["fetched"] and first["seconds"] >= 0
    assert [p.name for p in tmp_path.rglob("cache-*.sqlite")] == ["cache-desk.sqlite"]

    code, out, _ = run(tmp_path, "sync", f"desk:{SUPPORT_INBOX}")
    assert code == 0
    assert out.startswith(f"Synced support@{DOMAIN}'s INBOX: 0 fetched, 0 updated, 0 vanished in ")

    code, out, err = run(tmp_path, "messages", f"desk:{SUPPORT_INBOX}", "--limit", "3", "--json")
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert len(rows) == 3
    assert set(rows[0]) == {"uid", "date", "from", "sender", "to", "subject", "flags", "size"}
    dates = [datetime.fromisoformat(r["date"]) for r in rows]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert rows[0]["from"].endswith(">") and rows[0]["sender"] is None and rows[0]["size"] > 0

    code, out, _ = run(tmp_path, "messages", f"desk:{SUPPORT_INBOX}", "--search", "invoice", "--json")
    subjects = [r["subject"] for r in json.loads(out)]
    assert code == 0 and subjects and all("Invoice" in s for s in subjects)

    code, out, _ = run(tmp_path, "messages", f"desk:{SUPPORT_INBOX}", "--limit", "0")
    assert code == 0 and out.splitlines()[0].split() == ["UID", "DATE", "FROM", "SUBJECT"]
    assert "Order #4471 has not arrived" in out


def test_show_renders_on_behalf_and_raw_gives_the_bytes(
    tmp_path: Path, imap_server: ImapServer, fresh_user: MailUser, memory_keyring: MemoryKeyring
) -> None:
    raw = message("Your refund", sender=f"Support <support@{DOMAIN}>", extra={"Sender": f"Alice <alice@{DOMAIN}>"},
                  body="Your refund is on its way.\n")  # fmt: skip
    imap_server.dovecot.deliver(fresh_user.login, raw)
    add_account(tmp_path, imap_server, fresh_user)
    code, out, err = run(tmp_path, "show", "work:INBOX", "1")
    assert (code, err) == (0, ""), err
    assert f"From:     Alice on behalf of Support <support@{DOMAIN}>" in out.splitlines()
    assert "Subject:  Your refund" in out and out.rstrip().endswith("Your refund is on its way.")

    code, out, _ = run(tmp_path, "show", "INBOX", "1", "--raw")  # one account: the PATH alone is enough
    assert code == 0 and raw.replace(b"\r\n", b"\n").decode() in out.replace("\r\n", "\n")
    assert flags_of(imap_server, fresh_user, "INBOX")[1] == set()  # showing does not mark as read


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (("sync", "work:No/Such/Box"), "There is no mailbox “No/Such/Box” in account “work”"),
        (("messages", "nope:INBOX"), "There is no account named “nope” in this profile (accounts: work)."),
        (("show", "work:INBOX", "999"), "Message 999 is no longer in “INBOX”"),
        (("mark", "work:INBOX", "999", "--flag"), "Message 999 is no longer in your INBOX"),
        (("sync", "INBOX:"), "Name the mailbox as ACCOUNT:PATH"),
    ],
)
def test_unknown_things_are_one_sentence(
    tmp_path: Path, imap_server: ImapServer, fresh_user: MailUser, memory_keyring: MemoryKeyring,
    argv: tuple[str, ...], sentence: str,
) -> None:  # fmt: skip
    add_account(tmp_path, imap_server, fresh_user)
    code, out, err = run(tmp_path, *argv)
    assert code == 1 and out == ""
    assert err.startswith("sharedclient: ") and sentence in err and err.count("\n") == 1, err


# -- CLI: changing, under the server's rights ----------------------------------------------------


def test_read_only_user_is_refused_clearly_and_nothing_changes(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    before = flags_of(imap_server, imap_server.users["support"], "INBOX")
    add_account(tmp_path, imap_server, imap_server.users["bob"], "desk")
    where = f"support@{DOMAIN}'s INBOX"
    for argv, doing in [
        (("mark", f"desk:{SUPPORT_INBOX}", "4", "--flag"), f"flag messages in {where}"),
        (("delete", f"desk:{SUPPORT_INBOX}", "4"), f"delete messages in {where}"),
        (("move", f"desk:{SUPPORT_INBOX}", "4", "INBOX"), f"move messages out of {where}"),
        (("move", f"desk:{SUPPORT_INBOX}", "4", f"shared/support@{DOMAIN}/Archive", "--copy"),
         f"copy messages into support@{DOMAIN}'s Archive"),
    ]:  # fmt: skip
        code, out, err = run(tmp_path, *argv)
        assert (code, out) == (1, ""), argv
        assert err == f"sharedclient: You may not {doing}: {READ_ONLY}.\n"
    assert flags_of(imap_server, imap_server.users["support"], "INBOX") == before

    # ... but "s" lets bob mark as unread and read again (message 1 is seeded \Seen).
    assert run(tmp_path, "mark", f"desk:{SUPPORT_INBOX}", "1", "--unread")[0] == 0
    assert "\\Seen" not in flags_of(imap_server, imap_server.users["support"], "INBOX")[1]
    code, out, _ = run(tmp_path, "mark", f"desk:{SUPPORT_INBOX}", "1", "--read")
    assert (code, out) == (0, f"Message 1 in {where} is now marked as read.\n")
    assert flags_of(imap_server, imap_server.users["support"], "INBOX") == before


def test_full_rights_user_deletes_in_support_inbox(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    """alice (lrswipkxtea) on support@'s INBOX; support@ shares no Trash with her, so it goes for good.

    The message is delivered by the test first, so the seed is as before afterwards.
    """
    support = imap_server.users["support"]
    before = flags_of(imap_server, support, "INBOX")
    subject = f"Spam {secrets.token_hex(4)}"
    imap_server.dovecot.deliver(support.login, message(subject))
    add_account(tmp_path, imap_server, imap_server.users["alice"], "work")
    code, out, _ = run(tmp_path, "messages", f"work:{SUPPORT_INBOX}", "--search", subject, "--json")
    [row] = json.loads(out)
    code, out, err = run(tmp_path, "delete", f"work:{SUPPORT_INBOX}", str(row["uid"]))
    assert (code, err) == (0, "")
    assert out == f"Deleted message {row['uid']} from support@{DOMAIN}'s INBOX for good {NO_TRASH}.\n"
    assert flags_of(imap_server, support, "INBOX") == before
    code, out, _ = run(tmp_path, "messages", f"work:{SUPPORT_INBOX}", "--search", subject, "--json")
    assert (code, json.loads(out)) == (0, [])  # the cache forgot it too


def test_delete_in_a_shared_mailbox_goes_to_its_trash_then_for_good(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    full = "lrswipkxte"
    owner, mate = shared_team(imap_server, {"INBOX": full, "Trash": full, "Archive": full})
    imap_server.dovecot.deliver_many(owner.login, [message(f"Ticket {i}") for i in range(4)])
    add_account(tmp_path, imap_server, mate, "desk")
    inbox, trash = f"shared/{owner.login}/INBOX", f"shared/{owner.login}/Trash"
    assert run(tmp_path, "sync", f"desk:{inbox}")[0] == 0

    code, out, err = run(tmp_path, "delete", f"desk:{inbox}", "2")
    assert (code, err) == (0, "")
    assert out == f"Moved message 2 from {owner.login}'s INBOX to {owner.login}'s Trash.\n"
    assert sorted(flags_of(imap_server, owner, "INBOX")) == [1, 3, 4]
    assert len(flags_of(imap_server, owner, "Trash")) == 1
    assert not flags_of(imap_server, mate, "Trash")  # not the personal Trash of whoever clicked
    code, out, _ = run(tmp_path, "messages", f"desk:{inbox}", "--json")
    assert sorted(r["uid"] for r in json.loads(out)) == [1, 3, 4]

    code, out, _ = run(tmp_path, "delete", f"desk:{trash}", "1")
    assert (code, out) == (0, f"Deleted message 1 from {owner.login}'s Trash for good {NO_TRASH}.\n")
    assert flags_of(imap_server, owner, "Trash") == {}

    code, out, _ = run(tmp_path, "move", f"desk:{inbox}", "3", f"shared/{owner.login}/Archive")
    assert (code, out) == (0, f"Moved message 3 from {owner.login}'s INBOX to {owner.login}'s Archive.\n")
    code, out, _ = run(tmp_path, "move", f"desk:{inbox}", "4", "INBOX", "--copy")
    assert (code, out) == (0, f"Copied message 4 from {owner.login}'s INBOX to your INBOX.\n")
    assert sorted(flags_of(imap_server, owner, "INBOX")) == [1, 4]
    assert len(flags_of(imap_server, owner, "Archive")) == 1 and len(flags_of(imap_server, mate, "INBOX")) == 1


def test_delete_without_a_usable_trash_expunges_only_that_message(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    owner, mate = shared_team(imap_server, {"INBOX": "lrswipkxte", "Trash": "lr"})  # Trash visible, not ours to fill
    imap_server.dovecot.deliver_many(owner.login, [message(f"Ticket {i}") for i in range(3)])
    with imap_server.imap(owner.login.split("@")[0]) as client:  # a teammate marked 3 deleted, not expunged
        client.select_folder("INBOX")
        client.add_flags([3], ["\\Deleted"])
    add_account(tmp_path, imap_server, mate, "desk")
    code, out, _ = run(tmp_path, "delete", f"desk:shared/{owner.login}/INBOX", "1")
    assert (code, out) == (0, f"Deleted message 1 from {owner.login}'s INBOX for good {NO_TRASH}.\n")
    assert sorted(flags_of(imap_server, owner, "INBOX")) == [2, 3]  # UID EXPUNGE left 3 alone


def test_personal_delete_uses_the_personal_trash(
    tmp_path: Path, imap_server: ImapServer, fresh_user: MailUser, memory_keyring: MemoryKeyring
) -> None:
    imap_server.dovecot.deliver(fresh_user.login, message("Newsletter"))
    add_account(tmp_path, imap_server, fresh_user)
    code, out, _ = run(tmp_path, "delete", "work:INBOX", "1")
    assert (code, out) == (0, "Moved message 1 from your INBOX to your Trash.\n")


# -- core: rights and refusals -------------------------------------------------------------------


def test_server_refusal_becomes_a_sentence(imap_server: ImapServer, session_for: SessionFor) -> None:
    """Rights looked fine when read (a stale Folder), but the server says NO [NOPERM]: one sentence."""
    owner, mate = shared_team(imap_server, {"INBOX": "lrs", "Archive": "lrs"})
    imap_server.dovecot.deliver(owner.login, message("Hello"))
    session = session_for(mate)

    def job(conn: ImapConnection) -> None:
        folder = messages.resolve_folder(conn, session.account, f"shared/{owner.login}/INBOX")
        target = messages.resolve_folder(conn, session.account, f"shared/{owner.login}/Archive")
        stale = dataclasses.replace(target, rights="lrswipkxte")
        messages.transfer(conn, folder, [1], stale, copy=True)

    with pytest.raises(PermissionDenied) as err:
        session.worker.submit(job).result(10)
    assert str(err.value) == (
        f"You may not copy messages from {owner.login}'s INBOX to {owner.login}'s Archive: "
        "the server refused it (no permission)."
    )


def test_revoked_rights_take_effect_at_the_next_folder_refresh(
    imap_server: ImapServer, session_for: SessionFor
) -> None:
    owner, mate = shared_team(imap_server, {"INBOX": "lrs", "Archive": "lrs", "Sent": "lrswi"})
    imap_server.dovecot.deliver_many(owner.login, [message("A"), message("B")])
    session = session_for(mate)
    inbox, archive, sent = (f"shared/{owner.login}/{n}" for n in ("INBOX", "Archive", "Sent"))
    before = {f.path: f.rights for f in session.folders().result(10)}
    assert before[inbox] == "lrs" and before[sent] == "lrswi"
    for path in (inbox, archive, sent):
        session.sync(path).result(10)

    imap_server.dovecot.set_acl(owner.login, "INBOX", mate.login, "")  # gone entirely
    imap_server.dovecot.set_acl(owner.login, "Archive", mate.login, "l")  # still listed, no longer readable
    imap_server.dovecot.set_acl(owner.login, "Sent", mate.login, "lr")  # shrunk

    after = {f.path: f.rights for f in session.folders().result(10)}
    assert inbox not in after and after[archive] == "l" and after[sent] == "lr"
    cached = {row[0] for row in session.cache.query("SELECT path FROM mailbox")}
    assert inbox not in cached and archive not in cached and sent in cached
    with pytest.raises(PermissionDenied) as err:
        session.mark_read(sent, [1]).result(10)
    assert str(err.value) == (
        f"You may not mark messages as read in {owner.login}'s Sent: you have read-only access (read)."
    )


# -- core: faults ----------------------------------------------------------------------------------


def test_connection_cut_mid_fetch_fails_the_job_and_the_next_sync_resumes(
    imap_server: ImapServer, fresh_user: MailUser, session_for: SessionFor
) -> None:
    # Four FETCH batches of 2000: when the first is stored (progress) the second has been read and the
    # third is on its way (pipelined); the fourth is only asked for later, so the cut lands inside the answers.
    count = 7000
    fill(imap_server, fresh_user, count)
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_tls_port) as proxy:
        session = session_for(fresh_user, proxy.port)
        armed = threading.Event()

        def progress(done: int, total: int) -> None:
            if not armed.is_set():
                armed.set()
                proxy.cut_after(30_000)

        with pytest.raises(NetworkError, match="connection to account .* was lost"):
            session.sync("INBOX", progress).result(60)
        mailbox = session.cache.mailbox("INBOX")
        kept = session.cache.count(mailbox.id)
        assert 0 < kept < count and mailbox.synced_at is None  # the first batch stays; not marked complete

        result = session.sync("INBOX").result(60)  # a new job reconnects by itself
        assert (result.fetched, result.total) == (count - kept, count)
        assert proxy.connections == 2
        assert session.cache.uids(mailbox.id) == list(range(1, count + 1))


def test_a_cancelled_sync_keeps_what_arrived_and_the_connection_stays_in_step(
    imap_server: ImapServer, fresh_user: MailUser, session_for: SessionFor
) -> None:
    count = 7000  # four pipelined FETCH batches: cancelling after the first leaves one answer in flight
    fill(imap_server, fresh_user, count)
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_tls_port) as proxy:
        session = session_for(fresh_user, proxy.port)
        cancel = threading.Event()
        with pytest.raises(SyncCancelled, match=r"cancelled after \d+ of 7000 messages"):
            session.sync("INBOX", lambda done, total: cancel.set(), cancel).result(60)
        mailbox = session.cache.mailbox("INBOX")
        kept = session.cache.count(mailbox.id)
        assert 0 < kept < count and mailbox.synced_at is None
        # The answer still in flight was read to its end: the same connection serves the next commands.
        assert session.folders().result(30) and session.sync("INBOX").result(60).total == count
        assert proxy.connections <= 2  # the folder list uses a short-lived connection of its own
        assert session.cache.uids(mailbox.id) == list(range(1, count + 1))


def test_a_big_sync_through_the_helper_process_caches_what_an_in_process_sync_does(
    imap_server: ImapServer, fresh_user: MailUser, session_for: SessionFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(imap_server, fresh_user, 2500)
    columns = "uid, flags, internaldate, size, date, from_name, from_addr, to_addrs, subject, message_id"
    caches: list[list[tuple]] = []
    started: list[bool] = []

    class Spy(SummaryPool):
        def __init__(self, *, parallel: bool) -> None:
            super().__init__(parallel=parallel)
            started.append(self.parallel)

    monkeypatch.setattr(sync_module, "SummaryPool", Spy)
    for threshold in (10**9, 1):  # in-process, then through the helper (two batches of 2000 + 500)
        monkeypatch.setattr(sync_module, "MIN_MESSAGES", threshold)
        session = session_for(fresh_user)
        result = session.sync("INBOX").result(60)
        assert (result.fetched, result.total) == (2500, 2500)
        caches.append(session.cache.query(f"SELECT {columns} FROM message ORDER BY uid"))
    assert started == [False, True]
    assert caches[0] == caches[1]
    assert caches[1][7][5:9] == ("Customer 7", "c7@customer.test", f"team@{DOMAIN}", "Bulk 7")


def test_uidvalidity_change_drops_the_cache_and_refetches(
    imap_server: ImapServer, fresh_user: MailUser, session_for: SessionFor
) -> None:
    imap_server.dovecot.deliver_many(fresh_user.login, [message(f"M{i}") for i in range(5)])
    session = session_for(fresh_user)
    assert session.sync("INBOX").result(10).fetched == 5
    session.message_body("INBOX", 1).result(10)
    old = session.cache.mailbox("INBOX").uidvalidity
    # Dovecot renumbers the mailbox and drops the sessions that had it selected (our worker's).
    imap_server.dovecot.doveadm("mailbox", "update", "--uid-validity", str(old + 1000), "-u", fresh_user.login, "INBOX")
    result = session.sync("INBOX").result(10)  # no "connection lost" first: the worker notices and reconnects
    assert result.uidvalidity_reset and (result.fetched, result.total) == (5, 5)
    state = session.cache.mailbox("INBOX")
    assert state.uidvalidity == old + 1000 and session.cache.body(state.id, 1) is None


def test_worker_survives_a_server_that_hung_up_while_unused(
    imap_server: ImapServer, fresh_user: MailUser, session_for: SessionFor
) -> None:
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_tls_port) as proxy:
        session = session_for(fresh_user, proxy.port)
        session.folders().result(10)
        deadline = time.monotonic() + 5  # discovery's own connection is closed, the proxy notices a moment later
        while proxy.live > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proxy.cut() == 1
        time.sleep(0.2)
        assert any(f.path == "INBOX" for f in session.folders().result(10))
        # each folders() call: the worker's connection (re-made after the cut) + discovery's own one
        assert proxy.connections == 4
