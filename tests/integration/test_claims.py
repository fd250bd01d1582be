"""Claims and reply collisions against the real Dovecot (CONDSTORE, shared keywords, ACLs).

Each test builds its own shared mailbox (a fresh owner sharing INBOX and Sent with alice and bob, full
rights), so the seeded world stays unchanged and the two teammates are on equal terms.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from sharedclient.core.errors import PermissionDenied
from sharedclient.core.imap import collision
from sharedclient.core.imap.claims import claim, claim_unavailable, holders, release
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.rights import my_rights
from sharedclient.core.mime.compose import SENT_BY_HEADER
from sharedclient.core.model import Folder, Section
from sharedclient.devservers.dovecot import MailUser
from tests.conftest import addr
from tests.integration.readpath import message
from tests.integration.test_send_path import history, ok, run, setup_profile
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from tests.conftest import ImapServer, MailServers

TEAM_RIGHTS = "lrswipkxte"


@pytest.fixture
def team(imap_server: ImapServer, fresh_user: MailUser) -> Iterator[str]:
    """A shared mailbox (the fresh user) with INBOX + Sent shared to alice and bob; yields the owner address."""
    owner = fresh_user.login
    imap_server.dovecot.create_mailbox(owner, "Sent")
    for folder in ("INBOX", "Sent"):
        for mate in ("alice", "bob"):
            imap_server.dovecot.set_acl(owner, folder, addr(mate), TEAM_RIGHTS)
    raw = message("Please call me back").replace(b"Message-ID: <", f"Message-ID: <call-{owner}><".encode(), 1)
    imap_server.dovecot.deliver(owner, re.sub(rb"Message-ID: (<[^>]+>)<[^>]+>", rb"Message-ID: \1", raw))
    yield owner


@contextlib.contextmanager
def connection(server: ImapServer, user: str) -> Iterator[ImapConnection]:
    with server.imap(user) as client:
        yield ImapConnection(client)


def folder_of(conn: ImapConnection, path: str) -> Folder:
    return Folder("work", path, path.rsplit("/", 1)[-1], Section.SHARED, None, "/", rights=my_rights(conn.client, path))


def server_flags(server: ImapServer, owner: str) -> list[str]:
    name = owner.split("@")[0]
    with server.imap(name) as client:
        client.select_folder("INBOX", readonly=True)
        return [f.decode() for f in client.get_flags([1])[1]]


def test_two_simultaneous_claims_exactly_one_wins(imap_server: ImapServer, team: str) -> None:
    path = f"shared/{team}/INBOX"
    barrier = threading.Barrier(2, timeout=20)
    with connection(imap_server, "alice") as a, connection(imap_server, "bob") as b:
        fa, fb = folder_of(a, path), folder_of(b, path)

        def attempt(conn: ImapConnection, folder: Folder, user: str):  # type: ignore[no-untyped-def]
            # Both read the same MODSEQ, then both STORE (UNCHANGEDSINCE that MODSEQ) at once.
            return claim(conn, folder, 1, addr(user), before_store=barrier.wait)

        with ThreadPoolExecutor(2) as pool:
            ra, rb = pool.submit(attempt, a, fa, "alice"), pool.submit(attempt, b, fb, "bob")
            results = {"alice": ra.result(), "bob": rb.result()}
    winners = [u for u, r in results.items() if r.won]
    assert len(winners) == 1, results
    loser = "bob" if winners == ["alice"] else "alice"
    assert holders(server_flags(imap_server, team)) == winners
    assert results[loser].holders == tuple(winners)
    assert results[loser].message == f"{winners[0]} claimed this message a moment before you."

    # The loser now sees who holds it; claiming again tells so without trying.
    with connection(imap_server, loser) as conn:
        again = claim(conn, folder_of(conn, path), 1, addr(loser))
        assert not again.won and again.message == f"{winners[0]} already holds this message."
        with pytest.raises(PermissionDenied, match=f"{winners[0]} holds this message"):
            release(conn, folder_of(conn, path), 1, addr(loser))
    with connection(imap_server, winners[0]) as conn:
        assert release(conn, folder_of(conn, path), 1, addr(winners[0])) == (winners[0],)
    assert holders(server_flags(imap_server, team)) == []


def test_without_condstore_colliding_claims_withdraw_and_one_retry_wins(imap_server: ImapServer, team: str) -> None:
    """A server without a working compare-and-set: both keywords land; both withdraw; a retry settles it."""
    path = f"shared/{team}/INBOX"
    barrier = threading.Barrier(2, timeout=20)
    with connection(imap_server, "alice") as a, connection(imap_server, "bob") as b:
        a.enabled = b.enabled = (False, False)  # as if CONDSTORE were not offered: plain STORE, then read back
        fa, fb = folder_of(a, path), folder_of(b, path)
        with ThreadPoolExecutor(2) as pool:
            ra = pool.submit(claim, a, fa, 1, addr("alice"), before_store=barrier.wait)
            rb = pool.submit(claim, b, fb, 1, addr("bob"), before_store=barrier.wait)
            results = [ra.result(), rb.result()]
    assert sum(r.won for r in results) == 1, results
    assert len(holders(server_flags(imap_server, team))) == 1


def test_claim_is_disabled_with_the_reason_without_w(imap_server: ImapServer) -> None:
    path = f"shared/{addr('support')}/INBOX"  # bob has lrs only
    with connection(imap_server, "bob") as conn:
        folder = folder_of(conn, path)
        with pytest.raises(PermissionDenied, match="no “w” right"):
            claim(conn, folder, 1, addr("bob"))
    assert claim_unavailable("lrsw", [b"\\Seen", b"\\Answered"]).endswith("(PERMANENTFLAGS lacks \\*).")
    assert claim_unavailable("lrsw", [b"\\Seen", b"\\*"]) == ""


def test_reply_collision_names_the_teammate_who_answered_meanwhile(imap_server: ImapServer, team: str) -> None:
    inbox, sent = f"shared/{team}/INBOX", f"shared/{team}/Sent"
    with connection(imap_server, "alice") as alice:
        base = collision.baseline(alice, inbox, 1)  # alice opens the composer
        assert base.message_id == f"<call-{team}>" and base.modseq is not None
        assert collision.check(alice, base, addr("alice"), sent) == []

        time.sleep(1.1)  # the teammate's copy must be newer than the composer (INTERNALDATE has seconds)
        with imap_server.imap("bob") as bob:  # bob answers meanwhile: team copy in Sent, original \Answered
            reply = (f"{SENT_BY_HEADER}: {addr('bob')}\r\nFrom: {team}\r\nTo: dana@customer.test\r\n"
                     f"Subject: Re: Please call me back\r\nIn-Reply-To: <call-{team}>\r\n"
                     f"Message-ID: <reply-by-bob@x>\r\n\r\nCalled her.\r\n").encode()  # fmt: skip
            bob.append(sent, reply, flags=(b"\\Seen",))
            bob.select_folder(inbox)
            bob.add_flags([1], [b"\\Answered"])

        found = collision.check(alice, base, addr("alice"), sent)
        assert [(c.what, c.who) for c in found] == [("answered", addr("bob"))]
        assert found[0].sentence.startswith(f"{addr('bob')} already answered this message at ")
        assert found[0].when is not None and abs(found[0].when - time.time()) < 60

        # A claim by bob after alice started is reported too; alice's own changes are not.
        with connection(imap_server, "bob") as bob_conn:
            assert claim(bob_conn, folder_of(bob_conn, inbox), 1, addr("bob")).won
        kinds = [(c.what, c.who) for c in collision.check(alice, base, addr("alice"), sent)]
        assert ("claimed", "bob") in kinds


def test_no_collision_for_own_changes_or_old_replies(imap_server: ImapServer, team: str) -> None:
    inbox, sent = f"shared/{team}/INBOX", f"shared/{team}/Sent"
    with imap_server.imap("bob") as bob:  # answered long before alice opened the composer
        bob.append(sent, f"{SENT_BY_HEADER}: {addr('bob')}\r\nIn-Reply-To: <call-{team}>\r\n\r\nx\r\n".encode())
    time.sleep(1.1)
    with connection(imap_server, "alice") as alice:
        base = collision.baseline(alice, inbox, 1)
        assert claim(alice, folder_of(alice, inbox), 1, addr("alice")).won  # her own claim
        assert collision.check(alice, base, addr("alice"), sent) == []


def test_cli_reply_refuses_when_a_teammate_answered_and_sending_releases_the_claim(
    tmp_path: Path, mail_servers: MailServers, team: str, memory_keyring: MemoryKeyring
) -> None:
    inbox, sent = f"shared/{team}/INBOX", f"shared/{team}/Sent"
    setup_profile(tmp_path, mail_servers, "alice")
    with connection(mail_servers, "alice") as alice:
        assert claim(alice, folder_of(alice, inbox), 1, addr("alice")).won
    reply_to = ("send", "--reply-to-message", f"work:{inbox}:1", "--from", addr("alice"), "--body", "Called you.")
    out = ok(tmp_path, *reply_to)  # her own claim is no collision; the answer ends it
    assert out.startswith("Sent from")
    flags = server_flags(mail_servers, team)
    assert "\\Answered" in flags and holders(flags) == []

    with mail_servers.imap("bob") as bob:  # bob answers too; alice's next reply is held back
        bob.append(sent, f"{SENT_BY_HEADER}: {addr('bob')}\r\nIn-Reply-To: <call-{team}>\r\n\r\nx\r\n".encode())
        bob.select_folder(inbox)
        bob.add_flags([1], [b"$Claimed-bob"])
    code, out, err = run(tmp_path, *reply_to)
    assert code == 4 and out == ""
    assert f"sharedclient: {addr('bob')} already answered this message at " in err
    assert "sharedclient: bob claimed this message.\n" in err
    assert "--send-anyway" in err
    assert len(history(tmp_path)) == 1  # nothing was sent
    assert ok(tmp_path, *reply_to, "--send-anyway").startswith("Sent from")
    assert len(history(tmp_path)) == 2


def test_claim_and_release_from_the_command_line_are_audited(
    tmp_path: Path, mail_servers: MailServers, team: str, memory_keyring: MemoryKeyring
) -> None:
    setup_profile(tmp_path, mail_servers, "alice")
    ok(tmp_path, "profile", "create", "bob")
    code, _, err = run(tmp_path, "--profile", "bob", "account", "add", "work", "--email", addr("bob"),
                       "--imap", f"127.0.0.1:{mail_servers.dovecot.imap_tls_port}", "--smtp", "127.0.0.1:1",
                       "--ca-file", str(mail_servers.certs.ca_pem), "--password-stdin", stdin="bob-secret-pw\n")  # fmt: skip
    assert code == 0, err  # a second profile in the same keyring: bob at the next desk
    alice, box = tmp_path, f"work:shared/{team}/INBOX"

    def as_bob(*argv: str) -> tuple[int, str, str]:
        return run(tmp_path, "--profile", "bob", *argv)
    assert ok(alice, "claim", box, "1") == "You hold this message now; teammates see it as yours.\n"
    assert ok(alice, "claim", box, "1") == "You already hold this message.\n"
    code, out, _ = as_bob("claim", box, "1")
    assert (code, out) == (4, "alice already holds this message.\n")
    code, _, err = as_bob("release", box, "1")
    assert code == 1 and "alice holds this message; only they (or --everyone) can release it." in err
    assert ok(alice, "release", box, "1") == "Released (held by alice).\n"
    assert holders(server_flags(mail_servers, team)) == []
    assert as_bob("claim", box, "1")[1].startswith("You hold this message now")
    assert ok(alice, "release", box, "1", "--everyone") == "Released (held by bob).\n"  # a lead frees it

    import json

    claims = json.loads(as_bob("audit", "--json", "--action", "message.claim")[1])
    assert [(c["result"], c["target"]["uid"], c["details"]["holders"]) for c in claims] == [
        ("held", 1, ["alice"]), ("ok", 1, ["bob"])]
    releases = json.loads(ok(alice, "audit", "--json", "--action", "message.release"))
    assert [r["details"]["held_by"] for r in releases] == [["alice"], ["bob"]]

    assert ok(alice, "track", "receipts").startswith("Read receipts: SharedClient asks you each time")
    assert ok(alice, "track", "receipts", "--policy", "never").startswith("Read receipts: never sent")
