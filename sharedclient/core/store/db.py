"""Opening SQLite databases with numbered migrations (``PRAGMA user_version``).

A database written by a newer SharedClient is refused, never downgraded. Caches use
``synchronous=NORMAL`` (WAL makes that crash-safe, losing at most the last commits, which a resync
restores); databases that are the only copy of something (outbox, audit) use ``FULL``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sharedclient.core.errors import StorageError

log = logging.getLogger(__name__)

Migration = str  # one SQL script; index + 1 is the user_version it brings the database to


def open_database(
    path: Path | str, migrations: Sequence[Migration], *, synchronous: str = "NORMAL", what: str = "database"
) -> sqlite3.Connection:
    """Open (creating if needed) and migrate; raise StorageError with a sentence on any problem."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged schema may not even decode
        if conn is not None:
            conn.close()
        raise StorageError(f"The {what} at {path} cannot be opened ({exc}).") from exc
    if version > len(migrations):
        conn.close()
        raise StorageError(
            f"The {what} at {path} was written by a newer SharedClient (schema {version}); "
            "please update SharedClient instead of risking its data."
        )
    try:
        for number in range(version, len(migrations)):
            conn.execute("BEGIN IMMEDIATE")
            _run_script(conn, migrations[number])
            conn.execute(f"PRAGMA user_version={number + 1}")
            conn.execute("COMMIT")
            log.info("migrated %s %s to schema %d", what, path, number + 1)
    except sqlite3.DatabaseError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise StorageError(f"The {what} at {path} could not be upgraded ({exc}); it was left unchanged.") from exc
    return conn


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT our open transaction first."""
    for statement in _split_sql(script):
        conn.execute(statement)


def _split_sql(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current)
            current = ""
    if current.strip():
        statements.append(current)
    return statements
