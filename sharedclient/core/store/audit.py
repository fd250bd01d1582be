"""The access audit trail: an append-only, hash-chained log per profile (``audit.sqlite``).

Every entry holds ``seq`` (1, 2, 3 … without gaps), ``time`` (UTC, ISO 8601), ``profile``, ``account``,
``user`` (the person at the keyboard), ``action`` (e.g. ``acl.grant``), ``target`` (a mailbox, UID or
Message-ID: JSON, a plain text target is a JSON string), ``result`` (``ok``, ``denied``, ``failed`` …),
``details`` (a JSON object) and ``hash``.

**Hash chain.** ``hash = SHA-256(previous hash ‖ canonical JSON of the entry)`` as lowercase hex, where

* *previous hash* is the 64 hex characters of the previous entry's hash, or 64 zeros (``GENESIS``) for
  entry 1, encoded as ASCII;
* *canonical JSON* is ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
  encoded as UTF-8, with ``fields`` = every field above except ``hash``: ``seq``, ``time``, ``profile``,
  ``account``, ``user``, ``action``, ``target``, ``result``, ``details`` (``target`` and ``details`` as
  JSON values, not as strings);
* ``‖`` is plain concatenation of the two byte strings.

So anyone can re-check an export with a few lines of code (see ``entry_hash``). Changing, deleting,
inserting or reordering entries breaks the chain; ``verify`` names the first entry affected. A small
``head`` row (last seq and hash, written in the same transaction as the entry) also reveals entries cut
off at the end or appended outside SharedClient. The chain proves the log is internally consistent; an
attacker who rewrites the whole file can forge a new consistent chain, so ``audit verify`` prints the
head hash for people who want to note it elsewhere.

Triggers refuse UPDATE and DELETE, so no code path here (or a careless tool) changes history by accident.
A database that cannot be read is refused with a sentence and never overwritten or moved aside: unlike
the header cache, it is the only copy.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

from sharedclient.core.errors import StorageError, UsageError
from sharedclient.core.store.db import open_database

log = logging.getLogger(__name__)

FILE_NAME = "audit.sqlite"
GENESIS = "0" * 64
FIELDS = ("seq", "time", "profile", "account", "user", "action", "target", "result", "details")

MIGRATIONS = [
    """
    CREATE TABLE entry(
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        profile TEXT NOT NULL,
        account TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        result TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX entry_by_time ON entry(time);
    CREATE INDEX entry_by_action ON entry(action);
    CREATE TABLE head(
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER entry_no_update BEFORE UPDATE ON entry BEGIN
        SELECT RAISE(ABORT, 'the audit trail is append-only');
    END;
    CREATE TRIGGER entry_no_delete BEFORE DELETE ON entry BEGIN
        SELECT RAISE(ABORT, 'the audit trail is append-only');
    END;
    """,
]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    profile: str
    account: str
    user: str
    action: str
    target: Any
    result: str
    details: dict[str, Any]
    hash: str

    def fields(self) -> dict[str, Any]:
        """The hashed fields (everything but ``hash``)."""
        return {name: getattr(self, name) for name in FIELDS}

    def to_json(self) -> dict[str, Any]:
        return {**self.fields(), "hash": self.hash}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    first_bad_seq: int | None = None
    problem: str = ""
    entries: int = 0
    head_hash: str = GENESIS


def canonical_json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(previous_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256(previous hash ‖ canonical JSON of the entry), lowercase hex."""
    # For a real hash UTF-8 is the documented ASCII; a damaged one must still compare, not crash.
    return hashlib.sha256(previous_hash.encode("utf-8") + canonical_json(fields).encode("utf-8")).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds, e.g. ``2024-06-03T08:30:00.123+00:00`` (sorts as text)."""
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is local time
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_since(text: str) -> datetime:
    """``2024-06-03`` (midnight, local time) or ``2024-06-03T14:00[+02:00]`` (local unless an offset is given)."""
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime.combine(day, time()).astimezone()
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"“{text}” is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM.") from None
    return moment if moment.tzinfo else moment.astimezone()


class AuditLog:
    """The audit trail of one profile. Thread-safe: every operation holds one lock."""

    def __init__(
        self, path: Path | str, profile: str, user: str | None = None, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.path = path
        self.profile = profile
        self.user = user if user is not None else default_user()
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._conn = self._open(path)

    # -- opening ---------------------------------------------------------------------------------

    def _open(self, path: Path | str) -> sqlite3.Connection:
        try:
            conn = open_database(path, MIGRATIONS, synchronous="FULL", what="audit trail")
        except StorageError as exc:
            if "newer SharedClient" in exc.user_message:
                raise
            raise StorageError(
                f"{exc.user_message} SharedClient will not write to it or replace it: keep the file for "
                "investigation, and move it aside to start a new audit trail."
            ) from exc
        # A changed byte inside a text value must show up as a changed entry (named by verify), not as a crash.
        conn.text_factory = lambda data: data.decode("utf-8", "replace")
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if problem != "ok" or not {"entry", "head"} <= tables:
                raise sqlite3.DatabaseError(problem if problem != "ok" else "its tables are missing")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            conn.close()
            raise StorageError(
                f"The audit trail at {path} is damaged ({exc}); SharedClient will not write to it or replace it. "
                "Keep the file for investigation, and move it aside to start a new audit trail."
            ) from exc
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"The audit trail at {self.path} is closed.")
        return self._conn

    # -- writing ---------------------------------------------------------------------------------

    def record(
        self,
        action: str,
        *,
        account: str = "",
        target: Any = None,
        result: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry and return its ``seq``; it is on disk (synchronous=FULL) when this returns."""
        if not action:
            raise ValueError("an audit entry needs an action")
        # Hash exactly what will be read back (tuples become lists, keys become strings); refuses what
        # JSON cannot hold before anything is written.
        target = json.loads(json.dumps(target, ensure_ascii=False))
        details = json.loads(json.dumps(dict(details or {}), ensure_ascii=False))
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")  # serialises writers across processes too
                try:
                    row = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
                    last = conn.execute("SELECT seq, hash FROM entry ORDER BY seq DESC LIMIT 1").fetchone()
                    if (row is None) != (last is None) or (row is not None and tuple(row) != tuple(last)):
                        raise StorageError(
                            f"The audit trail at {self.path} does not end where it should (it was changed outside "
                            "SharedClient); nothing was added. Run “sharedclient audit verify” for details."
                        )
                    seq, previous = (row[0] + 1, row[1]) if row else (1, GENESIS)
                    fields = {
                        "seq": seq,
                        "time": format_time(self._clock()),
                        "profile": self.profile,
                        "account": account,
                        "user": self.user,
                        "action": action,
                        "target": target,
                        "result": result,
                        "details": details,
                    }
                    digest = entry_hash(previous, fields)
                    conn.execute(
                        "INSERT INTO entry(seq, time, profile, account, user, action, target, result, details,"
                        " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            seq, fields["time"], self.profile, account, self.user, action,
                            json.dumps(target, ensure_ascii=False), result, json.dumps(details, ensure_ascii=False),
                            previous, digest,
                        ),  # fmt: skip
                    )
                    conn.execute("INSERT OR REPLACE INTO head(id, seq, hash) VALUES (1, ?, ?)", (seq, digest))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"The audit trail at {self.path} could not be written ({exc}).") from exc
            return seq

    # -- reading ---------------------------------------------------------------------------------

    def entries(
        self, since: datetime | str | None = None, action: str | None = None, *, text: str = "", limit: int = 0
    ) -> list[AuditEntry]:
        """Entries in order; ``since`` a datetime or ISO text; ``action`` exact (``acl.grant``) or a
        prefix before a dot (``acl`` matches ``acl.grant`` and ``acl.revoke``); ``text`` a case-insensitive
        substring of account, user, action, target, result or details; ``limit`` keeps the newest N."""
        where, params = [], []
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in _SEARCHED) + ")")
            params += [like] * len(_SEARCHED)
        if since is not None:
            moment = parse_since(since) if isinstance(since, str) else since
            where.append("time >= ?")
            params.append(format_time(moment))
        if action:
            where.append("(action = ? OR action LIKE ? ESCAPE '\\')")
            escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params += [action, escaped + ".%"]
        sql = "SELECT * FROM entry" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        if limit:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY seq"
        with self._lock:
            rows = self._rows(sql, params)
        return [entry for entry, _prev in rows]

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[AuditEntry, str]]:
        conn = self._connection()
        conn.row_factory = sqlite3.Row
        try:
            result = []
            for row in conn.execute(sql, list(params)):
                result.append((_entry(row), row["prev_hash"]))
            return result
        except (sqlite3.DatabaseError, UnicodeDecodeError, IndexError) as exc:  # IndexError: a column renamed
            raise StorageError(f"The audit trail at {self.path} cannot be read ({exc}).") from exc
        finally:
            conn.row_factory = None

    # -- checking --------------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Walk the chain; name the first entry that was changed, deleted, inserted or reordered."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")  # one snapshot: another process may append while we read
                try:
                    problems = "; ".join(filter(None, (self._integrity(conn), _schema_changes(conn))))
                    rows = self._rows("SELECT * FROM entry ORDER BY seq")
                    head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")  # read-only: nothing to commit
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"The audit trail at {self.path} cannot be read ({exc}).") from exc
        result = check_chain(rows, tuple(head) if head else None)
        if result.ok and problems:  # the entries are intact, but the file around them is not
            return VerifyResult(False, None, f"The audit database file is damaged: {problems}.", result.entries,
                                result.head_hash)  # fmt: skip
        return result

    @staticmethod
    def _integrity(conn: sqlite3.Connection) -> str:
        """SQLite's own full check (indexes, page structure); "" when all is well."""
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
        return "" if rows == ["ok"] else "; ".join(rows)


