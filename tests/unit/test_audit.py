"""The audit trail: append-only, hash-chained; tampering of every kind is found and named."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sharedclient.app import main
from sharedclient.core.errors import StorageError, UsageError
from sharedclient.core.store.audit import GENESIS, AuditLog, entry_hash


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 6, 3, 8, 30, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


def filled(path: Path, count: int = 6) -> None:
    with AuditLog(path, "default", "alice", clock=Clock()) as log:
        for i in range(count):
            log.record(
                "acl.grant" if i % 2 == 0 else "acl.revoke",
                account="work",
                target={"mailbox": f"shared/support@example.test/F{i}"},
                details={"identifier": "carol@example.test", "before": "", "after": "lrs", "n": i},
            )


def tamper(path: Path, *statements: str) -> None:
    """What someone with sqlite3 and write access could do (the triggers only stop accidents)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TRIGGER IF EXISTS entry_no_update")
        conn.execute("DROP TRIGGER IF EXISTS entry_no_delete")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def verify(path: Path):  # type: ignore[no-untyped-def]
    with AuditLog(path, "default", "alice") as log:
        return log.verify()


def test_record_returns_seq_and_entries_read_back(log_path: Path) -> None:
    with AuditLog(log_path, "default", "alice", clock=Clock()) as log:
        assert log.record("acl.grant", account="work", target={"mailbox": "INBOX"}, details={"after": "lrs"}) == 1
        assert log.record("message.read", target="<id@x>") == 2
        first, second = log.entries()
    assert first.seq == 1 and first.time == "2024-06-03T08:31:00.000+00:00"
    assert (first.profile, first.account, first.user, first.action) == ("default", "work", "alice", "acl.grant")
    assert first.target == {"mailbox": "INBOX"} and first.details == {"after": "lrs"} and first.result == "ok"
    assert second.target == "<id@x>" and second.details == {} and second.account == ""


def test_hash_is_documented_canonical_form(log_path: Path) -> None:
    with AuditLog(log_path, "prof", "ålice", clock=Clock()) as log:
        log.record("acl.grant", account="work", target=("INBOX", 7), details={"b": 1, "a": "ü"})
        log.record("acl.revoke", account="work")
        first, second = log.entries()
    canonical = (
        '{"account":"work","action":"acl.grant","details":{"a":"ü","b":1},"profile":"prof","result":"ok",'
        '"seq":1,"target":["INBOX",7],"time":"2024-06-03T08:31:00.000+00:00","user":"ålice"}'
    )
    assert first.hash == hashlib.sha256(GENESIS.encode() + canonical.encode("utf-8")).hexdigest()
    assert second.hash == entry_hash(first.hash, second.fields())


def test_intact_trail_verifies(log_path: Path) -> None:
    filled(log_path)
    result = verify(log_path)
    assert result.ok and result.first_bad_seq is None and result.entries == 6
    with AuditLog(log_path, "default", "alice") as log:
        assert result.head_hash == log.entries()[-1].hash
    empty = log_path.with_name("empty.sqlite")
    assert verify(empty).ok


