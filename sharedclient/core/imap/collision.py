"""Before sending a reply from a shared mailbox: did a teammate answer or claim the original meanwhile?

When the composer opens we note the original's flags and MODSEQ (:func:`baseline`). Before the send,
:func:`check` asks the server what changed since (``FETCH … (CHANGEDSINCE modseq)`` where CONDSTORE is
offered, else a plain flag compare) and looks in the shared Sent folder for replies to the original
(``In-Reply-To``/``References`` = its Message-ID) that arrived after the composer opened, reading who
sent them from the trace header ``X-SharedClient-Sent-By`` the team copy carries. The result is a list of
sentences with who and when; the caller lets the person cancel or send anyway.
"""

from __future__ import annotations

import email
import email.policy
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from imapclient.exceptions import IMAPClientError

from sharedclient.core.imap.claims import holders
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.sync import _enable_extensions, examine
from sharedclient.core.mime.compose import SENT_BY_HEADER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Baseline:
    """What the original looked like when the composer opened."""

    path: str
    uid: int
    message_id: str
    flags: tuple[str, ...]
    modseq: int | None
    opened_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Collision:
    what: str  # "answered" or "claimed"
    who: str
    when: float | None
    sentence: str


def _flags(data: dict, uid: int) -> tuple[str, ...]:  # type: ignore[type-arg]
    return tuple(f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f) for f in data[uid].get(b"FLAGS", ()))


def baseline(conn: ImapConnection, path: str, uid: int) -> Baseline:
    """Read the original's flags, MODSEQ and Message-ID now (EXAMINE: changes nothing)."""
    condstore, _ = _enable_extensions(conn)
    examine(conn, path)
    items = ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"] + (["MODSEQ"] if condstore else [])
    data = conn.client.fetch([uid], items)
    if uid not in data:
        return Baseline(path, uid, "", (), None)
    raw = next((v for k, v in data[uid].items() if k.startswith(b"BODY[HEADER")), b"")
    msgid = str(email.message_from_bytes(bytes(raw)).get("Message-ID", "")).strip()
    modseq = data[uid].get(b"MODSEQ")
    value = (int(modseq[0]) if isinstance(modseq, (tuple, list)) else int(modseq)) if modseq else None
    return Baseline(path, uid, msgid, _flags(data, uid), value)


def _stamp(when: float | None) -> str:
    if when is None:
        return ""
    return " at " + datetime.fromtimestamp(when).astimezone().strftime("%H:%M on %d %b")


def _replies_in_sent(conn: ImapConnection, sent_path: str, base: Baseline, me: str) -> list[Collision]:
    """Replies to the original in the team's Sent folder since the composer opened, by someone else."""
    if not base.message_id:
        return []
    examine(conn, sent_path)
    client = conn.client
    uids = set(client.search(["HEADER", "In-Reply-To", base.message_id])) | set(
        client.search(["HEADER", "References", base.message_id])
    )
    if not uids:
        return []
    data = client.fetch(sorted(uids), ["INTERNALDATE", f"BODY.PEEK[HEADER.FIELDS ({SENT_BY_HEADER} FROM DATE)]"])
    found = []
    for uid, item in data.items():
        when_dt = item.get(b"INTERNALDATE")
        when = when_dt.timestamp() if isinstance(when_dt, datetime) else None
        if when is not None and when < base.opened_at - 1:
            continue  # it was there before the composer opened: the person could see it
        raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
        head = email.message_from_bytes(bytes(raw), policy=email.policy.default)
        who = str(head.get(SENT_BY_HEADER) or head.get("From") or "a teammate").strip()
        if who.lower() == me.lower():
            continue
        found.append(Collision("answered", who, when, f"{who} already answered this message{_stamp(when)}."))
    return found


def check(conn: ImapConnection, base: Baseline, me: str, sent_path: str | None = None) -> list[Collision]:
    """What changed since ``base`` that the person should know before sending; [] when nothing did."""
    found: list[Collision] = []
    condstore, _ = _enable_extensions(conn)
    try:
        examine(conn, base.path)
        client = conn.client
        if condstore and base.modseq is not None:
            data = client.fetch([base.uid], ["FLAGS"], modifiers=[f"CHANGEDSINCE {base.modseq}"])
        else:
            data = client.fetch([base.uid], ["FLAGS"])
        now = _flags(data, base.uid) if base.uid in data else base.flags
        my_name = me.split("@", 1)[0].lower()
        new_claims = [h for h in holders(now) if h.lower() != my_name and h not in holders(base.flags)]
        since = " after you started your reply" if base.opened_at else ""  # 0: no composer (the command line)
        for who in new_claims:
            found.append(Collision("claimed", who, None, f"{who} claimed this message{since}."))
        answered_now = "\\Answered" in now and "\\Answered" not in base.flags
        replies = _replies_in_sent(conn, sent_path, base, me) if sent_path else []
        found.extend(replies)
        if answered_now and not replies:
            found.append(Collision("answered", "", None, f"Someone marked this message as answered{since}."))
    except IMAPClientError as exc:
        log.info("collision check on %s failed: %s", base.path, exc)
    return found