_SCHEMA: dict[str, str] | None = None


def _schema_of(conn: sqlite3.Connection) -> dict[str, str]:
    return {name: sql or "" for name, sql in conn.execute("SELECT name, sql FROM sqlite_master")}


def _schema_changes(conn: sqlite3.Connection) -> str:
    """Tables, triggers and indexes differing from what the migrations create; "" when identical.

    The schema is not covered by the hash chain, yet it is part of the file: a changed byte in, say, the
    trigger that refuses UPDATE would otherwise pass unnoticed while quietly disarming it.
    """
    global _SCHEMA
    if _SCHEMA is None:
        reference = open_database(":memory:", MIGRATIONS, what="audit trail")
        try:
            _SCHEMA = _schema_of(reference)
        finally:
            reference.close()
    found = _schema_of(conn)
    changed = sorted(n for n in set(found) | set(_SCHEMA) if found.get(n) != _SCHEMA.get(n))
    return f"its schema differs from SharedClient's in {', '.join(changed)}" if changed else ""


def chain_start(rows: list[tuple[AuditEntry, str]]) -> tuple[str, int]:
    """(previous hash, first seq): GENESIS and 1, or where a retention checkpoint says the kept part begins.

    ``core.retention`` removes old entries only after appending an ``audit.retention`` entry naming the
    first kept seq and the hash it links to; that entry is chained, so it cannot be forged unnoticed.
    """
    start = (GENESIS, 1)
    if rows and rows[0][0].seq > 1:
        for entry, _ in rows:  # the latest cut at or before the first entry left (later gaps stay "deleted")
            d = entry.details
            if entry.action == "audit.retention" and isinstance(d, dict) and isinstance(d.get("first_kept_seq"), int):
                if start[1] < d["first_kept_seq"] <= rows[0][0].seq:
                    start = (str(d.get("anchor_hash", GENESIS)), d["first_kept_seq"])
    return start


