"""Queries behind the message list: ordering and filtering done by SQLite, rows read page by page.

A listing is the ordered list of row ids for (mailbox, sort, search) — 100k integers take a few tens of
milliseconds — and rows are then read by id, a page at a time, as the view scrolls to them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum

from sharedclient.core.store.cache import HeaderCache


class SortKey(str, Enum):
    DATE = "date"
    SENDER = "sender"
    SUBJECT = "subject"
    SIZE = "size"


_INDEX = {SortKey.SENDER: "message_by_from", SortKey.SUBJECT: "message_by_subject", SortKey.SIZE: "message_by_size"}
_ORDER = {
    SortKey.DATE: "date {d}, id {d}",
    SortKey.SENDER: "from_name COLLATE NOCASE {d}, from_addr {d}, id {d}",
    SortKey.SUBJECT: "subject COLLATE NOCASE {d}, id {d}",
    SortKey.SIZE: "size {d}, id {d}",
}


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    uid: int
    flags: tuple[str, ...]
    date: float | None
    from_name: str
    from_addr: str
    sender: str
    to: str
    cc: str
    subject: str
    size: int
    has_attachment: bool
    message_id: str

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(f for f in self.flags if not f.startswith("\\"))

    @property
    def from_display(self) -> str:
        return self.from_name or self.from_addr


_COLUMNS = "id, uid, flags, date, from_name, from_addr, sender, to_addrs, cc_addrs, subject, size, has_attachment, message_id"


def fts_query(text: str) -> str:
    """User text -> an FTS5 query of prefix terms, all of which must match. Never raises on syntax."""
    terms = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join(f'"{t}"*' for t in terms)


def listing_ids(
    cache: HeaderCache,
    mailbox_id: int,
    sort: SortKey = SortKey.DATE,
    descending: bool = True,
    search: str = "",
    uids: frozenset[int] | None = None,
) -> list[int]:
    """Row ids in display order; ``search`` filters by FTS, ``uids`` to a server search's result."""
    ids = _ordered_ids(cache, mailbox_id, sort, descending, search, uids is not None)
    if uids is None:
        return ids  # type: ignore[return-value]
    return [row_id for row_id, uid in ids if uid in uids]  # type: ignore[misc]


def _ordered_ids(
    cache: HeaderCache, mailbox_id: int, sort: SortKey, descending: bool, search: str, with_uid: bool
) -> list:
    order = _ORDER[sort].format(d="DESC" if descending else "ASC")
    if sort in _INDEX:
        cache.ensure_index(_INDEX[sort])
    query = fts_query(search)
    columns = "id, uid" if with_uid else "id"
    if query:
        sql = (
            f"SELECT {columns} FROM message WHERE mailbox_id=? AND id IN "
            f"(SELECT rowid FROM message_fts WHERE message_fts MATCH ?) ORDER BY {order}"
        )
        params: tuple[object, ...] = (mailbox_id, query)
    else:
        sql, params = f"SELECT {columns} FROM message WHERE mailbox_id=? ORDER BY {order}", (mailbox_id,)
    if with_uid:
        return [tuple(r) for r in cache.query(sql, params)]
    # One JSON text instead of a Python row per message: 3x faster for 100k ids, and SQLite builds it
    # without holding the GIL, which the GUI thread needs meanwhile. The aggregate reads the ordered
    # subquery in order (SQLite never flattens an ORDER BY subquery into an aggregate).
    return json.loads(cache.query(f"SELECT json_group_array(id) FROM ({sql})", params)[0][0])


def rows_by_id(cache: HeaderCache, ids: list[int]) -> dict[int, MessageRow]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    result = {}
    for r in cache.query(f"SELECT {_COLUMNS} FROM message WHERE id IN ({marks})", ids):
        result[r[0]] = MessageRow(
            r[0], r[1], tuple(r[2].split()), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], bool(r[11]), r[12]
        )
    return result
