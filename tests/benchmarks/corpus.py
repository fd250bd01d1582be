"""Benchmark mail: a pool of realistic messages, varied cheaply into tens of thousands.

``demo_messages`` (the demo's generator) writes ~500 messages/s: too slow for 50,000. So a pool of a few
hundred is generated once and every benchmark message is a pool message with its own From, Date and
Message-ID (plus the Return-Path/Delivered-To an LMTP delivery adds). The mix is the demo's: encoded-word
names and subjects in several scripts, ~30% multipart/alternative with HTML, ~25% small attachments,
threads (In-Reply-To/References), Cc's and alias deliveries.

The messages are written straight into the owner's maildir ``cur/`` (with flags in the file name and the
INTERNALDATE as mtime, owned by Dovecot's mail user); a ``doveadm force-resync`` then indexes them. That
is ~50x faster than LMTP and produces the same mailbox.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.utils import formataddr
from pathlib import Path

from sharedclient.core.imap.headers import HeaderSummary
from sharedclient.core.store.cache import FetchedMessage
from sharedclient.devservers.seed import demo_messages

#: A fixed "now" keeps every run's corpus byte-identical.
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
SPAN_SECONDS = 2 * 365 * 86400  # the mailbox holds two years of mail

_FIRST = (
    "Anna", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ingrid", "José", "Kofi", "Lena",
    "Mateo", "Nadia", "Olaf", "Priya", "Quentin", "Rosa", "Søren", "Tomasz", "Uma", "Viktor", "Wen", "Yara",
    "Zoë", "Łukasz", "Ayşe", "Björn", "Дарья", "Иван", "李", "王芳", "Νίκος", "محمد", "Nguyễn",
)
_LAST = (
    "Müller", "Smith", "García", "Kowalski", "O'Brien", "Novák", "Tanaka", "Johansson", "Rossi", "Dubois",
    "Ivanova", "Chen", "Okafor", "Papadopoulos", "Haddad", "Fernández", "Nowak", "Larsen", "Kim", "Silva",
)
_DOMAINS = ("example.com", "example.org", "example.net", "customer.test", "shop.test", "brightlane.test")
_TZ = (0, 60, 120, -300, -480, 330, 480, 540, 180, -180)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DROP = (b"from:", b"date:", b"message-id:", b"subject:")
_NUMBER = re.compile(rb"(?<![=0-9A-Za-z])[0-9]{4,5}(?![0-9])")


@dataclass(frozen=True)
class PoolMessage:
    rest_headers: bytes  # header block without From/Date/Message-ID/Subject, LF line ends, ends with b"\n"
    body: bytes  # everything after the blank line (LF line ends)
    subject: str  # decoded, for synthetic cache rows
    subject_parts: tuple[bytes, ...]  # the raw Subject line split around its numbers (order #, invoice)


def _strip_fields(header_block: bytes) -> bytes:
    """Drop From/Date/Message-ID (with folded continuation lines) from an LF header block."""
    out: list[bytes] = []
    dropping = False
    for line in header_block.split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                out.append(line)
            continue
        dropping = line.lower().startswith(_DROP)
        if not dropping:
            out.append(line)
    return b"\n".join(out) + b"\n"


def _subject_line(header_block: bytes) -> bytes:
    """The raw (still encoded) Subject field, unfolded, with its trailing LF."""
    lines = header_block.split(b"\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(b"subject:"):
            out = [line]
            for more in lines[i + 1 :]:
                if more[:1] not in (b" ", b"\t"):
                    break
                out.append(more)
            return b"\n".join(out) + b"\n"
    return b""


def _subject(header_block: bytes) -> str:
    text = header_block.decode("ascii", "replace").replace("\n ", " ")
    for line in text.split("\n"):
        if line.lower().startswith("subject:"):
            try:
                return str(make_header(decode_header(line[8:].strip())))
            except Exception:  # noqa: BLE001 - a display string only
                return line[8:].strip()
    return ""


def message_pool(domain: str, size: int = 300) -> list[PoolMessage]:
    """``size`` demo messages (support mail from two seeds), split for cheap variation."""
    half = max(1, size // 2)
    raw = demo_messages(domain, "support", half, seed=11, now=NOW) + demo_messages(
        domain, "support", size - half, seed=12, now=NOW
    )
    pool = []
    for message in raw:
        lf = message.replace(b"\r\n", b"\n")
        head, _, body = lf.partition(b"\n\n")
        # Order and invoice numbers differ from message to message, as in a real support mailbox.
        parts = tuple(_NUMBER.split(_subject_line(head)))
        pool.append(PoolMessage(_strip_fields(head), body, _subject(head), parts))
    return pool


def senders(count: int = 600, seed: int = 7) -> list[tuple[str, str, bytes]]:
    """(display name, address, encoded From value) triples; non-ASCII names as RFC 2047 words."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        name = f"{last}, {first}" if i % 9 == 0 else f"{first} {last}"
        local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch == "."))
        addr = f"{local.strip('.') or 'user'}{i}@{rng.choice(_DOMAINS)}"
        out.append((name, addr, formataddr((name, addr), "utf-8").encode("ascii")))
    return out