def _malformed(rows: list[tuple[AuditEntry, str]]) -> int | None:
    """The seq of the first row whose stored values have impossible types (a damaged record), else None."""
    texts = ("time", "profile", "account", "user", "action", "result", "hash")
    last = 0
    for entry, stored_prev in rows:
        if not isinstance(entry.seq, int) or isinstance(entry.seq, bool):
            return last + 1
        if (not all(isinstance(getattr(entry, name), str) for name in texts) or not isinstance(stored_prev, str)
                or isinstance(entry.target, bytes) or isinstance(entry.details, bytes)):
            return entry.seq
        last = entry.seq
    return None


def check_chain(rows: list[tuple[AuditEntry, str]], head: tuple[int, str] | None) -> VerifyResult:
    """The verification itself, on (entry, stored previous hash) pairs in ``seq`` order."""
    broken = _malformed(rows)
    if broken is not None or (head is not None and not (isinstance(head[0], int) and isinstance(head[1], str))):
        seq = broken if broken is not None else len(rows)
        return VerifyResult(False, seq, f"Entry {seq} was changed: its stored values are malformed.", len(rows),
                            GENESIS)  # fmt: skip
    previous, expected = chain_start(rows)
    head_seq = head[0] if head else 0
    hashes = [previous] + [entry.hash for entry, _ in rows]

    def bad(seq: int, problem: str) -> VerifyResult:
        return VerifyResult(False, seq, problem, len(rows), head[1] if head else GENESIS)

    for index, (entry, stored_prev) in enumerate(rows):
        seq = entry.seq
        if seq > head_seq:
            return bad(seq, f"Entry {seq} was added outside SharedClient (the trail ended at entry {head_seq}).")
        if seq < expected:
            return bad(seq, f"Entry {seq} does not belong in the trail (it was inserted).")
        if seq > expected:
            missing = f"Entry {expected} is" if seq == expected + 1 else f"Entries {expected}–{seq - 1} are"
            return bad(expected, f"{missing} missing (deleted).")
        if entry_hash(previous, entry.fields()) == entry.hash and stored_prev != previous:
            return bad(seq, f"Entry {seq} was changed: its link to entry {seq - 1} was altered.")
        if entry_hash(previous, entry.fields()) != entry.hash:
            # Is it an intact entry moved here from another place? Then the order was changed.
            for other in range(len(rows)):
                if other != index:
                    moved = {**entry.fields(), "seq": rows[other][0].seq}
                    if entry_hash(hashes[other], moved) == entry.hash:
                        return bad(
                            seq,
                            f"Entry {seq} holds what was written as entry {rows[other][0].seq}: "
                            "the entries were reordered.",
                        )
            if stored_prev != previous and entry_hash(stored_prev, entry.fields()) == entry.hash:
                # This entry is intact but no longer links to its predecessor: that one was rewritten.
                return bad(seq - 1, f"Entry {seq - 1} was changed after entry {seq} was written.")
            return bad(seq, f"Entry {seq} was changed (or forged): it does not match its hash.")
        previous = entry.hash
        expected += 1
    if head_seq >= expected:
        missing = f"Entry {expected} is" if head_seq == expected else f"Entries {expected}–{head_seq} are"
        return bad(expected, f"{missing} missing at the end (deleted).")
    if head is not None and head[1] != previous:
        return bad(head_seq, f"Entry {head_seq} was changed after it was written (the trail's end does not match).")
    return VerifyResult(True, None, "", len(rows), previous)


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        time=row["time"],
        profile=row["profile"],
        account=row["account"],
        user=row["user"],
        action=row["action"],
        target=_json_or_text(row["target"]),
        result=row["result"],
        details=_json_or_text(row["details"]),
        hash=row["hash"],
    )


def _json_or_text(text: str) -> Any:
    """Stored JSON back to its value; text that is not JSON (a hand-edited row) stays as it is."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def default_user() -> str:
    """The person at the keyboard: the operating-system login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
        return "unknown"


#: Columns of a CSV export (``target`` and ``details`` as JSON text), the same for the CLI and the window.
CSV_COLUMNS = ("seq", "time", "profile", "account", "user", "action", "target", "result", "details", "hash")
_SEARCHED = ("account", "user", "action", "target", "result", "details")


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def write_csv(entries: Iterable[AuditEntry], out: Any) -> int:
    """Entries as CSV with a header row to a text stream; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in entries:
        data = entry.to_json()
        writer.writerow(
            [("" if data[c] is None else json_text(data[c])) if c in ("target", "details") else data[c] for c in CSV_COLUMNS]
        )
        count += 1
    return count


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME
