"""Archiving a mailbox (or a search result) as an mbox file or a folder of ``.eml`` files.

Messages are fetched in UID chunks with BODY.PEEK (exporting marks nothing as read) and written as the
server holds them, byte for byte: an archive must be a faithful copy. mbox uses the stdlib ``mailbox``
module (LF line ends, body lines starting with "From " quoted as ">From ", one "From " line per message with
the envelope sender and INTERNALDATE, the flags in Status/X-Status); ``.eml`` files are named ``<uid> <subject>.eml`` with a filename that is safe on every
system. The target must not exist yet (an mbox) or be empty (a folder): nothing is overwritten.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sharedclient.core.errors import UsageError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.sync import examine
from sharedclient.core.mime.filenames import safe_filename, unique_path

CHUNK = 100
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportResult:
    target: Path
    count: int
    fmt: str  # "mbox" or "eml"


def check_target(target: Path, fmt: str) -> None:
    """Refuse to overwrite: an mbox must not exist, an eml folder must be new or empty."""
    if fmt not in ("mbox", "eml"):
        raise UsageError(f"Unknown export format “{fmt}” (choose mbox or eml).")
    if fmt == "mbox" and target.exists():
        raise UsageError(f"{target} already exists; choose a new file name (nothing was overwritten).")
    if fmt == "eml" and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} is not an empty folder; choose a new or empty one (nothing was overwritten).")


def _from_line_sender(raw: bytes) -> str:
    head = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0], policy=email.policy.compat32)
    value = str(head.get("Return-Path") or head.get("From") or "MAILER-DAEMON")
    addr = email.utils.parseaddr(value)[1]
    return addr or "MAILER-DAEMON"


def _subject(raw: bytes) -> str:
    try:
        head = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0], policy=email.policy.default)
        return str(head.get("Subject") or "")
    except Exception:  # noqa: BLE001 - a broken header only costs the nicer file name
        return ""


def _mbox_entry(raw: bytes, when: object, flags: Sequence[bytes | str]) -> bytes:
    """The message as bytes with its "From " line and Status/X-Status headers in front.

    Bytes, not a ``mailbox.mboxMessage``: handing the module a parsed message makes it re-serialise the
    MIME structure (delivery reports came out different), while bytes are written as they are, with only
    the mbox "From " quoting and LF line ends.
    """
    stamp = when.timestamp() if isinstance(when, datetime) else time.time()
    names = {f.decode() if isinstance(f, bytes) else str(f) for f in flags}
    status = ("R" if "\\Seen" in names else "") + "O"
    x_status = ("A" if "\\Answered" in names else "") + ("F" if "\\Flagged" in names else "")
    head = f"From {_from_line_sender(raw)} {time.asctime(time.gmtime(stamp))}\nStatus: {status}\n"
    if x_status:
        head += f"X-Status: {x_status}\n"
    return head.encode("ascii", "replace") + raw.replace(b"\r\n", b"\n")


def export_messages(
    conn: ImapConnection,
    path: str,
    uids: Sequence[int] | None,
    target: Path,
    fmt: str,
    *,
    progress: Progress | None = None,
) -> ExportResult:
    """Write ``uids`` (None: the whole mailbox) of ``path`` to ``target`` as ``fmt`` ("mbox" or "eml")."""
    check_target(target, fmt)
    examine(conn, path)
    client = conn.client
    wanted = sorted(set(uids)) if uids is not None else sorted(client.search(["ALL"]))
    box: mailbox.mbox | None = None
    if fmt == "mbox":
        target.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.mbox(str(target), create=True)
        box.lock()
    else:
        target.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            data = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
            for uid in chunk:
                item = data.get(uid)
                if item is None or b"BODY[]" not in item:
                    continue  # expunged meanwhile
                raw = bytes(item[b"BODY[]"])
                when = item.get(b"INTERNALDATE")
                if box is not None:
                    box.add(_mbox_entry(raw, when, item.get(b"FLAGS", ())))
                else:
                    name = safe_filename(f"{uid:06d} {_subject(raw)}".strip()[:120], fallback=f"{uid:06d}") + ".eml"
                    unique_path(target, name).write_bytes(raw)
                written += 1
            if progress is not None:
                progress(written, len(wanted))
    finally:
        if box is not None:
            box.flush()
            box.unlock()
            box.close()
    return ExportResult(target, written, fmt)
