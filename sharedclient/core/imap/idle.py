"""Watching one mailbox with IDLE (RFC 2177) on a connection of its own, so new mail shows without polling.

The account worker's connection is busy with jobs (and SELECT is per connection), so each watched
mailbox gets its own connection and thread. The watcher only says *that* something changed; the GUI
answers by scheduling a sync, which knows how to fetch exactly what changed.

Why not ``IMAPClient.idle_check``: it switches the socket to non-blocking mode and reads lines with
imaplib's ``readline``, so a response split across TCP segments (or TLS records) comes back cut in
two: "unterminated line" aborts, or the tail parsed as a response of its own and rejected as a protocol
violation (imapclient issues 519 and 464). Here the socket stays blocking: we only *wait* for
readability (checking the buffered reader first, which select() cannot see), then read whole responses
with the normal read timeout, so a split response simply waits for its second half. If the stream still
gets out of step (garbage from a proxy, a server bug), the watcher ends IDLE, starts it again and reports
a change so the GUI resyncs: nothing is missed, nothing crashes.
"""

from __future__ import annotations

import imaplib
import logging
import re
import selectors
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from sharedclient.core.errors import (
    NetworkError,
    ProtocolError,
    SharedClientError,
    StartTlsUnavailableError,
    TlsError,
)
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.sync import examine

log = logging.getLogger(__name__)

#: Servers may log out a client idle for 30 minutes (RFC 2177 asks clients to re-issue IDLE at least
#: every 29); renewing at 25 leaves room for clock drift and slow links.
RENEW_AFTER = 25 * 60.0
#: Seconds to wait before reconnect attempt 1, 2, 3, ... (the last one repeats).
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
#: Without the IDLE capability, how often to ask with NOOP.
POLL_INTERVAL = 60.0

_CHANGE = re.compile(rb"^\* (?:\d+ (EXISTS|EXPUNGE|FETCH)|(VANISHED))\b", re.IGNORECASE)
_BYE = re.compile(rb"^\* BYE\b", re.IGNORECASE)


class WatchState(str, Enum):
    CONNECTING = "connecting"
    WATCHING = "watching"
    OFFLINE = "offline"  # lost; retrying after a pause (the detail says when)
    FAILED = "failed"  # gave up: login refused, TLS problem, or the mailbox is no longer accessible
    STOPPED = "stopped"


@dataclass(frozen=True)
class MailboxChange:
    """Something changed in ``path``; ``reasons`` ⊆ {exists, expunge, fetch, vanished, reconnected, resync}.

    "reconnected": the connection was lost and is back, so changes may have been missed.
    "resync": the response stream got out of step and was reset; sync to be safe.
    """

    path: str
    reasons: frozenset[str]


ChangeListener = Callable[[MailboxChange], None]
WatchStateListener = Callable[[WatchState, str], None]


class _ConnectionLost(Exception):
    """The server said BYE or the socket closed."""


class _OutOfStep(Exception):
    """A response we could not make sense of; the IDLE is reset."""


