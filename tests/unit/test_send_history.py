"""The sent-as history: filters, full-text search, sorting, paging, CSV, and that queries use indexes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from sharedclient.core.errors import UsageError
from sharedclient.core.store.history import JSON_KEYS, HistoryEntry, HistoryQuery, SendHistory, fts_query, parse_since
from sharedclient.core.store.profile_db import ProfileDb

T0 = 1_717_400_000.0  # 2024-06-03


def entry(n: int, identity: str = "support@example.test", mode: str = "send-as", status: str = "sent",
          subject: str = "Order shipped", to: tuple[str, ...] = ("carol@example.test",)) -> HistoryEntry:
    return HistoryEntry(
        id=0, time=T0 + n * 60, profile="default", account="work", identity=identity, mode=mode,
        user="alice@example.test", envelope_from=identity, from_header=f"Support <{identity}>", sender_header="",
        recipients=to, subject=subject, message_id=f"<{n}@example.test>", size=100 + n, smtp_reply="250 ok",
        status=status, copy_mailbox="shared/support@example.test/Sent", outbox_id=None,
    )  # fmt: skip


@pytest.fixture
def history(tmp_path: Path) -> Iterator[SendHistory]:
    with ProfileDb.for_data_dir(tmp_path) as db:
        h = SendHistory(db)
        h.record_many(
            [
                entry(0, subject="Rückerstattung für Bestellung 8812", to=("sophie@boutique.test",)),
                entry(1, identity="sales@example.test", subject="Quote for 200 units"),
                entry(2, mode="on-behalf", status="failed"),
                entry(3, identity="alice@example.test", mode="own", subject="Lunch"),
                entry(4, subject="Invoice 2024-0117", to=("dana@customer.test", "tom.becker@customer.test")),
            ]
        )
        yield h


def ids(entries: list[HistoryEntry]) -> list[int]:
    return [e.id for e in entries]


def test_newest_first_by_default_and_filters(history: SendHistory) -> None:
    assert ids(history.query()) == [5, 4, 3, 2, 1]
    assert ids(history.query(HistoryQuery(identity="SUPPORT@example.test"))) == [5, 3, 1]
    assert ids(history.query(HistoryQuery(mode="on-behalf"))) == [3]
    assert ids(history.query(HistoryQuery(status="failed"))) == [3]
    assert ids(history.query(HistoryQuery(since=T0 + 60, until=T0 + 240))) == [4, 3, 2]
    assert history.count(HistoryQuery(identity="support@example.test")) == 3


def test_full_text_search_prefixes_diacritics_and_addresses(history: SendHistory) -> None:
    assert ids(history.query(HistoryQuery(text="ruckerstatt"))) == [1]  # no umlaut, word prefix
    assert ids(history.query(HistoryQuery(text="tom.becker@customer"))) == [5]
    assert ids(history.query(HistoryQuery(text="quote units"))) == [2]
    assert ids(history.query(HistoryQuery(text='") OR "x'))) == []  # user text is never FTS syntax
    assert ids(history.query(HistoryQuery(text="invoice", identity="sales@example.test"))) == []
    assert history.count(HistoryQuery(text="example")) == 5
    assert fts_query("  ") is None


def test_sorting_and_paging(history: SendHistory) -> None:
    by_subject = history.query(HistoryQuery(sort="subject", descending=False))
    assert [e.subject for e in by_subject][:2] == ["Invoice 2024-0117", "Lunch"]
    page = history.query(HistoryQuery(limit=2, offset=2))
    assert ids(page) == [3, 2]
    assert ids(history.query(HistoryQuery(sort="size", descending=False, limit=1))) == [1]
    with pytest.raises(UsageError, match="Cannot sort"):
        history.query(HistoryQuery(sort="password"))


def test_json_and_csv_export(history: SendHistory) -> None:
    first = history.query(HistoryQuery(limit=1))[0].to_json()
    assert tuple(first) == JSON_KEYS
    assert first["recipients"] == ["dana@customer.test", "tom.becker@customer.test"]
    assert first["time"] == "2024-06-03T07:37:20+00:00"
    out = io.StringIO()
    assert history.export_csv(HistoryQuery(limit=0), out, page=2) == 5
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(JSON_KEYS) and len(rows) == 6
    assert rows[1][JSON_KEYS.index("recipients")] == "dana@customer.test, tom.becker@customer.test"


def test_finish_and_copy_mailbox(history: SendHistory) -> None:
    history.finish(1, "retrying", "451 4.3.0 later")
    history.set_copy_mailbox(1, "Sent")
    got = history.get(1)
    assert got is not None and (got.status, got.smtp_reply, got.copy_mailbox) == ("retrying", "451 4.3.0 later", "Sent")


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (HistoryQuery(identity="support@example.test"), "history_identity"),
        (HistoryQuery(status="failed"), "history_status"),
        (HistoryQuery(mode="own"), "history_mode"),
        (HistoryQuery(sort="subject"), "history_subject"),
    ],
)
def test_common_queries_use_an_index_and_no_sort(history: SendHistory, query: HistoryQuery, index: str) -> None:
    """Guards the million-row speed: a full scan or a temp B-tree here would be seconds, not milliseconds."""
    sql, params = history._sql(query)  # noqa: SLF001
    plan = " ".join(str(tuple(r)) for r in history.db.read("EXPLAIN QUERY PLAN " + sql, params))
    assert index in plan and "TEMP B-TREE" not in plan


def test_text_search_walks_the_fts_index_without_sorting(history: SendHistory) -> None:
    sql, params = history._sql(HistoryQuery(text="order"))  # noqa: SLF001
    plan = " ".join(str(tuple(r)) for r in history.db.read("EXPLAIN QUERY PLAN " + sql, params))
    assert "VIRTUAL TABLE INDEX" in plan and "TEMP B-TREE" not in plan


def test_parse_since() -> None:
    assert parse_since("2024-06-03") == datetime(2024, 6, 3).timestamp()
    assert parse_since("2024-06-03T10:00+00:00") == 1717408800.0
    with pytest.raises(UsageError, match="not a date"):
        parse_since("yesterday")


def test_a_database_from_schema_1_is_upgraded(tmp_path: Path) -> None:
    """Migrations are append-only: a profile created by the first schema gets the (column, time) indexes."""
    from sharedclient.core.store.db import open_database
    from sharedclient.core.store.profile_db import MIGRATIONS

    open_database(tmp_path / "outbox.sqlite", MIGRATIONS[:1]).close()
    with ProfileDb.for_data_dir(tmp_path) as db:
        assert db.read("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        columns = [r["name"] for r in db.read("PRAGMA index_info(history_identity)")]
    assert columns == ["identity", "time"]
