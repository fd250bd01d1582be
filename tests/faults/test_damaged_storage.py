"""Damaged or missing local files: a cache is rebuilt from the server (with a notice); the databases that
are the only copy of something (outbox + history, audit trail) are refused with a sentence and left
byte-for-byte as they were; a full disk while saving a draft keeps the previous draft.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pytestqt.qtbot import QtBot

from sharedclient.app import main
from sharedclient.core.account_session import AccountSession
from sharedclient.core.drafts import Draft, DraftStore
from sharedclient.core.errors import StorageError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import open_imap
from sharedclient.core.store.audit import audit_path
from sharedclient.core.store.cache import HeaderCache
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.launch import cache_in
from tests.conftest import addr, password
from tests.integration.readpath import account_of, fill
from tests.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from sharedclient.devservers.dovecot import MailUser
    from tests.conftest import ImapServer


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scribble(path: Path, start: int, length: int) -> None:
    """Overwrite ``length`` bytes at ``start`` with junk, as a bad sector or a stray write would."""
    data = bytearray(path.read_bytes())
    data[start : start + length] = bytes((i * 37 + 11) % 256 for i in range(length))
    path.write_bytes(bytes(data))


def checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so damage to the file is damage to the data."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


# ---------------------------------------------------------------------------------------- header cache


def cached_count(cache: HeaderCache) -> int:
    return int(cache.query("SELECT count(*) FROM message")[0][0])


def sync_inbox(account_user: MailUser, server: ImapServer, cache_file: Path) -> tuple[HeaderCache, int]:
    account = account_of(server, account_user)
    cache = HeaderCache(cache_file)
    session = AccountSession(account, lambda: ImapConnection(open_imap(account, account_user.password)), cache)
    try:
        session.sync("INBOX").result(60)
        return cache, cached_count(cache)
    finally:
        session.close()


@pytest.mark.parametrize("damage", ["deleted", "garbage", "scribbled"])
def test_header_cache_deleted_or_damaged_is_rebuilt_from_the_server(
    damage: str, tmp_path: Path, imap_server: ImapServer, fresh_user: MailUser
) -> None:
    fill(imap_server, fresh_user, 300)
    cache_file = tmp_path / "cache-work.sqlite"
    cache, count = sync_inbox(fresh_user, imap_server, cache_file)
    cache.close()
    assert count == 300
    checkpoint(cache_file)
    if damage == "deleted":
        cache_file.unlink()
    elif damage == "garbage":
        cache_file.write_bytes(os.urandom(cache_file.stat().st_size))
    else:
        scribble(cache_file, 0, 100)  # the header and the schema page
    damaged = None if damage == "deleted" else digest(cache_file)

    cache, count = sync_inbox(fresh_user, imap_server, cache_file)
    assert count == 300  # everything is back, from the server
    if damaged is None:
        assert cache.rebuilt_notice == ""
    else:
        assert cache.rebuilt_notice.startswith("The local mail cache was damaged and is being rebuilt from the server")
        (aside,) = tmp_path.glob("cache-work.sqlite.damaged-*")
        assert aside.name in cache.rebuilt_notice and digest(aside) == damaged  # kept as it was
    cache.close()


def test_damaged_cache_notice_reaches_the_window_and_the_folder_list_comes_back(
    qtbot: QtBot, tmp_path: Path, imap_server: ImapServer, fresh_user: MailUser
) -> None:
    account = account_of(imap_server, fresh_user)
    (tmp_path / f"cache-{account.name}.sqlite").write_bytes(b"this is not a database" * 100)
    controller = AccountsController(
        [account], lambda acct: lambda: ImapConnection(open_imap(acct, fresh_user.password)), cache_in(tmp_path)
    )
    try:
        with qtbot.waitSignal(controller.problem, timeout=10000) as problem, qtbot.waitSignal(
            controller.folders_changed, timeout=20000
        ):
            controller.start()
        assert problem.args[0] == account.name
        assert "damaged and is being rebuilt from the server" in problem.args[1]
        assert "INBOX" in {f.path for f in controller.folders[account.name]}
    finally:
        controller.shutdown()


# ---------------------------------------------------------------------------------------- outbox + history


def cli(basedir: Path, *argv: str, stdin: str = "") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--basedir", str(basedir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def queued_profile(tmp_path: Path, memory_keyring: MemoryKeyring) -> Iterator[Path]:
    """A profile whose outbox holds one queued message (the SMTP server is unreachable) and 40 history rows."""
    basedir = tmp_path / "sc"
    with socket_closed_port() as port:
        code, out = cli(basedir, "account", "add", "work", "--email", addr("alice"), "--imap", f"127.0.0.1:{port}",
                        "--smtp", f"127.0.0.1:{port}", "--password-stdin", stdin=password("alice") + "\n")  # fmt: skip
        assert code == 0, out
        code, out = cli(basedir, "send", "--from", addr("alice"), "--to", addr("carol"), "--subject", "Unsent",
                        "--body", "Only copy is in the outbox.")  # fmt: skip
        assert code == 75, out
    (db_path,) = basedir.rglob("outbox.sqlite")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.executemany(
            "INSERT INTO history(time, status, subject) VALUES (?, 'sent', ?)", [(i, "x" * 2000) for i in range(40)]
        )
    conn.close()
    checkpoint(db_path)
    yield basedir


class socket_closed_port:
    """A loopback port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


