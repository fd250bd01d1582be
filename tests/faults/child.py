"""Running the real CLI (or GUI) in a child process the test may ``kill -9``.

The child reads passwords from :mod:`tests.faults.file_keyring` (a file outside the profile dir), so the
code under test runs unchanged; everything else is the ordinary ``python -m sharedclient``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def child_env(keyring_file: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHON_KEYRING_BACKEND="tests.faults.file_keyring.FileKeyring",
        SHAREDCLIENT_TEST_KEYRING=str(keyring_file),
        QT_QPA_PLATFORM="offscreen",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONFAULTHANDLER="1",  # a crash prints every thread's stack, as a user's crash report would
        **extra,
    )
    return env


def start_cli(basedir: Path, keyring_file: Path, *argv: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``python -m sharedclient --basedir BASEDIR ARGV…`` in the background (stdout+stderr into ``log``)."""
    out = open(log or os.devnull, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            [PY, "-m", "sharedclient", "--basedir", str(basedir), *argv],
            env=child_env(keyring_file), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    finally:
        out.close()


def run_cli(basedir: Path, keyring_file: Path, *argv: str, stdin: str = "", timeout: float = 120) -> tuple[int, str]:
    """Run the CLI to completion; (exit code, stdout+stderr)."""
    result = subprocess.run(
        [PY, "-m", "sharedclient", "--basedir", str(basedir), *argv], env=child_env(keyring_file),
        input=stdin.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
    )  # fmt: skip
    return result.returncode, result.stdout.decode("utf-8", "replace")


def outbox_rows(basedir: Path) -> list[dict[str, object]]:
    """The outbox as another process sees it right now (read-only; WAL lets us read beside the writer)."""
    matches = list(basedir.rglob("outbox.sqlite"))
    if not matches:
        return []
    conn = sqlite3.connect(f"file:{matches[0]}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT id, state, phase, message_id, last_error FROM outbox ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()
    return [dict(r) for r in rows]


def history_rows(basedir: Path) -> list[dict[str, object]]:
    """The send history, oldest first."""
    (path,) = basedir.rglob("outbox.sqlite")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT id, status, message_id, smtp_reply, copy_mailbox FROM history ORDER BY id")
        return [dict(r) for r in rows]
    finally:
        conn.close()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def dump(obj: object) -> str:
    return json.dumps(obj, indent=1, default=str)
