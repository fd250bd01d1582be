"""Finding delivery reports and read receipts in a mailbox during sync.

Reports go to the envelope sender: the person's own INBOX, or for Send As the shared INBOX. The scan asks
the server (``SEARCH HEADER Content-Type "report"``) only among UIDs above the last one scanned, so a
resync of an unchanged mailbox costs one SEARCH, and fetches just the matching messages (BODY.PEEK: the
report stays unread for the team).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from imapclient.exceptions import IMAPClientError

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.sync import examine
from sharedclient.core.tracking.matcher import DeliveryTracker
from sharedclient.core.tracking.reports import Report, parse_report

log = logging.getLogger(__name__)
MAX_PER_SCAN = 500  # reports fetched per scan; the rest follow on the next sync


@dataclass(frozen=True)
class ScanResult:
    mailbox: str
    examined: int
    matched: tuple[tuple[int, Report], ...]  # (history id, report)
    unmatched: int


def scan_reports(conn: ImapConnection, account: str, path: str, tracker: DeliveryTracker) -> ScanResult:
    """Record every new report in ``path``; returns what was found (errors of single messages are logged)."""
    info = examine(conn, path)
    uidvalidity = int(info.get(b"UIDVALIDITY", 0))  # type: ignore[call-overload]
    after = tracker.scanned_up_to(account, path, uidvalidity)
    if not int(info.get(b"EXISTS", 0)):  # type: ignore[call-overload]
        return ScanResult(path, 0, (), 0)
    client = conn.client
    try:
        uids = sorted(u for u in client.search(["UID", f"{after + 1}:*", "HEADER", "Content-Type", "report"]) if u > after)
        newest = max(client.search(["UID", f"{after + 1}:*"]) or [after])
    except IMAPClientError as exc:
        log.info("report search in %s failed: %s", path, exc)
        return ScanResult(path, 0, (), 0)
    uids = uids[:MAX_PER_SCAN]
    if len(uids) == MAX_PER_SCAN:
        newest = uids[-1]
    matched: list[tuple[int, Report]] = []
    unmatched = 0
    for start in range(0, len(uids), 50):
        chunk = uids[start : start + 50]
        data = client.fetch(chunk, [b"BODY.PEEK[]"])
        for uid in chunk:
            raw = data.get(uid, {}).get(b"BODY[]")
            report = parse_report(bytes(raw)) if raw else None
            if report is None:
                continue
            history_id = tracker.record(report)
            if history_id is None:
                unmatched += 1
            else:
                matched.append((history_id, report))
    tracker.set_scanned(account, path, uidvalidity, newest)
    return ScanResult(path, len(uids), tuple(matched), unmatched)


def is_report_mailbox(path: str) -> bool:
    """Reports land in INBOXes (own or shared); other folders are not scanned during sync."""
    return path.upper() == "INBOX" or path.upper().endswith("/INBOX") or path.upper().endswith(".INBOX")


def sync_hook(tracker: DeliveryTracker) -> Callable[[ImapConnection, str, str], None]:
    """An ``AccountSession.after_sync`` that scans INBOXes for reports; trouble is logged, never raised."""

    def after_sync(conn: ImapConnection, account: str, path: str) -> None:
        if not is_report_mailbox(path):
            return
        try:
            found = scan_reports(conn, account, path, tracker)
            if found.matched:
                log.info("%s: %d delivery report(s) recorded", path, len(found.matched))
        except Exception:  # noqa: BLE001 - tracking must never break the sync that the person asked for
            log.warning("scanning %s for delivery reports failed", path, exc_info=True)

    return after_sync
