"""The sent-as history at a million rows: search latency (p95) and opening its first page.

Uses the send path's own store (``core.store.history.SendHistory`` over ``core.store.profile_db``) and its
queries (``SendHistory.query``). Building a million rows through ``record_many`` takes ~7 minutes here
(one INSERT per row, each firing the FTS trigger in its own statement), too long for ``make bench``; so the
rows (made by the store's own ``_values``) are staged in a temporary table and moved into ``history`` with
one ``INSERT ... SELECT`` per 20,000 rows. The same triggers fill the FTS index, per batch, so the index
has the many-segment shape of a history that grew over time, not the single segment of a rebuild.
"""

from __future__ import annotations

import functools
import random
import time
from pathlib import Path

from sharedclient.core.store import history as history_module
from sharedclient.core.store.history import HistoryEntry, HistoryQuery, SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from tests.benchmarks.corpus import NOW, SPAN_SECONDS, message_pool, senders
from tests.benchmarks.servers import DOMAIN

_IDENTITIES = (
    ("support", "Support", "send-as"), ("sales", "Sales", "send-as"), ("billing", "Billing", "on-behalf"),
    ("help", "Help Desk", "send-as"), ("alice", "Alice Adams", "own"), ("bob", "Bob Brown", "own"),
    ("carol", "Carol Chen", "own"), ("returns", "Returns", "on-behalf"),
)  # fmt: skip
_USERS = ("alice", "bob", "carol", "dave", "erin")


@functools.lru_cache(maxsize=1)
def _subjects() -> tuple[str, ...]:
    return tuple(p.subject for p in message_pool(DOMAIN, 120))


def _entries(count: int, seed: int = 9) -> list[HistoryEntry]:
    rng = random.Random(seed)
    people = senders(2000, seed=seed)
    subjects = _subjects()
    start = NOW.timestamp() - SPAN_SECONDS * 1.5
    step = SPAN_SECONDS * 1.5 / max(count, 1)
    out = []
    for i in range(count):
        local, display, mode = _IDENTITIES[rng.randrange(len(_IDENTITIES))]
        user = rng.choice(_USERS)
        address = f"{local}@{DOMAIN}"
        to = [people[rng.randrange(len(people))] for _ in range(1 + (rng.random() < 0.2))]
        on_behalf = mode == "on-behalf"
        status = "sent" if rng.random() < 0.97 else rng.choice(("failed", "retrying", "uncertain"))
        out.append(HistoryEntry(
            id=0, time=start + i * step, profile="default", account=user, identity=address, mode=mode, user=user,
            envelope_from=f"{user}@{DOMAIN}" if on_behalf else address,
            from_header=f"{display} <{address}>", sender_header=f"{user.title()} <{user}@{DOMAIN}>" if on_behalf else "",
            recipients=tuple(f"{name} <{addr}>" for name, addr, _ in to),
            subject=("Re: " if rng.random() < 0.7 else "") + rng.choice(subjects),
            message_id=f"<{i:08x}.{rng.getrandbits(40):010x}@{DOMAIN}>", size=900 + rng.randrange(40_000),
            smtp_reply="250 2.0.0 Ok: queued as %08X" % rng.getrandbits(32) if status == "sent" else "",
            status=status, copy_mailbox=f"shared/{address}/Sent" if mode != "own" else "Sent", outbox_id=None,
        ))  # fmt: skip
    return out


def build_history(directory: Path, rows: int, batch: int = 20_000) -> tuple[Path, float]:
    """A profile database with ``rows`` history rows; returns (path, seconds)."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    db = ProfileDb.for_data_dir(directory)
    try:
        history = SendHistory(db)
        insert = getattr(history_module, "_INSERT", "")
        columns = insert[insert.find("(") + 1 : insert.find(")")] if insert.startswith("INSERT INTO history(") else ""
        values = getattr(SendHistory, "_values", None)
        if not columns or values is None:  # the store changed: the slow, public way
            for first in range(0, rows, batch):
                history.record_many(_entries(min(batch, rows - first), seed=first))
        else:
            marks = ",".join("?" * len(columns.split(",")))
            with db.transaction() as conn:
                conn.execute(f"CREATE TEMP TABLE stage AS SELECT {columns} FROM history WHERE 0")
            for first in range(0, rows, batch):
                staged = [values(e) for e in _entries(min(batch, rows - first), seed=first)]
                with db.transaction() as conn:
                    conn.executemany(f"INSERT INTO temp.stage({columns}) VALUES ({marks})", staged)
                    conn.execute(f"INSERT INTO history({columns}) SELECT {columns} FROM temp.stage")
                    conn.execute("DELETE FROM temp.stage")
        count = history.count()
        if count != rows:
            raise RuntimeError(f"the history holds {count} rows, expected {rows}")
    finally:
        db.close()
    return Path(db.path), time.perf_counter() - started


def _search_texts(count: int) -> list[str]:
    rng = random.Random(21)
    people = senders(2000, seed=0)
    words = ("refund", "invoice", "order", "password", "Rückerstattung", "damaged", "subscription", "export")
    texts = []
    for i in range(count):
        kind = i % 5
        name, addr, _ = people[rng.randrange(len(people))]
        if kind == 0:
            texts.append(name.split()[-1])  # a customer's surname
        elif kind == 1:
            texts.append(addr.split("@")[0])  # part of an address
        elif kind == 2:
            texts.append(rng.choice(words))  # a subject word (many hits)
        elif kind == 3:
            texts.append(f"{rng.choice(words)} {name.split()[0]}")  # two words
        else:
            texts.append(rng.choice(("sales", "billing", "returns")))  # an identity
    return texts


def history_searches(path: Path, count: int) -> list[float]:
    """Latency of ``count`` full-text searches, each returning the first page (100 rows), newest first."""
    db = ProfileDb(path)
    try:
        history = SendHistory(db)
        history.query(HistoryQuery())  # the history window is open: the first page was shown already
        times = []
        for text in _search_texts(count):
            started = time.perf_counter()
            history.query(HistoryQuery(text=text))
            times.append(time.perf_counter() - started)
        return times
    finally:
        db.close()


def history_open(path: Path, runs: int) -> list[float]:
    """Opening the history: open the database, read the first page (newest first)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        db = ProfileDb(path)
        page = SendHistory(db).query(HistoryQuery())
        times.append(time.perf_counter() - started)
        db.close()
        if not page:
            raise RuntimeError("the history's first page is empty")
    return times
