"""Access administration against the real Dovecot: ``sharedclient acl …``, core ACL calls, the audit trail.

The Dovecot is shared by the whole session, so every test restores the ACLs it changes (in ``finally``)
and uses fresh users or subfolders where it can; the rights table in ``tests/conftest.py`` stays true.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.app import main
from sharedclient.core.errors import PermissionDenied
from sharedclient.core.imap.acl import AclRefused, access_review, change_access, get_acl, list_rights
from sharedclient.core.imap.discovery import discover_folders
from sharedclient.core.imap.rights import is_read_only
from sharedclient.core.imap.session import close_imap, open_imap
from sharedclient.core.model import Account, Endpoint, Folder, Security
from sharedclient.core.store.audit import AuditLog
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from tests.conftest import ImapServer

SUPPORT = "support@example.test"
SUPPORT_INBOX = "shared/support@example.test/INBOX"
SALES_INBOX = "shared/sales@example.test/INBOX"


def run(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def add_account(basedir: Path, server: ImapServer, user: str, name: str = "work") -> None:
    login = server.users[user].login
    code, _, err = run(
        basedir, "account", "add", name, "--email", login, "--imap", f"127.0.0.1:{server.dovecot.imap_tls_port}",
        "--smtp", "127.0.0.1:1", "--password-stdin", "--ca-file", str(server.certs.ca_pem),
        stdin=server.users[user].password + "\n",
    )  # fmt: skip
    assert code == 0, err


def account_for(server: ImapServer, user: str) -> Account:
    login = server.users[user].login
    imap = Endpoint("127.0.0.1", server.dovecot.imap_tls_port, Security.TLS)
    return Account(user, login, imap, imap, login, ca_file=str(server.certs.ca_pem))


@contextlib.contextmanager
def session(server: ImapServer, user: str) -> Iterator[tuple[IMAPClient, Account]]:
    account = account_for(server, user)
    client = open_imap(account, server.users[user].password)
    try:
        yield client, account
    finally:
        close_imap(client)


def discover(server: ImapServer, user: str) -> dict[str, Folder]:
    """What ``user`` sees at their next folder discovery (a new session, as after a restart)."""
    with session(server, user) as (client, account):
        return {f.path: f for f in discover_folders(client, account)}


def audit_json(basedir: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = run(basedir, "audit", "--json", *args)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def alice_cli(tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring) -> Path:
    add_account(tmp_path, imap_server, "alice")
    return tmp_path


def test_alice_grants_carol_read_only_then_revokes(alice_cli: Path, imap_server: ImapServer) -> None:
    assert SUPPORT_INBOX not in discover(imap_server, "carol")
    try:
        code, out, err = run(alice_cli, "acl", "grant", f"work:{SUPPORT_INBOX}", "carol@example.test", "read-only")
        assert (code, err) == (0, "")
        assert out.strip() == (
            f"{SUPPORT_INBOX}: carol@example.test now lrs (read, mark as read); before: no access."
        )
        seen = discover(imap_server, "carol")
        assert seen[SUPPORT_INBOX].rights == "lrs" and is_read_only(seen[SUPPORT_INBOX].rights)
        assert seen[SUPPORT_INBOX].owner == SUPPORT and seen[SUPPORT_INBOX].total >= 10

        code, out, _ = run(alice_cli, "acl", "show", f"work:{SUPPORT_INBOX}", "--json")
        assert code == 0
        assert {"identifier": "carol@example.test", "rights": "lrs"} in json.loads(out)
        assert {"identifier": "bob@example.test", "rights": "lrs"} in json.loads(out)
        code, out, _ = run(alice_cli, "acl", "show", f"work:{SUPPORT_INBOX}")
        assert "carol@example.test" in out and "read, mark as read" in out

        code, out, err = run(alice_cli, "acl", "grant", f"work:{SUPPORT_INBOX}", "carol@example.test", "+w")
        assert (code, err) == (0, "") and "carol@example.test now lrsw" in out and "before: lrs" in out

        code, out, err = run(alice_cli, "acl", "revoke", f"work:{SUPPORT_INBOX}", "carol@example.test")
        assert (code, err) == (0, "")
        assert out.strip() == f"{SUPPORT_INBOX}: carol@example.test now no access; before: lrsw (read, mark as read, flag and tag)."
        assert not any(p.startswith("shared/support@") for p in discover(imap_server, "carol"))
    finally:
        imap_server.dovecot.set_acl(SUPPORT, "INBOX", "carol@example.test", "")

    trail = audit_json(alice_cli, "--action", "acl")
    assert [(e["action"], e["result"]) for e in trail] == [("acl.grant", "ok"), ("acl.change", "ok"), ("acl.revoke", "ok")]
    grant, change, revoke = trail
    assert grant["target"] == {"mailbox": SUPPORT_INBOX} and grant["user"]
    assert grant["details"] == {
        "identifier": "carol@example.test", "before": "", "after": "lrs", "login": "alice@example.test",
        "requested": "read-only",
    }  # fmt: skip
    assert (change["details"]["before"], change["details"]["after"]) == ("lrs", "lrsw")
    assert (revoke["details"]["before"], revoke["details"]["after"]) == ("lrsw", "")
    code, out, _ = run(alice_cli, "audit", "verify")
    assert code == 0 and "The audit trail is intact" in out  # (with account.add, login … before the ACL entries)


def test_recursive_grant_reaches_subfolders(alice_cli: Path, imap_server: ImapServer, fresh_user) -> None:  # type: ignore[no-untyped-def]
    sub = f"INBOX/Esc-{secrets.token_hex(3)}"
    deep = f"{sub}/Urgent"
    dovecot = imap_server.dovecot
    dovecot.create_mailbox(SUPPORT, sub)
    dovecot.create_mailbox(SUPPORT, deep)
    who = fresh_user.login
    paths = [SUPPORT_INBOX, f"shared/{SUPPORT}/{sub}", f"shared/{SUPPORT}/{deep}"]
    short = next(name for name, user in imap_server.users.items() if user.login == who)
    try:
        code, out, err = run(alice_cli, "acl", "grant", f"work:{SUPPORT_INBOX}", who, "lr", "--recursive")
        assert (code, err) == (0, "")
        assert [line.split(":")[0] for line in out.strip().splitlines()] == paths
        seen = discover(imap_server, short)
        assert all(seen[p].rights == "lr" for p in paths)
        assert f"shared/{SUPPORT}/Sent" not in seen  # siblings are not below INBOX

        code, out, err = run(alice_cli, "acl", "revoke", f"work:{SUPPORT_INBOX}", who, "--recursive")
        assert (code, err) == (0, "")
        assert not any(p.startswith(f"shared/{SUPPORT}") for p in discover(imap_server, short))
        trail = audit_json(alice_cli, "--action", "acl")
        assert [e["target"]["mailbox"] for e in trail] == paths * 2  # type: ignore[index]
        assert all(e["details"]["recursive"] is True for e in trail)  # type: ignore[index]
    finally:
        for path in ("INBOX", sub, deep):
            dovecot.set_acl(SUPPORT, path, who, "")
        dovecot.doveadm("mailbox", "delete", "-u", SUPPORT, deep)
        dovecot.doveadm("mailbox", "delete", "-u", SUPPORT, sub)


def test_bob_without_admin_right_is_refused_clearly(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    add_account(tmp_path, imap_server, "bob")
    before = imap_server.dovecot.doveadm("acl", "get", "-u", "sales@example.test", "INBOX")
    code, out, err = run(tmp_path, "acl", "grant", f"work:{SALES_INBOX}", "carol@example.test", "lrs")
    assert (code, out) == (1, "")
    assert err.strip() == (
        "sharedclient: You cannot change who may use sales@example.test's INBOX: only an administrator of the "
        "mailbox can (your rights: read, mark as read, flag and tag, add messages, post, create folders, "
        "delete folders, delete messages, expunge)."
    )
    code, _, err = run(tmp_path, "acl", "revoke", f"work:{SALES_INBOX}", "alice@example.test")
    assert code == 1 and "only an administrator of the mailbox can" in err
    code, _, err = run(tmp_path, "acl", "show", f"work:{SALES_INBOX}")
    assert code == 1 and "You cannot see who may use sales@example.test's INBOX" in err
    code, _, err = run(tmp_path, "acl", "show", f"work:{SUPPORT_INBOX}")
    assert code == 1 and "(your rights: read, mark as read)" in err
    assert imap_server.dovecot.doveadm("acl", "get", "-u", "sales@example.test", "INBOX") == before
    trail = audit_json(tmp_path, "--action", "acl")
    assert [(e["action"], e["result"]) for e in trail] == [("acl.grant", "denied"), ("acl.revoke", "denied")]
    assert "only an administrator" in trail[0]["details"]["error"]  # type: ignore[index]


def test_server_refusals_are_plain_sentences(alice_cli: Path, imap_server: ImapServer) -> None:
    acl_before = imap_server.dovecot.doveadm("acl", "get", "-u", SUPPORT, "INBOX")
    code, out, err = run(alice_cli, "acl", "grant", f"work:{SUPPORT_INBOX}", "anyone", "lr")
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"sharedclient: The server refused to give anyone access to {SUPPORT}'s INBOX: 'anyone' identifier is disallowed."
    )
    code, _, err = run(alice_cli, "acl", "grant", f"work:{SUPPORT_INBOX}", "carol@example.test", "lrz")
    assert code == 1 and "“lrz” is not a set of rights" in err
    code, _, err = run(alice_cli, "acl", "grant", "work:shared/support@example.test/Nope", "carol@example.test", "l")
    assert code == 1 and "There is no mailbox" in err
    assert imap_server.dovecot.doveadm("acl", "get", "-u", SUPPORT, "INBOX") == acl_before
    assert [e["result"] for e in audit_json(alice_cli, "--action", "acl")] == ["failed"]


def test_negative_rights_and_listrights(imap_server: ImapServer, tmp_path: Path) -> None:
    with session(imap_server, "alice") as (client, account), AuditLog(tmp_path / "a.sqlite", "p", "alice") as audit:
        grantable = list_rights(client, SUPPORT_INBOX, "carol@example.test")
        assert set(grantable.grantable) == set("lrswipkxtea")
        try:
            changes = change_access(client, account, SUPPORT_INBOX, "-bob@example.test", "w", audit=audit)
            assert [(c.before, c.after) for c in changes] == [("", "w")]
            entries = {e.identifier: e for e in get_acl(client, SUPPORT_INBOX)}
            assert entries["-bob@example.test"].negative and entries["-bob@example.test"].rights == "w"
            assert entries["-bob@example.test"].words == "never: flag and tag"
            assert entries["bob@example.test"].rights == "lrs"  # the positive entry is untouched
        finally:
            client._raw_command_untagged(b"DELETEACL", [b'"' + SUPPORT_INBOX.encode() + b'"', b'"-bob@example.test"'],
                                         uid=False)
        assert "-bob@example.test" not in {e.identifier for e in get_acl(client, SUPPORT_INBOX)}
        # An identifier with a space travels quoted and comes back without quotes (imapclient's own
        # setacl would send it bare, and its getacl would keep the quotes).
        try:
            change_access(client, account, SUPPORT_INBOX, "team lead", "lr", audit=audit)
            assert ("team lead", "lr") in [(e.identifier, e.rights) for e in get_acl(client, SUPPORT_INBOX)]
            assert [(c.before, c.after) for c in change_access(client, account, SUPPORT_INBOX, "team lead", None)] == [
                ("lr", "")
            ]
        finally:
            imap_server.dovecot.doveadm("acl", "delete", "-u", SUPPORT, "INBOX", "user=team lead")
        with pytest.raises(PermissionDenied, match="only an administrator"):
            change_access(client, account, SALES_INBOX, "carol@example.test", "lrs", audit=audit)
        with pytest.raises(AclRefused, match="disallowed"):
            change_access(client, account, SUPPORT_INBOX, "authenticated", "lr", audit=audit)
        assert [(e.action, e.result) for e in audit.entries()] == [
            ("acl.grant", "ok"), ("acl.grant", "ok"), ("acl.grant", "denied"), ("acl.grant", "failed")
        ]  # fmt: skip


def test_review_lists_exactly_what_getacl_returns(alice_cli: Path, imap_server: ImapServer) -> None:
    dovecot = imap_server.dovecot
    dovecot.set_acl(SUPPORT, "Archive", "anyone", "l")
    try:
        with session(imap_server, "alice") as (client, account):
            raw = {path: client.getacl(path) for path in (SUPPORT_INBOX, f"shared/{SUPPORT}/Sent", f"shared/{SUPPORT}/Archive")}
            review = access_review(client, account)
        code, out, err = run(alice_cli, "acl", "review", "--json")
        assert (code, err) == (0, "")
        rows = json.loads(out)
        code, csv_out, _ = run(alice_cli, "acl", "review", "--csv")
        code, text, _ = run(alice_cli, "acl", "review")
    finally:
        dovecot.set_acl(SUPPORT, "Archive", "anyone", "")
    assert "INBOX" in review.mailboxes and SALES_INBOX not in review.mailboxes  # alice has no `a` on sales@
    assert not any(r["mailbox"].startswith("shared/sales@") for r in rows)
    for path, entries in raw.items():
        mine = [(r["identifier"], r["rights"]) for r in rows if r["mailbox"] == path]
        expected = [(who.decode(), "".join(c for c in "lrswipkxtea" if c in what.decode())) for who, what in entries]
        assert mine == expected, path
    risky = {(r["mailbox"], r["identifier"]): r["risk"] for r in rows if r["risky"]}
    assert risky[(f"shared/{SUPPORT}/Archive", "anyone")].startswith("Open to anyone, even without logging in")
    assert risky[(SUPPORT_INBOX, "alice@example.test")] == "Can change who has access, and is not the owner."
    assert (SUPPORT_INBOX, "bob@example.test") not in risky
    assert csv_out.splitlines()[0] == "account,mailbox,owner,identifier,rights,rights_in_words,risk"
    assert len(csv_out.strip().splitlines()) == len(rows) + 1
    assert "to look at" in text.splitlines()[0]
