"""The sent-as history at a million rows: search latency (p95) and opening its first page.

Uses the send path's own store (``core.store.history.SendHistory`` over ``core.store.profile_db``): rows
go in through ``record_many`` (so the FTS trigger runs as it does in use), queries through ``query``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

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


def _entries(count: int, seed: int = 9) -> list[HistoryEntry]:
    rng = random.Random(seed)
    people = senders(2000, seed=seed)
    subjects = [p.subject for p in message_pool(DOMAIN, 120)]
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
        for first in range(0, rows, batch):
            history.record_many(_entries(min(batch, rows - first), seed=first))
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
