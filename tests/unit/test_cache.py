from pathlib import Path

import pytest

from sharedclient.core.errors import StorageError
from sharedclient.core.imap.headers import summarise
from sharedclient.core.store.cache import MIGRATIONS, FetchedMessage, HeaderCache


def msg(uid: int, subject: str = "hello", flags: tuple[str, ...] = ()) -> FetchedMessage:
    raw = f"From: Zoe <zoe@example.org>\r\nSubject: {subject}\r\n\r\n".encode()
    return FetchedMessage(uid, flags, 1000.0 + uid, 100 + uid, None, summarise(raw))


def test_insert_update_delete_and_search(tmp_path: Path) -> None:
    cache = HeaderCache(tmp_path / "cache.sqlite")
    box = cache.mailbox("INBOX")
    cache.insert_messages(box.id, [msg(1, "Refund request"), msg(2, "Invoice"), msg(5, "Réfund again")])
    assert cache.uids(box.id) == [1, 2, 5] and cache.max_uid(box.id) == 5
    assert cache.update_flags(box.id, [(1, ("\\Seen",), 7), (2, (), None)]) == 1  # uid 2 unchanged
    assert cache.query("SELECT seen, modseq FROM message WHERE uid=1") == [(1, 7)]
    hits = cache.query("SELECT m.uid FROM message_fts f JOIN message m ON m.id=f.rowid WHERE message_fts MATCH ?", ("refund",))
    assert sorted(h[0] for h in hits) == [1, 5]  # diacritics folded
    assert cache.delete_uids(box.id, [2, 99]) == 1
    assert cache.uids(box.id) == [1, 5]
    hits = cache.query("SELECT rowid FROM message_fts WHERE message_fts MATCH 'invoice'")
    assert hits == []
    cache.close()


def test_uidvalidity_reset_drops_the_mailbox(tmp_path: Path) -> None:
    cache = HeaderCache(tmp_path / "c.sqlite")
    box = cache.mailbox("INBOX")
    cache.insert_messages(box.id, [msg(1), msg(2)])
    cache.mark_synced(box.id, 42, 9)
    box = cache.reset_mailbox("INBOX", 43)
    assert (box.uidvalidity, box.highestmodseq, cache.count(box.id)) == (43, None, 0)


def test_damaged_cache_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    cache = HeaderCache(path)
    assert "rebuilt" in cache.rebuilt_notice
    assert cache.count(cache.mailbox("INBOX").id) == 0
    assert len(list(tmp_path.glob("c.sqlite.damaged-*"))) == 1


def test_newer_cache_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    HeaderCache(path).close()
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer SharedClient"):
        HeaderCache(path)
