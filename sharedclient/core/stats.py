"""Per-alias statistics: messages received (from the header caches) and sent (from the history).

A shared mailbox often collects several addresses (support@, help@, promo@ into one INBOX); which ones
belong together comes from the profile's identities (address + aliases). A received message counts for
the alias it was addressed to: the cached ``Delivered-To``/``X-Original-To`` first, then To and Cc; when
the mailbox owner's own address and one of its aliases both appear (Dovecot writes the owner into
Delivered-To), the more specific alias wins. A message kept in several folders counts once (by
Message-ID); Sent, Drafts and Trash folders are not "received".

Unusual days: each bucket is compared with the 28 days before it (4 weeks for weekly buckets): it is
unusual when it differs from their mean by at least three standard deviations (at least 1, so quiet
mailboxes are not flagged for a single extra message) and by at least 3 messages, and only once a week
or more of history exists.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sharedclient.core.imap.sent_copy import SENT_NAMES
from sharedclient.core.model import Identity
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.store.profile_db import ProfileDb

_NOT_RECEIVED = {n.casefold() for n in SENT_NAMES} | {"drafts", "trash", "junk", "spam", "templates", "notes"}
_ADDR = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class Series:
    """Counts per bucket start (a date: the day, or the Monday of the week)."""

    alias: str
    received: dict[date, int] = field(default_factory=dict)
    sent: dict[date, int] = field(default_factory=dict)
    unusual: frozenset[date] = frozenset()


def alias_groups(identities: Sequence[Identity]) -> dict[str, str]:
    """alias address (lower case) -> the identity address it belongs to."""
    groups: dict[str, str] = {}
    for ident in identities:
        owner = ident.address.lower()
        for addr in (ident.address, *ident.aliases):
            groups.setdefault(addr.lower(), owner)
    return groups


def bucket(day: date, weekly: bool) -> date:
    return day - timedelta(days=day.weekday()) if weekly else day


def pick_alias(delivered_to: str, to: str, cc: str, groups: dict[str, str]) -> str | None:
    """The alias a received message counts for, or None when it was not addressed to any of them."""
    found = [a.lower() for a in _ADDR.findall(delivered_to) if a.lower() in groups]
    found += [a.lower() for a in _ADDR.findall(f"{to},{cc}") if a.lower() in groups]
    if not found:
        return None
    specific = [a for a in found if groups[a] != a]  # an alias rather than an identity's own address
    return specific[0] if specific else found[0]


def received_rows(caches: Iterable[HeaderCache], since: float) -> list[tuple[str, float, str, str, str]]:
    """(message_id, time, delivered_to, to, cc) of cached messages outside Sent/Drafts/Trash."""
    rows: list[tuple[str, float, str, str, str]] = []
    for cache in caches:
        for path, msgid, when, delivered, to, cc in cache.query(
            "SELECT b.path, m.message_id, coalesce(m.internaldate, m.date), m.delivered_to, m.to_addrs, m.cc_addrs "
            "FROM message m JOIN mailbox b ON b.id = m.mailbox_id WHERE coalesce(m.internaldate, m.date) >= ?",
            (since,),
        ):
            leaf = re.split(r"[/.]", path)[-1].casefold()
            if leaf not in _NOT_RECEIVED and when is not None:
                rows.append((msgid, float(when), delivered, to, cc))
    return rows


def compute(
    identities: Sequence[Identity],
    caches: Iterable[HeaderCache],
    history: ProfileDb | None,
    *,
    days: int = 90,
    weekly: bool = False,
    today: date | None = None,
) -> dict[str, Series]:
    """A Series per alias (plus "" for all of them together) over the last ``days`` days."""
    today = today or date.today()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first - timedelta(days=35), datetime.min.time()).timestamp()  # + the baseline
    groups = alias_groups(identities)
    received: dict[str, Counter[date]] = {a: Counter() for a in groups}
    seen: set[str] = set()
    for msgid, when, delivered, to, cc in received_rows(caches, since):
        if msgid and msgid in seen:
            continue
        alias = pick_alias(delivered, to, cc, groups)
        if alias is None:
            continue
        seen.add(msgid)
        received[alias][bucket(datetime.fromtimestamp(when).date(), weekly)] += 1
    sent: dict[str, Counter[date]] = {a: Counter() for a in groups}
    if history is not None:
        for identity, when in history.read(
            "SELECT identity, time FROM history WHERE status = 'sent' AND time >= ?", (since,)
        ):
            if identity.lower() in sent:
                sent[identity.lower()][bucket(datetime.fromtimestamp(when).date(), weekly)] += 1
    out: dict[str, Series] = {}
    total_r: Counter[date] = Counter()
    total_s: Counter[date] = Counter()
    for alias in groups:
        total_r.update(received[alias])
        total_s.update(sent[alias])
        out[alias] = _series(alias, received[alias], sent[alias], first, today, weekly)
    out[""] = _series("", total_r, total_s, first, today, weekly)
    return out


def _buckets(first: date, last: date, weekly: bool) -> list[date]:
    step = 7 if weekly else 1
    start = bucket(first, weekly)
    return [start + timedelta(days=step * i) for i in range((last - start).days // step + 1)]


def _series(alias: str, received: Counter[date], sent: Counter[date], first: date, last: date, weekly: bool) -> Series:
    keys = _buckets(first, last, weekly)
    window = 4 if weekly else 28
    step = timedelta(days=7 if weekly else 1)
    earliest = min((k for k, n in received.items() if n), default=None)
    unusual = set()
    for key in keys:
        before_keys = [key - step * (i + 1) for i in range(window)]
        known = [k for k in before_keys if earliest is not None and k >= earliest]
        if len(known) < (1 if weekly else 7):
            continue  # too little history to say what is usual
        if is_unusual(received.get(key, 0), [received.get(k, 0) for k in known]):
            unusual.add(key)
    return Series(
        alias,
        {k: received.get(k, 0) for k in keys},
        {k: sent.get(k, 0) for k in keys},
        frozenset(unusual),
    )


def is_unusual(value: int, before: Sequence[int]) -> bool:
    """Three standard deviations (at least 1) and at least 3 messages away from the mean of ``before``."""
    mean = statistics.fmean(before)
    spread = max(statistics.pstdev(before), 1.0)
    return abs(value - mean) >= 3 * spread and abs(value - mean) >= 3
