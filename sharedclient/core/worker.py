"""One worker thread per account, owning that account's IMAP connection.

imapclient is not thread-safe and SELECT is per-connection state, so every IMAP job for an account runs
on its worker, one at a time, in submission order. Callers get a ``concurrent.futures.Future``; the GUI
turns those into main-thread callbacks (see ``sharedclient.ui.bridge``), so it never waits on the network.
"""

from __future__ import annotations

import imaplib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from enum import Enum
from typing import Any, TypeVar

from sharedclient.core.errors import AuthError, NetworkError, ProtocolError, SharedClientError, TlsError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import server_reason

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[ImapConnection], Any]


class ConnectionState(str, Enum):
    """The account status the user sees (a small state machine, as in Geary)."""

    IDLE = "not connected"
    CONNECTING = "connecting"
    ONLINE = "online"
    AUTH_FAILED = "authentication failed"
    TLS_FAILED = "TLS failed"
    OFFLINE = "offline"


def state_for_error(exc: SharedClientError) -> ConnectionState:
    if isinstance(exc, AuthError):
        return ConnectionState.AUTH_FAILED
    if isinstance(exc, TlsError):
        return ConnectionState.TLS_FAILED
    return ConnectionState.OFFLINE


StateListener = Callable[[ConnectionState, str], None]
#: Seconds of silence after which a job first checks the connection with NOOP (see ``check_alive``).
STALE_AFTER = 240.0


class AccountWorker:
    """Runs IMAP jobs for one account on its own thread, connecting on demand."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], ImapConnection],
        on_state: StateListener | None = None,
        *,
        stale_after: float = STALE_AFTER,
    ) -> None:
        self.name = name
        self._stale_after = stale_after
        self._connect = connect
        self._on_state = on_state or (lambda state, detail: None)
        self._queue: queue.Queue[tuple[Future[Any], Job, str | None] | None] = queue.Queue()
        self._pending_keys: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._conn: ImapConnection | None = None
        self._stopping = threading.Event()
        self.state = ConnectionState.IDLE
        self._thread = threading.Thread(target=self._run, name=f"imap-{name}", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[ImapConnection], T], key: str | None = None) -> Future[T]:
        """Queue ``job``; a job with the same ``key`` still waiting is reused instead of queued twice."""
        with self._lock:
            if key is not None and key in self._pending_keys:
                return self._pending_keys[key]
            future: Future[T] = Future()
            if self._stopping.is_set():
                future.set_exception(NetworkError(f"Account “{self.name}” is shutting down."))
                return future
            if key is not None:
                self._pending_keys[key] = future
            self._queue.put((future, job, key))
            return future

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel queued jobs, interrupt a running one by closing the socket, and join the thread."""
        self._stopping.set()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        self._queue.put(None)
        conn = self._conn
        if conn is not None:
            conn.interrupt()
        self._thread.join(timeout)

    def _set_state(self, state: ConnectionState, detail: str = "") -> None:
        self.state = state
        try:
            self._on_state(state, detail)
        except Exception:  # noqa: BLE001 - a listener bug must not kill the worker
            log.exception("state listener failed")

    def _ensure_connection(self) -> ImapConnection:
        if self._conn is not None and not self._conn.check_alive(self._stale_after):
            # The server hung up while we were not looking (autologout, restart, UIDVALIDITY change):
            # reconnect now rather than fail the user's next action with "connection lost".
            log.info("account %s: connection went away while unused; reconnecting", self.name)
            self._drop_connection()
        if self._conn is None:
            self._set_state(ConnectionState.CONNECTING)
            try:
                self._conn = self._connect()
            except SharedClientError as exc:
                self._set_state(state_for_error(exc), exc.user_message)
                raise
            self._set_state(ConnectionState.ONLINE)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            future, job, key = item
            with self._lock:
                if key is not None:
                    self._pending_keys.pop(key, None)
            if not future.set_running_or_notify_cancel():
                continue
            conn = None
            try:
                conn = self._ensure_connection()
                future.set_result(job(conn))
            except NetworkError as exc:
                if conn is not None:  # a job that reports a network failure leaves an unusable connection
                    self._drop_connection()
                    if not self._stopping.is_set():
                        self._set_state(ConnectionState.OFFLINE, exc.user_message)
                future.set_exception(exc)
            except SharedClientError as exc:
                future.set_exception(exc)
            except (OSError, EOFError, imaplib.IMAP4.abort) as exc:
                # The connection broke mid-job: forget it so the next job reconnects.
                self._drop_connection()
                err = NetworkError(f"The connection to account “{self.name}” was lost ({exc}).")
                if not self._stopping.is_set():
                    self._set_state(ConnectionState.OFFLINE, err.user_message)
                future.set_exception(err)
            except imaplib.IMAP4.error as exc:
                # A NO/BAD the job did not translate: still one sentence for the user, no traceback.
                log.info("IMAP command refused on account %s: %s", self.name, exc)
                text = server_reason(exc)
                future.set_exception(ProtocolError(f"The IMAP server of account “{self.name}” refused: {text}."))
            except BaseException as exc:  # noqa: BLE001 - deliver every failure to the caller
                log.exception("IMAP job failed on account %s", self.name)
                future.set_exception(exc)
            finally:
                if self._conn is not None:
                    self._conn.last_used = time.monotonic()
        self._drop_connection()
        self._set_state(ConnectionState.IDLE)