def _rfc5322_date(ts: float, offset_min: int) -> bytes:
    t = time.gmtime(ts + offset_min * 60)
    sign = "+" if offset_min >= 0 else "-"
    hh, mm = divmod(abs(offset_min), 60)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hh:02d}{mm:02d}"
    ).encode()


@dataclass(frozen=True)
class BenchMessage:
    data: bytes  # LF line ends, as Dovecot stores delivered mail
    internaldate: float
    flags: str  # maildir info letters, ASCII order (F flagged, R replied, S seen)


def bench_messages(count: int, domain: str, owner: str, pool: list[PoolMessage], seed: int = 1) -> Iterator[BenchMessage]:
    """``count`` messages, oldest first, spread over two years before NOW; most older ones \\Seen.

    One sender for every four messages (customers write a few times each), subjects with their own
    order/invoice numbers: caches keyed on header values get no unrealistic hit rate.
    """
    rng = random.Random(seed)
    people = senders(max(600, count // 4))
    end = NOW.timestamp()
    start = end - SPAN_SECONDS
    step = SPAN_SECONDS / max(count, 1)
    delivered = f"Delivered-To: {owner}\n".encode()
    for i in range(count):
        sent = start + i * step + rng.random() * step * 0.5
        name, addr, from_value = people[rng.randrange(len(people))]
        pm = pool[rng.randrange(len(pool))]
        head = b"".join((
            b"Return-Path: <", addr.encode(), b">\n",
            delivered,
            b"From: ", from_value, b"\n",
            b"Date: ", _rfc5322_date(sent, rng.choice(_TZ)), b"\n",
            b"Message-ID: <bench.%d.%08x@%s>\n" % (i, rng.getrandbits(32), addr.rsplit("@", 1)[1].encode()),
            b"".join(_vary(pm.subject_parts, rng)),
            pm.rest_headers,
        ))
        age = (count - i) / max(count, 1)
        flags = ""
        if rng.random() < 0.03:
            flags += "F"
        if age > 0.02 and rng.random() < 0.25:
            flags += "R"
        if age > 0.02 and rng.random() < 0.92:
            flags += "S"
        yield BenchMessage(head + b"\n" + pm.body, sent + 5 + rng.random() * 60, flags)


def _vary(parts: tuple[bytes, ...], rng: random.Random) -> Iterator[bytes]:
    yield parts[0]
    for part in parts[1:]:
        yield str(rng.randrange(10000, 99999)).encode()
        yield part


def write_maildir(directory: Path, messages: Iterator[BenchMessage], uid: int, gid: int) -> tuple[int, int]:
    """Write messages into ``directory``/cur as ``uid:gid``; returns (count, bytes).

    File names start with the delivery time, zero-padded, so Dovecot assigns UIDs in date order; ``S=``
    and ``W=`` (size with LF and with CRLF line ends) spare it a stat and a read.
    """
    cur = directory / "cur"
    for sub in ("cur", "new", "tmp"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        os.chown(directory / sub, uid, gid)
    chown = os.geteuid() == 0
    n = total = 0
    for n, m in enumerate(messages, start=1):
        size = len(m.data)
        vsize = size + m.data.count(b"\n")
        name = f"{int(m.internaldate):011d}.M{n:06d}P0.bench,S={size},W={vsize}:2,{m.flags}"
        path = cur / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, m.data)
            if chown:
                os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
        os.utime(path, (m.internaldate, m.internaldate))
        total += size
    return n, total


def synthetic_rows(count: int, pool: list[PoolMessage], seed: int = 3, first_uid: int = 1) -> list[FetchedMessage]:
    """Cache rows as a sync of ``count`` realistic messages would store them (no server needed)."""
    rng = random.Random(seed)
    people = senders()
    subjects = [p.subject for p in pool]
    end = NOW.timestamp()
    step = SPAN_SECONDS / max(count, 1)
    start = end - SPAN_SECONDS
    rows = []
    for i in range(count):
        name, addr, _ = people[rng.randrange(len(people))]
        when = start + i * step
        seen = rng.random() < 0.9
        flags = ("\\Seen",) if seen else ()
        if rng.random() < 0.03:
            flags += ("\\Flagged",)
        summary = HeaderSummary(
            date=when,
            from_name=name,
            from_addr=addr,
            sender="",
            to="Support <support@example.test>",
            cc="",
            reply_to="",
            subject=rng.choice(subjects),
            message_id=f"<synthetic.{seed}.{i}@{addr.rsplit('@', 1)[1]}>",
            in_reply_to="",
            references="",
            delivered_to="support@example.test",
            has_attachment=rng.random() < 0.25,
        )
        rows.append(FetchedMessage(first_uid + i, flags, when + 30, 1500 + rng.randrange(60_000), i + 1, summary))
    return rows
