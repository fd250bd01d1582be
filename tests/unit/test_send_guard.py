"""The send guard (DLP verdicts, volume limit, justification) and the audit recorder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.dlp import CustomRule
from sharedclient.core.dlp_policy import DlpPolicy, VolumeLimit
from sharedclient.core.errors import StorageError
from sharedclient.core.mime.compose import AttachmentFile, OutgoingMessage
from sharedclient.core.model import Identity, SendMode
from sharedclient.core.send_guard import JustificationRequired, SendBlocked, SendGuard
from sharedclient.core.settings import Settings
from sharedclient.core.store.audit import AuditLog
from sharedclient.core.store.history import HistoryEntry, SendHistory
from sharedclient.core.store.profile_db import ProfileDb

SUPPORT = Identity("support@example.test", "Support", "work", SendMode.SEND_AS)
NOW = 1_700_000_000.0


def message(body: str = "Hello", subject: str = "Re: order", **kw) -> OutgoingMessage:  # type: ignore[no-untyped-def]
    return OutgoingMessage(identity=SUPPORT, subject=subject, body=body, **kw)


@pytest.fixture
def audit(tmp_path: Path):  # type: ignore[no-untyped-def]
    recorder = AuditRecorder(AuditLog(tmp_path / "audit.sqlite", "test", "alice"))
    yield recorder
    recorder.close()


def guard(policy: DlpPolicy, audit: AuditRecorder = NO_AUDIT, db: ProfileDb | None = None) -> SendGuard:
    return SendGuard(lambda: Settings(dlp=policy), db, audit, clock=lambda: NOW)


def test_clean_message_passes_without_audit_entry(audit: AuditRecorder) -> None:
    assert guard(DlpPolicy(), audit).enforce(message()).clean
    assert audit.log is not None and audit.log.entries() == []


def test_card_is_blocked_even_with_a_justification(audit: AuditRecorder) -> None:
    g = guard(DlpPolicy(), audit)
    with pytest.raises(SendBlocked) as info:
        g.enforce(message("card 4111 1111 1111 1111"), justification="customer asked")
    assert info.value.user_message == (
        "Not sent: Payment card number in the body (•••• •••• •••• 1111). This is blocked for support@example.test "
        "(a justification cannot override a block)."
    )
    (entry,) = audit.log.entries()  # type: ignore[union-attr]
    assert (entry.action, entry.result) == ("dlp.blocked", "refused")
    assert entry.details["findings"] == [{"rule": "card", "action": "block", "where": "body", "excerpt": "•••• •••• •••• 1111"}]
    assert "4111 1111" not in str(entry.details)  # never the number itself


def test_warning_needs_a_justification_which_is_audited(audit: AuditRecorder) -> None:
    policy = DlpPolicy(rules=(CustomRule("falcon", r"project\s+falcon", "Code name"),))
    g = guard(policy, audit)
    with pytest.raises(JustificationRequired, match="Code name in the subject .Project Falcon.. Sending this from "
                                                    "support@example.test needs a justification"):
        g.enforce(message(subject="Project Falcon"))
    with pytest.raises(JustificationRequired):
        g.enforce(message(subject="Project Falcon"), justification="   ")
    report = g.enforce(message(subject="Project Falcon"), justification="approved by legal, ticket 42")
    assert [i.rule for i in report.warnings] == ["falcon"]
    warned, _blank, override = audit.log.entries()  # type: ignore[union-attr]
    assert (warned.action, warned.result, warned.details["reason"]) == ("dlp.warned", "refused", "no justification")
    assert (override.action, override.result) == ("dlp.override", "ok")
    assert override.details["justification"] == "approved by legal, ticket 42"
    assert override.details["mode"] == "send-as" and override.target["identity"] == "support@example.test"


def test_identity_action_can_turn_a_rule_off_or_to_warn() -> None:
    body = "IBAN DE89 3704 0044 0532 0130 00 and card 4111111111111111"
    policy = DlpPolicy(identities={"support@example.test": {"card": "warn", "iban": "off"}})
    report = guard(policy).check(message(body))
    assert [(i.rule, i.action) for i in report.items] == [("card", "warn")]
    other = replace(message(body), identity=Identity("alice@example.test", "Alice", "work"))
    assert [(i.rule, i.action) for i in guard(policy).check(other).items] == [("iban", "warn"), ("card", "block")]


def test_attachments_are_scanned() -> None:
    att = AttachmentFile("export.csv", b"name;ssn\nx;078-05-1120\n")
    report = guard(DlpPolicy()).check(message(attachments=(att,)))
    assert [(i.rule, i.where) for i in report.items] == [("ssn", "attachment export.csv")]


def test_volume_guard_counts_the_sent_as_history(tmp_path: Path, audit: AuditRecorder) -> None:
    with ProfileDb(tmp_path / "outbox.sqlite") as db:
        history = SendHistory(db)

        def sent(minutes_ago: float, status: str = "sent", identity: str = SUPPORT.address) -> None:
            history.record(HistoryEntry(0, NOW - minutes_ago * 60, "test", "work", identity, "send-as", "alice", "",
                                        "", "", ("x@example.test",), "s", "<m@x>", 1, "", status, "", None))  # fmt: skip

        for minutes in (1, 2, 3):
            sent(minutes)
        sent(4, "failed")  # refused attempts do not count
        sent(5, identity="alice@example.test")  # another identity
        sent(20)  # outside the window
        block = DlpPolicy(volume=VolumeLimit(messages=4, minutes=10, action="block"))
        assert guard(block, audit, db).enforce(message()).clean  # this one is the 4th
        sent(0.5)
        with pytest.raises(SendBlocked, match="this would be message 5 from support@example.test in 10 minutes "
                                              r"\(the limit is 4\)"):
            guard(block, audit, db).enforce(message())
        warn = DlpPolicy(volume=VolumeLimit(4, 10, "warn"))
        with pytest.raises(JustificationRequired):
            guard(warn, audit, db).enforce(message())
        guard(warn, audit, db).enforce(message(), justification="newsletter batch")
        per_identity = DlpPolicy(volume=VolumeLimit(4, 10, "block"),
                                 volume_identities={SUPPORT.address: VolumeLimit(100, 10, "block")})  # fmt: skip
        assert guard(per_identity, audit, db).enforce(message()).clean
    actions = [(e.action, e.result) for e in audit.log.entries()]  # type: ignore[union-attr]
    assert actions == [("volume.blocked", "refused"), ("volume.warned", "refused"), ("dlp.override", "ok")]


# -- the recorder ----------------------------------------------------------------------------------


def test_no_audit_records_nothing_and_never_fails() -> None:
    NO_AUDIT.record("message.read", target={"uid": 1})
    assert NO_AUDIT.record_now("dlp.override") is None and not NO_AUDIT.enabled


def test_background_recorder_keeps_order_and_record_now_waits(tmp_path: Path) -> None:
    recorder = AuditRecorder(AuditLog(tmp_path / "audit.sqlite", "test", "alice"), background=True)
    for i in range(50):
        recorder.record("message.read", target={"uid": i})
    seq = recorder.record_now("dlp.override", details={"justification": "x"})
    assert seq == 51
    recorder.flush()
    entries = recorder.log.entries()  # type: ignore[union-attr]
    assert [e.target["uid"] for e in entries[:50]] == list(range(50)) and entries[50].action == "dlp.override"
    recorder.close()


def test_write_failures_are_reported_once_and_record_now_raises(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    errors: list[str] = []
    recorder = AuditRecorder(AuditLog(path, "test", "alice"), background=True, on_error=errors.append)
    recorder.record_now("x")
    import sqlite3

    conn = sqlite3.connect(path)  # someone deletes the head row: the trail no longer ends where it should
    conn.execute("DELETE FROM head")
    conn.commit()
    conn.close()
    recorder.record("message.read")
    recorder.record("message.read")
    recorder.flush()
    assert len(errors) == 1 and errors[0].startswith("The audit trail could not be written: The audit trail at")
    with pytest.raises(StorageError, match="does not end where it should"):
        recorder.record_now("dlp.override")
    recorder.close()


def test_damaged_audit_database_is_refused_not_bypassed(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StorageError, match="will not write to it or replace it"):
        AuditRecorder(AuditLog(path, "test", "alice"))
