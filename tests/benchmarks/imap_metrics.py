"""IMAP-side metrics: the wire limit (raw_fetch), SharedClient's initial sync and its resyncs.

Every SharedClient measurement goes through ``AccountSession`` with the GUI's connect factory
(``ImapConnection(open_imap(...))``) and a file-backed ``HeaderCache``, i.e. the code path the window
uses; the connection is opened before the clock starts (the GUI's worker is connected by then too).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sharedclient.core.account_session import AccountSession
from sharedclient.core.imap import sync as sync_module
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.fetchparse import uid_ranges
from sharedclient.core.imap.session import open_imap
from sharedclient.core.store.cache import HeaderCache
from tests.benchmarks.servers import ALICE, SHARED_INBOX, SUPPORT, BenchWorld, password

CLAIM_KEYWORD = "$Claimed"


def fetch_items(condstore: bool = True) -> str:
    """Exactly the items ``sync_mailbox`` asks for (Dovecot offers CONDSTORE, so MODSEQ is among them)."""
    return f"(UID FLAGS INTERNALDATE RFC822.SIZE{' MODSEQ' if condstore else ''} {sync_module.HEADER_ITEM})"


def raw_fetch(world: BenchWorld, runs: int, warmups: int, expect: int) -> tuple[list[float], int]:
    """Plain imaplib ``UID FETCH 1:*``: bytes framed by imaplib, nothing parsed. Returns (times, bytes)."""
    imap = world.imaplib_login(ALICE)
    try:
        imap.enable("QRESYNC")  # as the sync does; Dovecot then reports MODSEQ with every FETCH
        typ, _ = imap.select(f'"{SHARED_INBOX}"', readonly=True)
        if typ != "OK":
            raise RuntimeError(f"EXAMINE {SHARED_INBOX} failed")
        items = fetch_items()
        times: list[float] = []
        size = 0
        for i in range(warmups + runs):
            started = time.perf_counter()
            typ, data = imap.uid("FETCH", "1:*", items)
            elapsed = time.perf_counter() - started
            if typ != "OK":
                raise RuntimeError(f"UID FETCH failed: {data[:1]!r}")
            literals = [d for d in data if isinstance(d, tuple)]
            if len(literals) != expect:
                raise RuntimeError(f"raw fetch returned {len(literals)} messages, expected {expect}")
            size = sum(len(d[0]) + len(d[1]) for d in literals) + sum(len(d) for d in data if isinstance(d, bytes))
            del data, literals
            if i >= warmups:
                times.append(elapsed)
        return times, size
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def _session(world: BenchWorld, cache_path: Path) -> AccountSession:
    account = world.account(ALICE, "alice")
    secret = password(ALICE)
    session = AccountSession(account, lambda: ImapConnection(open_imap(account, secret)), HeaderCache(cache_path))
    session.worker.submit(lambda conn: None).result(timeout=60)  # connected and logged in
    return session


def _timed_sync(session: AccountSession) -> tuple[float, sync_module.SyncResult]:
    started = time.perf_counter()
    result = session.sync(SHARED_INBOX).result(timeout=900)
    return time.perf_counter() - started, result


def initial_sync(world: BenchWorld, runs: int, workdir: Path, expect: int) -> tuple[list[float], Path]:
    """``runs`` syncs of the shared INBOX, each into an empty cache file; returns the last cache's path."""
    times = []
    path = workdir / "initial-0.sqlite"
    for i in range(runs):
        path = workdir / f"initial-{i}.sqlite"
        _remove_db(path)
        session = _session(world, path)
        try:
            elapsed, result = _timed_sync(session)
        finally:
            session.close()
        if result.fetched != expect or result.total != expect:
            raise RuntimeError(f"initial sync fetched {result.fetched} of {expect} (cache holds {result.total})")
        times.append(elapsed)
        if i < runs - 1:
            _remove_db(path)
    return times, path


@dataclass
class Split:
    """Where an initial sync's time goes (one instrumented run of the real ``sync_mailbox``)."""

    total: float = 0.0
    fetch: float = 0.0  # fetchstream.pipelined_uid_fetch: waiting for, reading, framing, parsing answers
    summarise: float = 0.0  # summarising header blocks, or (helper process) waiting for it to finish a batch
    sqlite: float = 0.0  # HeaderCache.insert_messages, FTS5 trigger included
    sqlite_without_fts: float = 0.0  # the same rows into a cache without the FTS trigger (for comparison)

    @property
    def other(self) -> float:
        return max(0.0, self.total - self.fetch - self.summarise - self.sqlite)


