"""The message list's orderings, searches and on-demand sort indexes (``core.store.listing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedclient.core.imap.headers import summarise
from sharedclient.core.store.cache import FetchedMessage, HeaderCache
from sharedclient.core.store.listing import SortKey, listing_ids, rows_by_id

#: uid -> (sender, subject, Date header, size)
MAIL = {
    1: ("Zoe <zoe@example.org>", "banana", "Mon, 03 Jun 2024 08:00:00 +0000", 500),
    2: ("adam <adam@example.org>", "Apple", "Sun, 02 Jun 2024 08:00:00 +0000", 900),
    3: ("Mia <mia@example.org>", "cherry refund", "Tue, 04 Jun 2024 08:00:00 +0000", 100),
    4: ("=?utf-8?q?=C3=89mile?= <emile@example.org>", "apple pie", "Tue, 04 Jun 2024 08:00:00 +0000", 700),
}


@pytest.fixture
def cache(tmp_path: Path) -> HeaderCache:
    cache = HeaderCache(tmp_path / "cache.sqlite")
    box = cache.mailbox("INBOX")
    cache.insert_messages(box.id, [
        FetchedMessage(uid, (), 0.0, size, None, summarise(f"From: {who}\r\nSubject: {subj}\r\nDate: {date}\r\n".encode()))
        for uid, (who, subj, date, size) in MAIL.items()
    ])  # fmt: skip
    yield cache
    cache.close()


def uids(cache: HeaderCache, **kwargs: object) -> list[int]:
    ids = listing_ids(cache, cache.mailbox("INBOX").id, **kwargs)  # type: ignore[arg-type]
    rows = rows_by_id(cache, ids)
    return [rows[i].uid for i in ids]


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        (SortKey.DATE, True, [4, 3, 1, 2]),  # equal dates: the later-inserted row first
        (SortKey.DATE, False, [2, 1, 3, 4]),
        (SortKey.SENDER, False, [2, 3, 1, 4]),  # case-insensitive: adam, Mia, Zoe, then É (after ASCII)
        (SortKey.SUBJECT, False, [2, 4, 1, 3]),
        (SortKey.SIZE, True, [2, 4, 1, 3]),
    ],
)
def test_orderings(cache: HeaderCache, sort: SortKey, descending: bool, expected: list[int]) -> None:
    assert uids(cache, sort=sort, descending=descending) == expected


def test_search_and_server_result_filter(cache: HeaderCache) -> None:
    assert uids(cache, search="apple") == [4, 2]
    assert uids(cache, search="emile") == [4]  # the decoded sender is searchable
    assert uids(cache, uids=frozenset({1, 2})) == [1, 2]
    assert uids(cache, search="nothing-like-this") == []


def test_sort_indexes_are_built_when_first_sorted_by_and_then_used(cache: HeaderCache) -> None:
    def indexes() -> set[str]:
        return {r[0] for r in cache.query("SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'message_by_%'")}

    assert indexes() == {"message_by_date"}  # a sync pays for no other index
    uids(cache, sort=SortKey.SUBJECT)
    assert indexes() == {"message_by_date", "message_by_subject"}
    plan = " ".join(str(r) for r in cache.query(
        "EXPLAIN QUERY PLAN SELECT id FROM message WHERE mailbox_id=1 ORDER BY subject COLLATE NOCASE, id"
    ))  # fmt: skip
    assert "message_by_subject" in plan
