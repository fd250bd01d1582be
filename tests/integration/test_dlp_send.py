"""DLP before send against the real Postfix and Dovecot: a card number is blocked, a warning needs a
justification, and the justification lands in the audit trail and the sent-as history (CLI and core)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sharedclient.cli.send_cmds import EX_DLP
from sharedclient.core.auditing import AuditRecorder
from sharedclient.core.dlp import CustomRule
from sharedclient.core.dlp_policy import DlpPolicy
from sharedclient.core.identities import find_identity
from sharedclient.core.mime.addresses import parse_mailbox_list
from sharedclient.core.mime.compose import OutgoingMessage
from sharedclient.core.outbox_worker import SendContext, SendStatus, SendWorker
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.send_guard import JustificationRequired, SendBlocked
from sharedclient.core.secrets import KeyringCredentials
from sharedclient.core.store.audit import AuditLog, audit_path
from sharedclient.core.store.outbox import OutboxStore
from sharedclient.core.store.profile_db import ProfileDb
from tests.integration.test_send_path import SUPPORT, add_support, history, ok, run, setup_profile, wait_for
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from tests.conftest import MailServers

CODENAME = DlpPolicy(rules=(CustomRule("falcon", r"project\s+falcon", "Code name"),))


def profile_with_rules(basedir: Path, servers: MailServers) -> None:
    setup_profile(basedir, servers, "alice")
    add_support(basedir, "send-as")
    profile = ProfileStore(basedir).get("default")
    profile.save(replace(profile.load(), dlp=CODENAME))


def audit(basedir: Path, *args: str) -> list[dict[str, object]]:
    return json.loads(ok(basedir, "audit", "--json", *args))  # type: ignore[no-any-return]


def test_cli_blocks_a_card_and_needs_a_justification_for_a_warning(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    profile_with_rules(tmp_path, mail_servers)
    base = ("send", "--from", SUPPORT, "--to", "carol@example.test")
    code, out, err = run(tmp_path, *base, "--subject", "Refund", "--body", "Card 4111 1111 1111 1111 was refunded.",
                         "--dlp-justify", "customer asked")  # fmt: skip
    assert (code, out) == (EX_DLP, "")
    assert err.strip() == (
        "sharedclient: Not sent: Payment card number in the body (•••• •••• •••• 1111). This is blocked for "
        "support@example.test (a justification cannot override a block)."
    )
    with ProfileDb.for_data_dir(ProfileStore(tmp_path).get("default").data_dir) as db:
        assert OutboxStore(db).items() == []  # nothing was queued
    code, _, err = run(tmp_path, *base, "--subject", "Project Falcon status", "--body", "On track.")
    assert code == EX_DLP and "Code name in the subject (Project Falcon)" in err and "--dlp-justify" in err
    assert history(tmp_path) == []
    out = ok(tmp_path, *base, "--subject", "Project Falcon status", "--body", "On track.",
             "--dlp-justify", "Carol is on the project (ticket 7)")  # fmt: skip
    assert out.startswith("Sent from Support Team <support@example.test> to carol@example.test.")
    (entry,) = history(tmp_path)
    assert entry["status"] == "sent" and entry["dlp_justification"] == "Carol is on the project (ticket 7)"
    wait_for(mail_servers, "carol", "INBOX", str(entry["message_id"]))

    trail = audit(tmp_path)
    actions = [(e["action"], e["result"]) for e in trail]
    assert ("dlp.blocked", "refused") in actions and ("dlp.warned", "refused") in actions
    override = next(e for e in trail if e["action"] == "dlp.override")
    assert override["details"]["justification"] == "Carol is on the project (ticket 7)"  # type: ignore[index]
    assert override["details"]["findings"] == [  # type: ignore[index]
        {"rule": "falcon", "action": "warn", "where": "subject", "excerpt": "Project Falcon"}
    ]
    sent = [e for e in trail if e["action"].startswith("send.")]  # type: ignore[union-attr]
    assert [(e["action"], e["result"]) for e in sent] == [("send.attempt", "ok"), ("send.accepted", "ok")]
    assert sent[1]["details"]["justification"] == "Carol is on the project (ticket 7)"  # type: ignore[index]
    assert "4111 1111" not in json.dumps(trail)
    assert [e["action"] for e in trail].index("dlp.override") < [e["action"] for e in trail].index("send.attempt")
    assert ok(tmp_path, "audit", "verify").startswith("The audit trail is intact")

    # Any change to an entry is named: here one character of the stored justification.
    path = audit_path(ProfileStore(tmp_path).get("default").data_dir)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER entry_no_update")
    conn.execute("UPDATE entry SET details = replace(details, 'ticket 7', 'ticket 8') WHERE action = 'dlp.override'")
    conn.commit()
    conn.close()
    code, out, err = run(tmp_path, "audit", "verify")
    assert code == 1 and f"at entry {override['seq']}: Entry {override['seq']} was changed" in err


def test_core_send_worker_enforces_and_records(
    tmp_path: Path, mail_servers: MailServers, memory_keyring: MemoryKeyring
) -> None:
    profile_with_rules(tmp_path, mail_servers)
    profile = ProfileStore(tmp_path).get("default")
    settings = profile.load()
    recorder = AuditRecorder(AuditLog(audit_path(profile.data_dir), profile.name, "alice"), background=True)
    context = SendContext(profile.name, lambda: settings, KeyringCredentials(profile.name), audit=recorder)
    db = ProfileDb.for_data_dir(profile.data_dir)
    worker = SendWorker(db, context, auto_retry=False)
    try:
        message = OutgoingMessage(identity=find_identity(settings, SUPPORT), to=tuple(parse_mailbox_list(["carol@example.test"])),
                                  subject="Payout", body="IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120")  # fmt: skip
        with pytest.raises(SendBlocked, match=r"US Social Security number in the body \(•••-••-1120\)"):
            worker.send(message, justification="please")
        warned = replace(message, body="IBAN DE89 3704 0044 0532 0130 00")
        with pytest.raises(JustificationRequired, match="IBAN in the body"):
            worker.send(warned)
        report = worker.send(warned, justification="supplier payment, approved").result(timeout=60)
        assert report.status is SendStatus.SENT
    finally:
        worker.stop()
        db.close()
        recorder.close()
    with AuditLog(audit_path(profile.data_dir), profile.name) as log:
        entries = log.entries(action="dlp")
        assert [(e.action, e.result) for e in entries] == [("dlp.blocked", "refused"), ("dlp.warned", "refused"),
                                                           ("dlp.override", "ok")]  # fmt: skip
        assert entries[2].details["justification"] == "supplier payment, approved"
        assert log.verify().ok
    with ProfileDb.for_data_dir(profile.data_dir) as db2:
        from sharedclient.core.store.history import SendHistory

        (entry,) = SendHistory(db2).query()
        assert entry.justification == "supplier payment, approved" and entry.status == "sent"