@contextlib.contextmanager
def _instrumented(split: Split) -> Iterator[list[tuple[int, list]]]:
    """Wrap the sync module's helpers with timers (restored afterwards); yields the inserted batches."""
    batches: list[tuple[int, list]] = []
    originals = {name: getattr(sync_module, name) for name in ("pipelined_uid_fetch", "SummaryPool")}
    original_insert = HeaderCache.insert_messages

    class TimedPool(originals["SummaryPool"]):  # type: ignore[misc, valid-type]
        """Time the sync spends handing batches over and waiting for their summaries."""

        def submit(self, blocks):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            future = super().submit(blocks)
            split.summarise += time.perf_counter() - started
            result = future.result

            def timed_result(timeout=None):  # type: ignore[no-untyped-def]
                waited = time.perf_counter()
                try:
                    return result(timeout)
                finally:
                    split.summarise += time.perf_counter() - waited

            future.result = timed_result  # type: ignore[method-assign]
            return future

    def timed_fetch(*args, **kwargs):  # type: ignore[no-untyped-def]
        answers = originals["pipelined_uid_fetch"](*args, **kwargs)
        try:
            while True:  # a generator: time each step of it, not the caller's work between steps
                started = time.perf_counter()
                try:
                    batch = next(answers)
                except StopIteration:
                    split.fetch += time.perf_counter() - started
                    return
                split.fetch += time.perf_counter() - started
                yield batch
        finally:
            answers.close()

    def insert(self: HeaderCache, mailbox_id: int, messages):  # type: ignore[no-untyped-def]
        batches.append((mailbox_id, list(messages)))
        started = time.perf_counter()
        original_insert(self, mailbox_id, messages)
        split.sqlite += time.perf_counter() - started

    sync_module.pipelined_uid_fetch = timed_fetch  # type: ignore[attr-defined]
    sync_module.SummaryPool = TimedPool  # type: ignore[attr-defined]
    HeaderCache.insert_messages = insert  # type: ignore[method-assign]
    try:
        yield batches
    finally:
        for name, fn in originals.items():
            setattr(sync_module, name, fn)
        HeaderCache.insert_messages = original_insert  # type: ignore[method-assign]


def split_initial_sync(world: BenchWorld, workdir: Path, expect: int) -> Split:
    """One instrumented initial sync; then the same rows once more into a cache without FTS triggers.

    With a helper process the summarise figure is only the time the sync waited for it.
    """
    split = Split()
    path = workdir / "split.sqlite"
    _remove_db(path)
    session = _session(world, path)
    try:
        with _instrumented(split) as batches:
            split.total, result = _timed_sync(session)
    finally:
        session.close()
    if result.fetched != expect:
        raise RuntimeError(f"instrumented sync fetched {result.fetched} of {expect}")
    _remove_db(path)
    bare = workdir / "no-fts.sqlite"
    _remove_db(bare)
    cache = HeaderCache(bare)
    try:
        # The FTS5 table becomes a plain table with the same columns (writes to it cost next to nothing);
        # whether the FTS rows are written by a trigger (schema 1) or by insert_messages (schema 2).
        cache.query("DROP TRIGGER IF EXISTS message_ai")
        cache.query("DROP TABLE message_fts")
        cache.query("CREATE TABLE message_fts(message_fts, from_name, from_addr, sender, to_addrs, cc_addrs, subject)")
        mailbox_id = cache.mailbox(SHARED_INBOX).id
        started = time.perf_counter()
        for _, rows in batches:
            cache.insert_messages(mailbox_id, rows)
        split.sqlite_without_fts = time.perf_counter() - started
    finally:
        cache.close()
        _remove_db(bare)
    return split


def resync_nochange(world: BenchWorld, cache_path: Path, runs: int) -> list[float]:
    session = _session(world, cache_path)
    try:
        times = []
        for _ in range(runs):
            elapsed, result = _timed_sync(session)
            if result.fetched or result.updated or result.vanished:
                raise RuntimeError(f"unchanged mailbox resync changed something: {result}")
            times.append(elapsed)
        return times
    finally:
        session.close()


def resync_changed(world: BenchWorld, cache_path: Path, runs: int, total: int, fraction: float = 0.01) -> list[float]:
    """Another session (the owner) toggles a keyword on ``fraction`` of the messages before each run."""
    count = max(1, int(total * fraction))
    uids = sorted(random.Random(5).sample(range(1, total + 1), count))
    other = world.imaplib_login(SUPPORT)
    session = _session(world, cache_path)
    try:
        other.select("INBOX")
        times = []
        for i in range(runs):
            op = "+FLAGS.SILENT" if i % 2 == 0 else "-FLAGS.SILENT"
            typ, data = other.uid("STORE", uid_ranges(uids), op, f"({CLAIM_KEYWORD})")
            if typ != "OK":
                raise RuntimeError(f"UID STORE failed: {data!r}")
            elapsed, result = _timed_sync(session)
            if result.updated != count or result.fetched:
                raise RuntimeError(f"resync after {count} flag changes reported {result}")
            times.append(elapsed)
        return times
    finally:
        session.close()
        with contextlib.suppress(Exception):
            other.logout()


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def copy_db(src: Path, dst: Path) -> None:
    """A consistent copy of a (WAL) SQLite file through the backup API."""
    _remove_db(dst)
    with contextlib.closing(sqlite3.connect(src)) as a, contextlib.closing(sqlite3.connect(dst)) as b:
        a.backup(b)


__all__ = ["raw_fetch", "initial_sync", "split_initial_sync", "resync_nochange", "resync_changed", "copy_db"]