class MailboxWatcher:
    """IDLE on one mailbox in a thread of its own; callbacks run on that thread (marshal them in the GUI).

    ``connect`` opens a fresh logged-in connection (the same factory the account worker uses).
    ``renew_after`` and ``backoff`` are injectable so tests can run renewals and reconnects in seconds.
    """

    def __init__(
        self,
        connect: Callable[[], ImapConnection],
        path: str,
        on_change: ChangeListener,
        *,
        on_state: WatchStateListener | None = None,
        renew_after: float = RENEW_AFTER,
        backoff: Sequence[float] = BACKOFF,
        poll_interval: float = POLL_INTERVAL,
        name: str = "",
    ) -> None:
        self.path = path
        self._connect = connect
        self._on_change = on_change
        self._on_state = on_state or (lambda state, detail: None)
        self.renew_after = renew_after
        self._backoff = tuple(backoff) or (1.0,)
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conn: ImapConnection | None = None
        self.state = WatchState.STOPPED
        self.detail = ""
        #: Counters for the status bar and for tests.
        self.connects = self.renewals = self.recoveries = self.notifications = 0
        self._thread = threading.Thread(target=self._run, name=f"idle-{name}:{path}", daemon=True)

    # -- control (any thread) ------------------------------------------------------------------------

    def start(self) -> MailboxWatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the watch: wake the blocked read by shutting the socket down, then join the thread."""
        with self._lock:
            self._stopping.set()
            conn = self._conn
        if conn is not None:
            conn.interrupt()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- the watcher thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        seen_online = False
        while not self._stopping.is_set():
            conn: ImapConnection | None = None
            try:
                self._set_state(WatchState.CONNECTING)
                conn = self._connect()
                if not self._adopt(conn):
                    break
                examine(conn, self.path)
                self.connects += 1
                failures = 0
                self._set_state(WatchState.WATCHING)
                if seen_online:
                    self._notify({"reconnected"})  # whatever happened while we were away
                seen_online = True
                if conn.client.has_capability("IDLE"):
                    self._idle(conn)
                else:
                    self._poll(conn)
                continue
            except SharedClientError as exc:
                if _permanent(exc):
                    # Wrong password, untrusted certificate, mailbox gone or unreadable: retrying would
                    # not help (and repeated bad logins can lock the account). The GUI decides.
                    if not self._stopping.is_set():
                        self._set_state(WatchState.FAILED, exc.user_message)
                    return
                detail = exc.user_message
            except (_ConnectionLost, OSError, EOFError, imaplib.IMAP4.error) as exc:
                detail = f"The connection watching “{self.path}” was lost ({exc})."
            finally:
                self._release(conn)
            if self._stopping.is_set():
                break
            delay = self._backoff[min(failures, len(self._backoff) - 1)]
            failures += 1
            self._set_state(WatchState.OFFLINE, f"{detail} Retrying in {delay:g} s.")
            self._stopping.wait(delay)
        self._set_state(WatchState.STOPPED)

    def _adopt(self, conn: ImapConnection) -> bool:
        """Publish the connection for stop(); False (and closed) when stop() came while connecting."""
        with self._lock:
            if self._stopping.is_set():
                conn.close()
                return False
            self._conn = conn
            return True

    def _release(self, conn: ImapConnection | None) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        if conn is not None:
            conn.close()

    def _idle(self, conn: ImapConnection) -> None:
        imap = conn.client._imap  # noqa: SLF001 - imapclient has no blocking IDLE reader (module docstring)
        while not self._stopping.is_set():
            tag = self._begin_idle(imap)
            started = time.monotonic()
            try:
                while not self._stopping.is_set():
                    remaining = self.renew_after - (time.monotonic() - started)
                    if remaining <= 0:
                        break
                    if self._wait_readable(conn, remaining):
                        self._notify(self._read_available(conn, tag))
                        if imap.tagged_commands.get(tag):  # the server ended IDLE itself: start again
                            imap.tagged_commands.pop(tag, None)
                            tag = None
                            if time.monotonic() - started < 1.0:
                                self._stopping.wait(1.0)  # but never in a tight loop
                            break
            except _OutOfStep as exc:
                log.warning("IDLE on %s got out of step (%s); restarting it and asking for a resync", self.path, exc)
                self.recoveries += 1
                if tag is not None:
                    self._end_idle(imap, tag)
                self._notify({"resync"})
                continue
            if self._stopping.is_set():
                return
            if tag is not None:
                self._end_idle(imap, tag)
                self.renewals += 1

    def _begin_idle(self, imap: imaplib.IMAP4) -> str:
        tag = imap._command("IDLE")  # noqa: SLF001
        reasons: set[str] = set()
        while True:
            line = imap._get_response()  # noqa: SLF001 - None is the "+ idling" continuation
            if line is None:
                break
            if imap.tagged_commands.get(tag):
                typ, data = imap.tagged_commands.pop(tag)
                said = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
                raise ProtocolError(f"The server refused to watch “{self.path}” for new mail ({typ} {said}).")
            reasons |= _classify(line)
        imap.untagged_responses.clear()
        self._notify(reasons)
        return tag

    def _end_idle(self, imap: imaplib.IMAP4, tag: str) -> None:
        """DONE, then read up to the tagged completion (changes reported on the way are kept)."""
        imap.send(b"DONE\r\n")
        reasons: set[str] = set()
        while not imap.tagged_commands.get(tag):
            try:
                line = imap._get_response()  # noqa: SLF001
            except imaplib.IMAP4.abort as exc:
                if str(exc).startswith("socket error"):
                    raise
                continue  # more of the garbage that put us out of step; the tagged line ends it
            if line is not None:
                reasons |= _classify(line)
        typ, data = imap.tagged_commands.pop(tag)
        imap.untagged_responses.clear()
        self._notify(reasons)
        if typ != "OK":
            raise _ConnectionLost(f"IDLE ended with {typ} {data!r}")

    def _wait_readable(self, conn: ImapConnection, timeout: float) -> bool:
        if _buffered(conn):
            return True
        with selectors.DefaultSelector() as sel:
            sel.register(conn.client.socket(), selectors.EVENT_READ)
            return bool(sel.select(timeout))

    def _read_available(self, conn: ImapConnection, tag: str) -> set[str]:
        """Read every complete response that has arrived, in blocking mode (waits for split halves)."""
        imap = conn.client._imap  # noqa: SLF001
        reasons: set[str] = set()
        while True:
            try:
                line = imap._get_response()  # noqa: SLF001
            except imaplib.IMAP4.abort as exc:
                if str(exc).startswith("socket error") or self._stopping.is_set():
                    raise _ConnectionLost(str(exc)) from None
                self._notify(reasons)
                raise _OutOfStep(str(exc)) from None
            if line is not None:
                if _BYE.match(line):
                    raise _ConnectionLost(line.decode("utf-8", "replace"))
                reasons |= _classify(line)
            imap.untagged_responses.clear()
            if imap.tagged_commands.get(tag) or not self._wait_readable(conn, 0):
                return reasons

    def _poll(self, conn: ImapConnection) -> None:
        """No IDLE on this server: ask with NOOP every ``poll_interval`` seconds."""
        while not self._stopping.wait(self._poll_interval):
            _, responses = conn.client.noop()
            reasons = {
                resp[1].decode().lower()
                for resp in responses
                if len(resp) >= 2 and isinstance(resp[0], int) and resp[1] in (b"EXISTS", b"EXPUNGE", b"FETCH")
            }
            self._notify(reasons)

    def _notify(self, reasons: set[str]) -> None:
        if not reasons or self._stopping.is_set():
            return
        self.notifications += 1
        try:
            self._on_change(MailboxChange(self.path, frozenset(reasons)))
        except Exception:  # noqa: BLE001 - a listener bug must not end the watch
            log.exception("IDLE change listener failed")

    def _set_state(self, state: WatchState, detail: str = "") -> None:
        self.state, self.detail = state, detail
        try:
            self._on_state(state, detail)
        except Exception:  # noqa: BLE001
            log.exception("IDLE state listener failed")


def _permanent(exc: SharedClientError) -> bool:
    """Failures a retry cannot fix. A TLS handshake cut short (server restarting) is not one of them."""
    if not isinstance(exc, NetworkError):
        return True
    if isinstance(exc, StartTlsUnavailableError):
        return True
    if isinstance(exc, TlsError):
        cause = exc.__cause__
        return cause is None or isinstance(cause, ssl.SSLCertVerificationError)
    return False


def _classify(line: bytes) -> set[str]:
    m = _CHANGE.match(line)
    if m is None:
        return set()
    return {(m.group(1) or m.group(2)).decode().lower()}


def _buffered(conn: ImapConnection) -> bool:
    """Whether a response is already read into imaplib's buffer (or OpenSSL's), where select() cannot see it.

    Peeks with the socket briefly non-blocking: a buffered reader returns what it holds, and an empty one
    tries one read that either finds data or would block. Nothing is consumed either way.
    """
    sock = conn.client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(conn.client._imap.file.peek(1))  # noqa: SLF001
    except (ssl.SSLWantReadError, BlockingIOError):
        return False
    except OSError:
        return True  # let the blocking read report what is wrong
    finally:
        sock.settimeout(timeout)


__all__ = ["MailboxChange", "MailboxWatcher", "WatchState", "RENEW_AFTER", "BACKOFF"]