def test_triggers_refuse_changes_through_sql(log_path: Path) -> None:
    filled(log_path, 2)
    conn = sqlite3.connect(log_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE entry SET result = 'ok' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM entry WHERE seq = 1")
    finally:
        conn.close()


def test_updated_row_is_named(log_path: Path) -> None:
    filled(log_path)
    tamper(log_path, "UPDATE entry SET details = replace(details, 'lrs', 'lrswipkxtea') WHERE seq = 3")
    result = verify(log_path)
    assert not result.ok and result.first_bad_seq == 3 and "changed" in result.problem


def test_updated_row_with_recomputed_hash_is_still_named(log_path: Path) -> None:
    """A careful forger fixes the changed entry's hash: the next entry no longer links to it."""
    filled(log_path)
    with AuditLog(log_path, "default", "alice") as log:
        entries = log.entries()
    forged = {**entries[2].fields(), "user": "mallory"}
    new_hash = entry_hash(entries[1].hash, forged)
    tamper(log_path, f"UPDATE entry SET user = 'mallory', hash = '{new_hash}' WHERE seq = 3")
    result = verify(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "Entry 3 was changed" in result.problem


def test_deleted_row_is_named(log_path: Path) -> None:
    filled(log_path)
    tamper(log_path, "DELETE FROM entry WHERE seq = 4")
    result = verify(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.problem == "Entry 4 is missing (deleted)."


def test_deleted_last_rows_are_named(log_path: Path) -> None:
    filled(log_path)
    tamper(log_path, "DELETE FROM entry WHERE seq >= 5")
    result = verify(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "Entries 5–6 are missing at the end" in result.problem


def test_inserted_forged_row_is_named(log_path: Path) -> None:
    filled(log_path)
    with AuditLog(log_path, "default", "alice") as log:
        last = log.entries()[-1]
    forged = {**last.fields(), "seq": 7, "action": "acl.grant", "details": {"identifier": "mallory"}}
    digest = entry_hash(last.hash, forged)  # even with a correct hash
    tamper(
        log_path,
        "INSERT INTO entry VALUES (7, '2024-06-03T09:00:00.000+00:00', 'default', 'work', 'alice', 'acl.grant',"
        f" 'null', 'ok', '{{\"identifier\": \"mallory\"}}', '{last.hash}', '{digest}')",
    )
    result = verify(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 7)
    assert "added outside SharedClient" in result.problem
    # ... and nothing more can be appended to a trail that does not end where it should.
    with AuditLog(log_path, "default", "alice") as log, pytest.raises(StorageError, match="does not end"):
        log.record("acl.grant")


def test_inserted_row_in_the_middle_is_named(log_path: Path) -> None:
    filled(log_path)
    tamper(
        log_path,
        "UPDATE entry SET seq = -seq WHERE seq >= 3",
        "UPDATE entry SET seq = 1 - seq WHERE seq < 0",  # 3..6 -> 4..7
        "INSERT INTO entry VALUES (3, '2024-06-03T08:33:30.000+00:00', 'default', 'work', 'alice', 'acl.grant',"
        " 'null', 'ok', '{}', 'x', 'y')",
        "UPDATE head SET seq = 7",
    )
    result = verify(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_swapped_rows_are_named_as_reordered(log_path: Path) -> None:
    filled(log_path)
    tamper(
        log_path,
        "UPDATE entry SET seq = 100 WHERE seq = 2",
        "UPDATE entry SET seq = 2 WHERE seq = 5",
        "UPDATE entry SET seq = 5 WHERE seq = 100",
    )
    result = verify(log_path)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.problem == "Entry 2 holds what was written as entry 5: the entries were reordered."


def test_filters_by_action_and_since(log_path: Path) -> None:
    filled(log_path)
    with AuditLog(log_path, "default", "alice") as log:
        assert [e.seq for e in log.entries(action="acl.revoke")] == [2, 4, 6]
        assert len(log.entries(action="acl")) == 6
        assert log.entries(action="ac") == []
        assert [e.seq for e in log.entries(since="2024-06-03T08:34:00+00:00")] == [4, 5, 6]
        assert [e.seq for e in log.entries(since=datetime(2024, 6, 3, 8, 35, tzinfo=timezone.utc))] == [5, 6]
        with pytest.raises(UsageError, match="is not a date"):
            log.entries(since="yesterday")


def test_threads_append_without_gaps(log_path: Path) -> None:
    with AuditLog(log_path, "default", "alice") as log:
        def writer(n: int) -> None:
            for i in range(20):
                log.record("test.write", details={"thread": n, "i": i})

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [e.seq for e in log.entries()] == list(range(1, 81))
        assert log.verify().ok


def test_two_connections_share_one_chain(log_path: Path) -> None:
    """Two processes (here: two connections) appending to one profile's trail keep one chain."""
    with AuditLog(log_path, "default", "alice") as a, AuditLog(log_path, "default", "bob") as b:
        for _ in range(5):
            a.record("x")
            b.record("y")
        assert a.verify().ok and len(b.entries()) == 10


def test_damaged_database_is_refused_and_left_alone(log_path: Path) -> None:
    garbage = b"this is not an SQLite database, but someone's only audit copy\n" * 100
    log_path.write_bytes(garbage)
    with pytest.raises(StorageError) as info:
        AuditLog(log_path, "default", "alice")
    assert str(log_path) in info.value.user_message
    assert "will not write to it or replace it" in info.value.user_message
    assert log_path.read_bytes() == garbage


def test_database_without_our_tables_is_refused(log_path: Path) -> None:
    filled(log_path, 1)
    tamper(log_path, "DROP TABLE head")
    with pytest.raises(StorageError, match="damaged"):
        AuditLog(log_path, "default", "alice")


# -- the command line ----------------------------------------------------------------------------------


def run(basedir: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_lists_json_csv_and_verifies(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "audit")
    assert code == 0 and "no entries yet" in out
    path = tmp_path / "data" / "default" / "audit.sqlite"
    filled(path)
    code, out, err = run(tmp_path, "audit", "--json", "--action", "acl.grant")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [e["seq"] for e in data] == [1, 3, 5]
    assert {"seq", "time", "user", "action", "target", "result", "details", "hash"} <= set(data[0])
    assert data[0]["target"] == {"mailbox": "shared/support@example.test/F0"} and data[0]["details"]["after"] == "lrs"
    # An export can be checked without SharedClient: the documented canonical form.
    fields = {k: v for k, v in data[0].items() if k != "hash"}
    assert data[0]["hash"] == entry_hash(GENESIS, fields)
    code, out, _ = run(tmp_path, "audit", "--csv", "--since", "2024-06-03T08:35:00+00:00")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("seq,time,profile,account,user,action,target,result,details,hash")
    # seq 7 is the JSON export above: every export is itself recorded.
    assert [line.split(",")[0] for line in lines[1:]] == ["5", "6", "7"] and ",audit.export," in lines[3]
    code, out, _ = run(tmp_path, "audit")
    assert len(out.strip().splitlines()) == 8 and "acl.revoke" in out  # a plain listing is not an export
    exports = json.loads(run(tmp_path, "audit", "--json", "--action", "audit")[1])
    assert [(e["seq"], e["details"]["format"], e["details"]["entries"]) for e in exports] == [(7, "json", 3), (8, "csv", 3)]
    code, out, err = run(tmp_path, "audit", "verify")
    assert code == 0 and out.startswith("The audit trail is intact: 9 entries")


def test_cli_verify_names_the_first_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "data" / "default" / "audit.sqlite"
    run(tmp_path, "profile", "list")
    filled(path)
    tamper(path, "DELETE FROM entry WHERE seq = 2")
    code, out, err = run(tmp_path, "audit", "verify")
    assert code == 1 and out == ""
    assert err.strip() == "sharedclient: The audit trail was tampered with at entry 2: Entry 2 is missing (deleted)."


def test_cli_refuses_a_damaged_trail(tmp_path: Path) -> None:
    path = tmp_path / "data" / "default" / "audit.sqlite"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage" * 512)
    code, _, err = run(tmp_path, "audit", "verify")
    assert code == 1 and "audit trail" in err and "Traceback" not in err
    assert path.read_bytes() == b"\x00garbage" * 512
