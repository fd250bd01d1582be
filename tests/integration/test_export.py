"""Export (mbox, .eml) against the real Dovecot, and retention of history and audit entries."""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.core.profiles import DEFAULT_PROFILE, ProfileStore
from sharedclient.core.store.audit import AuditLog, audit_path
from sharedclient.core.store.history import SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from tests.integration.test_send_path import SUPPORT_INBOX, ok, run, setup_profile
from tests.memory_keyring import MemoryKeyring
from tests.unit.test_tracking_reports import entry

if TYPE_CHECKING:
    from tests.conftest import MailServers


def server_messages(servers: MailServers, criteria: list[str]) -> dict[bytes, tuple[bytes, ...]]:
    """Message bytes -> flags of support@'s INBOX messages matching ``criteria``, as alice sees them."""
    with servers.imap("alice") as client:
        client.select_folder(SUPPORT_INBOX, readonly=True)
        uids = client.search(criteria)
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
    return {bytes(d[b"BODY[]"]): tuple(d[b"FLAGS"]) for d in data.values()}


def test_export_mailbox_to_mbox_and_search_result_to_eml(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring, request: pytest.FixtureRequest
) -> None:
    setup_profile(tmp_path, mail_servers, "alice")
    before = server_messages(mail_servers, ["ALL"])
    target = tmp_path / "support.mbox"
    out = ok(tmp_path, "export", f"work:{SUPPORT_INBOX}", str(target))
    assert out == f"Exported {len(before)} message(s) from {SUPPORT_INBOX} to {target} (mbox).\n"
    box = mailbox.mbox(str(target))
    request.addfinalizer(box.close)

    def unmbox(data: bytes) -> bytes:
        """Without the Status/X-Status headers holding the flags and the ">From " quoting: the server's bytes."""
        head, sep, body = data.partition(b"\n\n")  # a delivery report's body has "Status:" lines of its own
        return re.sub(rb"(?m)^X?-?Status: .*\n", b"", head + b"\n") + sep[1:] + body.replace(b"\n>From ", b"\nFrom ")

    exported = [unmbox(box.get_bytes(key)) for key in box.keys()]
    assert len(exported) == len(before) >= 10
    subjects = {email.message_from_bytes(raw, policy=email.policy.default)["Subject"] for raw in exported}
    assert "Invoice 2024-0117 charged twice" in subjects
    # mbox stores LF line ends and quotes "From " lines; the content is otherwise the server's bytes.
    originals = {raw.replace(b"\r\n", b"\n").rstrip(b"\n") for raw in before}
    assert {raw.replace(b"\r\n", b"\n").rstrip(b"\n") for raw in exported} == originals
    seen_flags = {raw.replace(b"\r\n", b"\n").rstrip(b"\n"): flags for raw, flags in before.items()}
    for key in box.keys():  # \Seen became the mbox "R" status; exporting marked nothing as read
        raw = unmbox(box.get_bytes(key)).replace(b"\r\n", b"\n").rstrip(b"\n")
        assert ("R" in box[key].get_flags()) == (b"\\Seen" in seen_flags[raw])
    assert server_messages(mail_servers, ["ALL"]) == before

    matching = server_messages(mail_servers, ["TEXT", "Invoice"])
    folder = tmp_path / "invoice-mails"
    out = ok(tmp_path, "export", f"work:{SUPPORT_INBOX}", str(folder), "--format", "eml", "--search", "Invoice")
    files = sorted(folder.iterdir())
    assert out.startswith(f"Exported {len(matching)} message(s)") and len(files) == len(matching) >= 2
    assert all(f.suffix == ".eml" for f in files) and any("Invoice" in f.name for f in files)
    assert {f.read_bytes() for f in files} == set(matching)  # .eml: exactly the server's bytes

    code, _, err = run(tmp_path, "export", f"work:{SUPPORT_INBOX}", str(target))
    assert code == 1 and "already exists" in err  # never overwritten
    code, _, err = run(tmp_path, "export", f"work:{SUPPORT_INBOX}", str(tmp_path / "x"), "--search", "zzqqxxnothing")
    assert code == 1 and "nothing was exported" in err
    audit = json_audit(tmp_path, "mailbox.export")
    assert [a["details"]["messages"] for a in audit] == [len(before), len(matching)]


def json_audit(basedir: Path, action: str) -> list[dict]:  # type: ignore[type-arg]
    import json

    return json.loads(ok(basedir, "audit", "--json", "--action", action))  # type: ignore[no-any-return]


def test_retention_removes_only_old_entries_through_the_command_and_the_trail_still_verifies(tmp_path: Path) -> None:
    profile = ProfileStore(tmp_path).get(DEFAULT_PROFILE)
    now = datetime.now(timezone.utc)
    clock = iter([now - timedelta(days=400 - i) for i in range(5)] + [now - timedelta(days=3)] * 3)
    with AuditLog(audit_path(profile.data_dir), profile.name, clock=lambda: next(clock)) as log:
        for i in range(8):  # 5 entries a year old, 3 recent
            log.record("message.read", target={"uid": i})
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        history = SendHistory(db)
        old = history.record(replace(entry("<old@example.test>"), time=(now - timedelta(days=200)).timestamp()))
        new = history.record(replace(entry("<new@example.test>"), time=now.timestamp()))

    code, _, err = run(tmp_path, "retention")
    assert code == 1 and "No retention period is configured" in err
    code, _, err = run(tmp_path, "retention", "--set-days", "7")
    assert code == 1 and "at least 30 days" in err
    assert ok(tmp_path, "retention", "--set-days", "90").startswith("Retention period set to 90 days.")
    dry = ok(tmp_path, "retention")
    assert dry.startswith("Would remove 1 history entry and 5 audit entries older than 90 days")
    ok(tmp_path, "audit", "verify")  # nothing was removed by the dry run
    assert len(json_audit(tmp_path, "message")) == 8

    assert ok(tmp_path, "retention", "--apply").startswith("Removed 1 history entry and 5 audit entries")
    with ProfileDb.for_data_dir(profile.data_dir) as db:
        assert [e.id for e in SendHistory(db).query()] == [new] and old != new
    assert [a["target"]["uid"] for a in json_audit(tmp_path, "message")] == [5, 6, 7]
    checkpoint, = json_audit(tmp_path, "audit.retention")
    assert checkpoint["details"]["first_kept_seq"] == 6
    assert ok(tmp_path, "audit", "verify").startswith("The audit trail is intact")

    # A cut nobody recorded is still caught: delete one more old-looking entry behind SharedClient's back.
    import sqlite3

    conn = sqlite3.connect(audit_path(profile.data_dir), isolation_level=None)
    conn.execute("DROP TRIGGER entry_no_delete")
    conn.execute("DELETE FROM entry WHERE seq = 6")
    conn.close()
    code, _, err = run(tmp_path, "audit", "verify")
    assert code == 1 and "entry 6 is missing" in err.lower(), err