def rootpage(db_path: Path, table: str) -> tuple[int, int]:
    conn = sqlite3.connect(db_path)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    finally:
        conn.close()
    return (root - 1) * page_size, page_size


@pytest.mark.parametrize("damage", ["garbage", "outbox-table", "history-table"])
def test_damaged_outbox_database_is_refused_and_left_untouched(damage: str, queued_profile: Path) -> None:
    (db_path,) = queued_profile.rglob("outbox.sqlite")
    if damage == "garbage":
        db_path.write_bytes(os.urandom(db_path.stat().st_size))
    else:
        start, size = rootpage(db_path, damage.split("-")[0])
        scribble(db_path, start, size)
        damaged_page = db_path.read_bytes()[start : start + size]
    before = digest(db_path)
    files_before = sorted(p.name for p in db_path.parent.iterdir())

    commands = [("log",), ("outbox", "flush")]
    if damage != "history-table":  # history damage is met when the history is read (not checked at start)
        commands += [("outbox",), ("send", "--from", addr("alice"), "--to", addr("carol"), "--body", "new")]
    for argv in commands:
        code, out = cli(queued_profile, *argv)
        assert code == 1, (argv, out)
        assert "outbox database" in out and "is damaged" in out and "will not use or replace it" in out, (argv, out)
        assert "Traceback" not in out
    if damage == "history-table":
        # Met when used: the damaged pages are not written over, the unsent message is still there.
        assert Path(db_path).read_bytes()[start : start + size] == damaged_page
        assert unsent_raw(db_path)
    else:
        assert digest(db_path) == before  # nothing overwritten
    assert sorted(p.name for p in db_path.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        n for n in files_before if not n.endswith(("-wal", "-shm"))
    ]


def unsent_raw(db_path: Path) -> bytes:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return bytes(conn.execute("SELECT raw FROM outbox").fetchone()[0])
    finally:
        conn.close()


def test_damaged_audit_trail_refuses_a_send_and_is_left_untouched(queued_profile: Path) -> None:
    (db_path,) = queued_profile.rglob("outbox.sqlite")
    code, out = cli(queued_profile, "audit")  # creates the (empty) trail
    audit_file = audit_path(db_path.parent)
    assert code == 0 and audit_file.exists(), out
    checkpoint(audit_file)
    scribble(audit_file, 0, 100)
    before, outbox_before = digest(audit_file), digest(db_path)
    code, out = cli(queued_profile, "send", "--from", addr("alice"), "--to", addr("carol"), "--body", "new")
    assert code == 1 and "audit trail" in out and "damaged" in out and "Traceback" not in out, out
    assert digest(audit_file) == before
    checkpoint(db_path)
    assert digest(db_path) == outbox_before  # nothing was queued either


# ---------------------------------------------------------------------------------------- disk full


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real filesystem that really fills up (we run as root; CI does too)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (needs root): {result.stderr.decode()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_disk_full_when_saving_a_draft_keeps_the_previous_one(tiny_disk: Path) -> None:
    store = DraftStore(tiny_disk / "drafts")
    first = store.save(Draft(id=uuid.uuid4().hex, to=("carol@example.test",), subject="Hi", body="Version one.\n" * 50))
    fd = os.open(tiny_disk / "other-program.bin", os.O_WRONLY | os.O_CREAT)  # another program fills the disk
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    with pytest.raises(StorageError) as caught:
        store.save(Draft(id=first.id, to=first.to, subject="Hi", body="Version two, much longer.\n" * 2000))
    assert "No space left on device" in caught.value.user_message
    assert "previous version is unchanged" in caught.value.user_message
    assert store.load(first.id) == first
    assert [p.name for p in (tiny_disk / "drafts").iterdir()] == [f"{first.id}.json"]  # no temp file left


def fill_disk(mount: Path) -> None:
    fd = os.open(mount / "other-program.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_composer_says_when_the_disk_is_full_and_the_saved_draft_stays(qtbot: QtBot, tiny_disk: Path) -> None:
    from sharedclient.core.model import Identity, SendMode
    from sharedclient.ui.composer import Composer

    store = DraftStore(tiny_disk / "drafts")
    identity = Identity("alice@example.test", "Alice", "work", SendMode.OWN)
    composer = Composer([identity], lambda i: f"{i.name} <{i.address}>", store)
    qtbot.addWidget(composer)
    composer.autosave.stop()  # saved by hand below, at known moments
    composer.show()
    qtbot.keyClicks(composer.body, "First version, saved.")
    assert composer.save_draft()
    fill_disk(tiny_disk)
    composer.body.setPlainText("Second version, much longer. " * 400)
    assert not composer.save_draft()
    assert composer.status.text().startswith("Draft not saved: Could not save")
    assert "No space left on device" in composer.status.text() and "previous version is unchanged" in composer.status.text()
    composer.grab().save("/tmp/crash-composer-disk-full.png")
    (saved,) = store.pending()
    assert saved.body == "First version, saved."
    (tiny_disk / "other-program.bin").unlink()  # space again: the next autosave succeeds
    assert composer.save_draft()
    assert store.load(saved.id).body.startswith("Second version")
