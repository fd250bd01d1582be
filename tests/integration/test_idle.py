"""IDLE against the real Dovecot: new mail, renewal, lost connections, split responses, clean stop."""

from __future__ import annotations

import imaplib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from imapclient import IMAPClient, SocketTimeout

from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.idle import MailboxChange, MailboxWatcher, WatchState
from sharedclient.core.imap.session import open_imap
from sharedclient.devservers.dovecot import MailUser
from tests.integration.readpath import SessionFor, account_of, message
from tests.servers.proxy import RewritingProxy

if TYPE_CHECKING:
    from tests.conftest import ImapServer

PROMPT = 5.0  # "within a few seconds"


class Changes:
    """Collects MailboxChange callbacks (they arrive on the watcher's thread)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[MailboxChange] = queue.Queue()

    def __call__(self, change: MailboxChange) -> None:
        self.queue.put(change)

    def next_with(self, reason: str, timeout: float = PROMPT) -> MailboxChange:
        deadline = time.monotonic() + timeout
        while True:
            try:
                change = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no change with reason {reason!r} within {timeout} s") from None
            if reason in change.reasons:
                return change

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = PROMPT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def tls_connect(server: ImapServer, user: MailUser, port: int | None = None) -> Callable[[], ImapConnection]:
    account = account_of(server, user, port)
    return lambda: ImapConnection(open_imap(account, user.password))


def plain_connect(port: int, user: MailUser) -> Callable[[], ImapConnection]:
    """Cleartext IMAP through the proxy, so it can split *lines* (it cannot see inside TLS).

    Dovecot allows LOGIN without TLS from 127.0.0.1 to 127.0.0.1; the product never connects this way.
    """

    def connect() -> ImapConnection:
        client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=SocketTimeout(5, 30))
        try:
            client.login(user.login, user.password)
        except BaseException:
            client.shutdown()
            raise
        return ImapConnection(client)

    return connect


@pytest.fixture
def watchers() -> Iterator[list[MailboxWatcher]]:
    """Watchers to stop after the test, even when it fails."""
    started: list[MailboxWatcher] = []
    yield started
    for watcher in started:
        watcher.stop()
        assert not watcher.running


def split_exists(data: bytes) -> list[bytes]:
    """Send "* 1 EXI" now and "STS\\r\\n..." a moment later: one response across two TCP segments."""
    at = data.find(b" EXISTS\r\n")
    return [data[: at + 4], data[at + 4 :]] if at >= 0 else [data]


# -- the basics ---------------------------------------------------------------------------------------


def test_new_mail_while_idling_calls_back_within_seconds(
    imap_server: ImapServer, fresh_user: MailUser, session_for: SessionFor
) -> None:
    session = session_for(fresh_user)
    changes, states = Changes(), []
    watcher = session.watch("INBOX", changes, on_state=lambda state, detail: states.append(state))
    wait_for(lambda: watcher.state is WatchState.WATCHING, "the watch to start")
    started = time.monotonic()
    imap_server.dovecot.deliver(fresh_user.login, message("Printer on fire"))
    change = changes.next_with("exists")
    print(f"callback {time.monotonic() - started:.3f} s after delivery")
    assert change.path == "INBOX"
    session.sync("INBOX").result(10)  # what the GUI does with the callback
    assert session.cache.count(session.cache.mailbox("INBOX").id) == 1
    session.close()  # stops the watcher too
    assert not watcher.running and states[-1] is WatchState.STOPPED


def test_idle_is_renewed_and_keeps_reporting(
    imap_server: ImapServer, fresh_user: MailUser, watchers: list[MailboxWatcher]
) -> None:
    changes = Changes()
    watcher = MailboxWatcher(tls_connect(imap_server, fresh_user), "INBOX", changes, renew_after=0.3).start()
    watchers.append(watcher)
    wait_for(lambda: watcher.renewals >= 3, "three DONE + IDLE renewals")
    imap_server.dovecot.deliver(fresh_user.login, message("After renewals"))
    changes.next_with("exists")
    assert watcher.connects == 1 and watcher.recoveries == 0  # renewed in place, never reconnected


def test_lost_connection_is_recovered_with_backoff(
    imap_server: ImapServer, fresh_user: MailUser, watchers: list[MailboxWatcher]
) -> None:
    changes, details = Changes(), []
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_tls_port) as proxy:
        watcher = MailboxWatcher(
            tls_connect(imap_server, fresh_user, proxy.port), "INBOX", changes,
            on_state=lambda state, detail: details.append((state, detail)), backoff=(0.1, 0.3),
        ).start()  # fmt: skip
        watchers.append(watcher)
        wait_for(lambda: watcher.state is WatchState.WATCHING, "the watch to start")
        proxy.refusing = True  # the server is unreachable for a moment...
        assert proxy.cut() == 1
        wait_for(lambda: proxy.connections >= 3, "two refused reconnect attempts")
        offline = [d for s, d in details if s is WatchState.OFFLINE]
        assert offline and offline[-1].endswith("Retrying in 0.3 s.")
        proxy.refusing = False  # ... and back
        changes.next_with("reconnected")  # changes may have been missed meanwhile: the GUI resyncs
        assert watcher.connects == 2 and watcher.state is WatchState.WATCHING
        imap_server.dovecot.deliver(fresh_user.login, message("While reconnected"))
        changes.next_with("exists")
        watcher.stop()
        wait_for(lambda: proxy.live == 0, "the proxy to see the connection closed")
    assert details[-1] == (WatchState.STOPPED, "")


def test_stop_is_prompt_even_while_waiting_to_reconnect(imap_server: ImapServer, fresh_user: MailUser) -> None:
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_tls_port) as proxy:
        proxy.refusing = True
        watcher = MailboxWatcher(
            tls_connect(imap_server, fresh_user, proxy.port), "INBOX", Changes(), backoff=(60.0,)
        ).start()
        wait_for(lambda: watcher.state is WatchState.OFFLINE, "the first failed attempt")
        started = time.monotonic()
        watcher.stop()
        assert not watcher.running and time.monotonic() - started < 1.0


def test_a_mailbox_that_cannot_be_opened_fails_the_watch_with_a_sentence(
    imap_server: ImapServer, fresh_user: MailUser
) -> None:
    states: list[tuple[WatchState, str]] = []
    watcher = MailboxWatcher(
        tls_connect(imap_server, fresh_user), "No/Such", Changes(), on_state=lambda s, d: states.append((s, d))
    ).start()
    wait_for(lambda: not watcher.running, "the watcher to give up")
    state, detail = states[-1]
    assert state is WatchState.FAILED and detail.startswith("You can no longer open “No/Such”")


# -- imapclient issues 519 / 464 -------------------------------------------------------------------


def test_harness_reproduces_imapclient_split_response_defect(imap_server: ImapServer, fresh_user: MailUser) -> None:
    """Stock ``idle_check`` on a response split across TCP segments: the defect the watcher avoids."""
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_port, split=split_exists, split_delay=0.5) as proxy:
        conn = plain_connect(proxy.port, fresh_user)()
        try:
            conn.client.select_folder("INBOX", readonly=True)
            conn.client.idle()
            imap_server.dovecot.deliver(fresh_user.login, message("Split"))
            try:
                responses = conn.client.idle_check(timeout=PROMPT)
            except imaplib.IMAP4.abort as exc:
                assert "unterminated line" in str(exc)
            else:
                pytest.skip(f"imapclient no longer cuts split responses (got {responses!r}); idle.py may simplify")
        finally:
            conn.client.shutdown()


def test_response_split_across_segments_is_read_whole(
    imap_server: ImapServer, fresh_user: MailUser, watchers: list[MailboxWatcher]
) -> None:
    changes = Changes()
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_port, split=split_exists, split_delay=0.5) as proxy:
        watcher = MailboxWatcher(plain_connect(proxy.port, fresh_user), "INBOX", changes).start()
        watchers.append(watcher)
        wait_for(lambda: watcher.state is WatchState.WATCHING, "the watch to start")
        for subject in ("First", "Second"):
            imap_server.dovecot.deliver(fresh_user.login, message(subject))
            changes.next_with("exists")
        assert (watcher.connects, watcher.recoveries) == (1, 0)  # no abort, no reconnect, nothing to recover
        watcher.stop()


def test_stream_out_of_step_is_reset_and_reported(
    imap_server: ImapServer, fresh_user: MailUser, watchers: list[MailboxWatcher]
) -> None:
    """The tail of a mangled response (what issue 464 leaves behind) arrives as a line of its own."""
    armed, injected = threading.Event(), threading.Event()

    def mangle(data: bytes) -> bytes:
        if armed.is_set() and b" EXISTS\r\n" in data and not injected.is_set():
            injected.set()
            return data.replace(b" EXISTS\r\n", b" EXISTS\r\n(FLAGS (\\Seen))\r\n", 1)
        return data

    changes = Changes()
    with RewritingProxy("127.0.0.1", imap_server.dovecot.imap_port, mangle) as proxy:
        watcher = MailboxWatcher(plain_connect(proxy.port, fresh_user), "INBOX", changes).start()
        watchers.append(watcher)
        wait_for(lambda: watcher.state is WatchState.WATCHING, "the watch to start")
        armed.set()  # not before: EXAMINE's own "* 0 EXISTS" must pass untouched
        imap_server.dovecot.deliver(fresh_user.login, message("Mangled"))
        changes.next_with("resync")
        assert injected.is_set() and watcher.recoveries == 1
        changes.drain()
        imap_server.dovecot.deliver(fresh_user.login, message("After the reset"))
        changes.next_with("exists")
        assert watcher.connects == 1  # recovered on the same connection
        watcher.stop()
