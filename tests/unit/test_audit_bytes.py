"""Any single byte of the audit database changed: ``verify`` names the entry, or the file is refused.

Bytes that belong to no entry and no schema statement (unallocated space inside a page) may change without
changing anything stored; for those the test proves that every entry and the trail's end still read back
exactly as written. Schema text (the append-only triggers) is compared with what the migrations create.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from sharedclient.core.errors import StorageError
from sharedclient.core.store.audit import AuditLog
from tests.unit.test_audit import filled


def snapshot(path: Path) -> tuple[list[dict[str, object]], tuple[int, str] | None]:
    with AuditLog(path, "default", "alice") as log:
        entries = [e.to_json() for e in log.entries()]
    conn = sqlite3.connect(path)
    try:
        head = conn.execute("SELECT seq, hash FROM head").fetchone()
    finally:
        conn.close()
    return entries, head


def outcome(path: Path) -> str:
    """'refused' (cannot be opened/read), 'named N' (verify names entry N), 'damaged' or 'intact'."""
    try:
        with AuditLog(path, "default", "alice") as log:
            result = log.verify()
    except StorageError:
        return "refused"
    if result.ok:
        return "intact"
    return f"named {result.first_bad_seq}" if result.first_bad_seq is not None else "damaged"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, tuple]:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("audit") / "audit.sqlite"
    filled(path, 40)
    return path.read_bytes(), snapshot(path)


def flipped(tmp_path: Path, data: bytes, offset: int, rnd: random.Random) -> Path:
    changed = bytearray(data)
    changed[offset] = (changed[offset] + rnd.randint(1, 255)) % 256
    path = tmp_path / f"flip-{offset}.sqlite"
    path.write_bytes(bytes(changed))
    return path


def test_every_byte_of_every_stored_value_is_caught(tmp_path: Path, pristine) -> None:  # type: ignore[no-untyped-def]
    """Each stored hash, previous hash, time, action, target and details text: every byte position."""
    data, (entries, _head) = pristine
    rnd = random.Random(7)
    checked = 0
    for entry in entries[::7]:
        for value in (entry["hash"], entry["time"], entry["action"], '"carol@example.test"', entry["user"]):
            start = data.find(str(value).encode(), 0 if value != entry["user"] else data.find(entry["time"].encode()))
            assert start > 0
            for offset in range(start, start + len(str(value).encode())):
                result = outcome(flipped(tmp_path, data, offset, rnd))
                assert result != "intact", f"byte {offset} ({value!r}) changed without being noticed"
                checked += 1
    assert checked > 300


def test_random_bytes_anywhere_are_caught_or_change_no_entry(tmp_path: Path, pristine) -> None:  # type: ignore[no-untyped-def]
    data, before = pristine
    rnd = random.Random(20240603)
    counts: dict[str, int] = {}
    for offset in sorted(rnd.sample(range(len(data)), 400)):
        path = flipped(tmp_path, data, offset, rnd)
        result = outcome(path)
        counts[result.split()[0]] = counts.get(result.split()[0], 0) + 1
        if result == "intact":
            # Unused space: no entry, no hash, no end-of-trail marker changed.
            assert snapshot(path) == before, f"byte {offset} changed an entry but verify says intact"
        path.unlink()
    assert counts.get("named", 0) + counts.get("refused", 0) + counts.get("damaged", 0) > 50, counts


def test_many_bytes_of_the_entry_pages_are_caught_or_change_no_entry(tmp_path: Path, pristine) -> None:  # type: ignore[no-untyped-def]
    """The pages that hold entries: every byte of their headers and cell pointers, and 1500 more at random.

    Never a crash; never an entry changed while verify says intact."""
    data, (entries, head) = pristine
    page_size = int.from_bytes(data[16:18], "big") or 65536
    pages = sorted({data.find(str(e["hash"]).encode()) // page_size for e in entries})
    assert len(pages) >= 2  # 40 entries fill more than one page
    offsets = {p * page_size + i for p in pages for i in range(100 if p else 200)}  # page 1 has the file header
    rnd = random.Random(97)
    offsets |= {rnd.choice(pages) * page_size + rnd.randrange(page_size) for _ in range(1500)}
    counts: dict[str, int] = {}
    for offset in sorted(offsets):
        path = flipped(tmp_path, data, offset, rnd)
        result = outcome(path)  # raises on a crash: only StorageError counts as "refused"
        counts[result.split()[0]] = counts.get(result.split()[0], 0) + 1
        if result == "intact":
            assert snapshot(path) == (entries, head), f"byte {offset} changed an entry but verify says intact"
        path.unlink()
    assert counts.get("named", 0) > 500, counts


def test_every_byte_of_the_schema_text_is_caught(tmp_path: Path, pristine) -> None:  # type: ignore[no-untyped-def]
    """The CREATE statements (e.g. the triggers refusing UPDATE/DELETE) are not in the hash chain; a changed
    byte there must still be reported, or the append-only guard could be disarmed unnoticed."""
    data, _ = pristine
    rnd = random.Random(11)
    checked = 0
    for statement in (b"SELECT RAISE(ABORT, 'the audit trail is append-only')", b"CREATE TRIGGER entry_no_delete"):
        start = data.find(statement)
        assert start > 0
        for offset in range(start, start + len(statement)):
            assert outcome(flipped(tmp_path, data, offset, rnd)) != "intact", f"schema byte {offset} unnoticed"
            checked += 1
    assert checked > 60
