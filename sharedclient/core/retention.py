"""Retention: history and audit entries older than a configured period go only through an explicit command.

Nothing is ever removed silently: ``sharedclient retention`` shows what the configured period would
remove, and ``--apply`` removes it, writing an audit entry first.

**The audit trail keeps verifying after a cut.** The trail is a hash chain whose rows refuse UPDATE and
DELETE (triggers in ``core.store.audit``). Removing entries 1…S-1 is done like this:

1. append a checkpoint entry ``audit.retention`` whose details hold ``first_kept_seq`` = S and
   ``anchor_hash`` = the hash of entry S-1 (the value entry S links to). The checkpoint is itself an
   entry of the chain, so it cannot be altered or invented without breaking the chain after it;
2. in one transaction: drop the delete trigger, delete ``seq < S``, re-create the trigger.

``audit verify`` then starts the chain at entry S with ``anchor_hash`` as the previous hash when a
checkpoint names S (``core.store.audit.chain_start``); without one, a missing beginning is reported as
deleted entries, as before. The sent-as history is a plain table: its rows (and their delivery states)
are deleted, and the removal is recorded in the audit trail (``history.retention``).

The period lives in ``retention.json`` in the profile's data directory (``{"days": N}``), set with
``sharedclient retention --set-days N`` (itself audited).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sharedclient.core.errors import StorageError, UsageError
from sharedclient.core.fileio import atomic_write
from sharedclient.core.store.audit import AuditLog, format_time
from sharedclient.core.store.profile_db import ProfileDb

FILE_NAME = "retention.json"
MIN_DAYS = 30  # shorter periods are almost always a typo, and would empty the trail of recent events

_TRIGGER = """CREATE TRIGGER entry_no_delete BEFORE DELETE ON entry BEGIN
        SELECT RAISE(ABORT, 'the audit trail is append-only');
    END"""


@dataclass(frozen=True)
class RetentionPlan:
    days: int
    cutoff: datetime  # entries strictly older are removed
    history_entries: int
    audit_entries: int
    first_kept_seq: int | None  # None: no audit entry is old enough


def load_days(data_dir: Path) -> int | None:
    try:
        data = json.loads((data_dir / FILE_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"The retention setting {data_dir / FILE_NAME} cannot be read ({exc}).") from exc
    days = data.get("days") if isinstance(data, dict) else None
    return int(days) if isinstance(days, int) and days > 0 else None


def check_days(days: int) -> int:
    if days < MIN_DAYS:
        raise UsageError(f"A retention period must be at least {MIN_DAYS} days (got {days}).")
    return days


def save_days(data_dir: Path, days: int, audit: AuditLog) -> None:
    check_days(days)
    before = load_days(data_dir)
    atomic_write(data_dir / FILE_NAME, json.dumps({"days": days}).encode())
    audit.record("retention.configure", details={"days": days, "before": before})


def plan(db: ProfileDb, audit: AuditLog, days: int, now: datetime | None = None) -> RetentionPlan:
    check_days(days)
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    history = int(db.read("SELECT count(*) FROM history WHERE time < ?", (cutoff.timestamp(),))[0][0])
    old = [e for e in audit.entries() if e.time < format_time(cutoff)]
    first_kept = old[-1].seq + 1 if old else None
    return RetentionPlan(days, cutoff, history, len(old), first_kept)


def apply(db: ProfileDb, audit: AuditLog, retention: RetentionPlan) -> RetentionPlan:
    """Remove what ``retention`` names; the audit trail records it before anything is deleted."""
    cutoff = retention.cutoff.timestamp()
    audit.record("history.retention", details={"days": retention.days, "before": format_time(retention.cutoff),
                                                "entries": retention.history_entries})  # fmt: skip
    with db.transaction() as conn:
        conn.execute("DELETE FROM delivery WHERE history_id IN (SELECT id FROM history WHERE time < ?)", (cutoff,))
        conn.execute("DELETE FROM history WHERE time < ?", (cutoff,))
    if retention.first_kept_seq is not None:
        _cut_audit(audit, retention)
    return retention


def _cut_audit(audit: AuditLog, retention: RetentionPlan) -> None:
    first = retention.first_kept_seq
    anchor = next(e.hash for e in audit.entries() if e.seq == first - 1)  # type: ignore[operator]
    audit.record("audit.retention", details={"days": retention.days, "before": format_time(retention.cutoff),
                                              "first_kept_seq": first, "anchor_hash": anchor,
                                              "entries": retention.audit_entries})  # fmt: skip
    conn = sqlite3.connect(str(audit.path), isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DROP TRIGGER entry_no_delete")
            conn.execute("DELETE FROM entry WHERE seq < ?", (first,))
            conn.execute(_TRIGGER)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"Old audit entries could not be removed ({exc}); the trail is unchanged.") from exc
    finally:
        conn.close()
