"""The audit trail records what people do, against the real Dovecot: logins (and refused ones), mailbox
opens, reads, flag changes, refused changes, moves/copies, account changes — and ``audit verify`` names
the entry after a byte of the file is changed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sharedclient.core.profiles import ProfileStore
from sharedclient.core.store.audit import audit_path
from sharedclient.devservers.dovecot import MailUser
from tests.integration.readpath import DOMAIN, add_account, run
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from tests.conftest import ImapServer

SUPPORT_INBOX = f"shared/support@{DOMAIN}/INBOX"


def trail(basedir: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = run(basedir, "audit", "--json", *args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_reads_changes_and_refusals_are_recorded(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring
) -> None:
    add_account(tmp_path, imap_server, imap_server.users["bob"], "desk")  # bob: lrs on support@
    assert run(tmp_path, "messages", f"desk:{SUPPORT_INBOX}", "--limit", "1")[0] == 0
    assert run(tmp_path, "show", f"desk:{SUPPORT_INBOX}", "1")[0] == 0
    assert run(tmp_path, "mark", f"desk:{SUPPORT_INBOX}", "4", "--flag")[0] == 1  # no "w": refused
    assert run(tmp_path, "delete", f"desk:{SUPPORT_INBOX}", "4")[0] == 1
    assert run(tmp_path, "mark", f"desk:{SUPPORT_INBOX}", "1", "--unread")[0] == 0
    assert run(tmp_path, "mark", f"desk:{SUPPORT_INBOX}", "1", "--read")[0] == 0

    entries = trail(tmp_path)
    seen = [(e["action"], e["result"]) for e in entries]
    assert seen[0] == ("account.add", "ok")
    assert ("login", "ok") in seen and ("mailbox.open", "ok") in seen and ("message.read", "ok") in seen
    assert ("message.flags", "denied") in seen and ("message.delete", "denied") in seen
    assert seen.count(("message.flags", "ok")) == 2
    read = next(e for e in entries if e["action"] == "message.read")
    assert read["account"] == "desk" and read["user"]
    assert read["target"]["mailbox"] == SUPPORT_INBOX and read["target"]["uid"] == 1  # type: ignore[index]
    assert str(read["target"]["message_id"]).startswith("<")  # type: ignore[index]
    denied = next(e for e in entries if e["action"] == "message.flags" and e["result"] == "denied")
    assert denied["target"] == {"mailbox": SUPPORT_INBOX, "uids": [4]}
    assert "read-only" in denied["details"]["reason"]  # type: ignore[index]
    unread = [e for e in entries if e["action"] == "message.flags" and e["result"] == "ok"]
    assert [e["details"] for e in unread] == [{"flags": ["\\Seen"], "add": False}, {"flags": ["\\Seen"], "add": True}]
    assert [e["action"] for e in trail(tmp_path, "--action", "message")] == [
        a for a, _ in seen if a.startswith("message.")
    ]
    code, out, _ = run(tmp_path, "audit", "verify")
    assert code == 0 and out.startswith("The audit trail is intact")


def test_refused_login_is_recorded_and_a_changed_byte_is_named(
    tmp_path: Path, imap_server: ImapServer, memory_keyring: MemoryKeyring, fresh_user: MailUser
) -> None:
    add_account(tmp_path, imap_server, replace(fresh_user, password="not-the-password"), "work")
    code, _, err = run(tmp_path, "messages", "work:INBOX")
    assert code == 1 and "sharedclient:" in err
    login = [e for e in trail(tmp_path) if e["action"] == "login"]
    assert [e["result"] for e in login] == ["failed"] and login[0]["details"]["user"] == fresh_user.login  # type: ignore[index]

    # One byte inside the stored login entry: verify names it and exits non-zero.
    path = audit_path(ProfileStore(tmp_path).get("default").data_dir)
    data = bytearray(path.read_bytes())
    at = data.find(b'"failed"') if b'"failed"' in data else data.find(b"failed")
    assert at > 0
    data[at + 1] ^= 0x01  # "failed" -> "gailed"
    path.write_bytes(bytes(data))
    code, out, err = run(tmp_path, "audit", "verify")
    assert (code, out) == (1, "")
    assert f"tampered with at entry {login[0]['seq']}" in err
