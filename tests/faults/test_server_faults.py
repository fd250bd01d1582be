"""Servers that go away while working: Dovecot restarted during a sync, a connection cut mid-FETCH, the IDLE
connection dropped, Postfix stopped during DATA. Each recovers by itself, shows "offline, retrying" (the
status-bar label the window uses, ``ui.statusarea.AccountStatus``) or "queued, retrying" meanwhile, and
loses nothing.

Dovecot is restarted on an instance of this module's own (same CA, one user), so other tests never see it;
Postfix likewise.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from email.headerregistry import Address
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pytestqt.qtbot import QtBot

from sharedclient.core.identities import own_identity
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import open_imap
from sharedclient.core.mime.compose import AttachmentFile, OutgoingMessage
from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.outbox_worker import RetryPolicy, SendContext, SendReport, SendStatus, SendWorker
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.secrets import KeyringCredentials
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.worker import ConnectionState
from sharedclient.devservers.dovecot import DovecotInstance, MailUser
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.launch import cache_in
from sharedclient.ui.statusarea import AccountStatus
from tests.conftest import DOMAIN, SENDERS, ImapServer, addr, password
from tests.faults.child import history_rows, wait_until
from tests.faults.gate import TlsGate
from tests.faults.test_damaged_storage import cli
from tests.integration.readpath import fill
from tests.memory_keyring import MemoryKeyring
from tests.servers.postfix import PostfixInstance
from tests.servers.proxy import RewritingProxy

if TYPE_CHECKING:
    from tests.conftest import MailServers

MESSAGES = 4000
USER = MailUser(f"faulty@{DOMAIN}", "faulty-secret-pw")


@pytest.fixture(scope="module")
def own_dovecot(imap_server: ImapServer) -> Iterator[ImapServer]:
    """A Dovecot of this module's own, with one user holding MESSAGES messages."""
    workdir = Path(tempfile.mkdtemp(prefix="sharedclient-faults-dovecot-"))
    workdir.chmod(0o755)
    dovecot = DovecotInstance(workdir, [USER], imap_server.certs)
    dovecot.start()
    try:
        server = ImapServer(dovecot=dovecot, certs=imap_server.certs, domain=DOMAIN, users={"faulty": USER})
        fill(server, USER, MESSAGES)
        yield server
    finally:
        dovecot.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class Stall:
    """A ``RewritingProxy`` rewrite that stops the server->client stream once ``after`` bytes went through
    (the client is then mid-FETCH) until released; the test acts on the server meanwhile."""

    def __init__(self, after: int) -> None:
        self.after, self.seen = after, 0
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, data: bytes) -> bytes:
        self.seen += len(data)
        if self.seen > self.after and not self.release.is_set():
            self.reached.set()
            self.release.wait(30)
        return data


def watched_controller(
    qtbot: QtBot, server: ImapServer, port: int, cache_dir: Path
) -> tuple[AccountsController, AccountStatus, list[str]]:
    """An AccountsController for USER through ``port``, its status-bar label, and every text the label showed."""
    imap = Endpoint("127.0.0.1", port, Security.TLS)
    account = Account("faulty", USER.login, imap, imap, USER.login, ca_file=str(server.certs.ca_pem))
    controller = AccountsController(
        [account], lambda acct: lambda: ImapConnection(open_imap(acct, USER.password)), cache_in(cache_dir)
    )
    label = AccountStatus(account)
    qtbot.addWidget(label)
    shown: list[str] = []

    def show(_name: str, state: ConnectionState, detail: str) -> None:
        label.show_state(state, detail)
        shown.append(label.accessibleName())

    controller.state_changed.connect(show)
    controller.problem.connect(lambda _name, text: shown.append(f"problem: {text}"))
    return controller, label, shown


def cached(controller: AccountsController) -> int:
    return int(controller.sessions["faulty"].cache.query("SELECT count(*) FROM message")[0][0])


def test_dovecot_restarted_during_a_sync_goes_offline_retrying_and_the_sync_completes(
    qtbot: QtBot, tmp_path: Path, own_dovecot: ImapServer
) -> None:
    stall = Stall(after=300_000)  # well into the FETCH of 4000 envelopes
    with RewritingProxy("127.0.0.1", own_dovecot.dovecot.imap_tls_port, stall) as proxy:
        controller, label, shown = watched_controller(qtbot, own_dovecot, proxy.port, tmp_path)
        try:
            with qtbot.waitSignal(controller.folders_changed, timeout=20000):
                controller.start()
            controller.sync("faulty", "INBOX")
            wait_until(stall.reached.is_set, 30, "the sync to be mid-FETCH")
            own_dovecot.dovecot.stop()
            own_dovecot.dovecot.start()
            proxy.target = ("127.0.0.1", own_dovecot.dovecot.imap_tls_port)
            # The old server process is gone; what it had already written may still sit in socket buffers on
            # a fast loopback (a whole 4000-message answer does), so drop the stalled connection as a real
            # network would have lost it half-way: the client must reconnect to the new process.
            proxy.cut()
            with qtbot.waitSignal(controller.synced, timeout=90000) as synced:
                stall.release.set()
            assert synced.args[2].total == MESSAGES
            assert cached(controller) == MESSAGES  # everything, once
            assert any(text.endswith("offline, retrying in 5 s") for text in shown), shown
            qtbot.waitUntil(lambda: label.accessibleName().endswith(": online"), timeout=30000)
        finally:
            controller.shutdown()


def test_connection_cut_mid_fetch_goes_offline_retrying_and_the_sync_completes(
    qtbot: QtBot, tmp_path: Path, own_dovecot: ImapServer
) -> None:
    with RewritingProxy("127.0.0.1", own_dovecot.dovecot.imap_tls_port) as proxy:
        controller, label, shown = watched_controller(qtbot, own_dovecot, proxy.port, tmp_path)
        try:
            with qtbot.waitSignal(controller.folders_changed, timeout=20000):
                controller.start()
            proxy.cut_after(200_000)
            with qtbot.waitSignal(controller.synced, timeout=90000) as synced:
                controller.sync("faulty", "INBOX")
            assert proxy.connections >= 3  # the cut one was replaced
            assert synced.args[2].total == MESSAGES and cached(controller) == MESSAGES
            assert any(text.endswith("offline, retrying in 5 s") for text in shown), shown
            assert label.accessibleName().endswith(": online")
        finally:
            controller.shutdown()


def test_idle_connection_dropped_shows_offline_retrying_and_new_mail_still_arrives(
    qtbot: QtBot, tmp_path: Path, own_dovecot: ImapServer
) -> None:
    with RewritingProxy("127.0.0.1", own_dovecot.dovecot.imap_tls_port) as proxy:
        controller, label, shown = watched_controller(qtbot, own_dovecot, proxy.port, tmp_path)
        try:
            with qtbot.waitSignal(controller.folders_changed, timeout=20000):
                controller.start()
            qtbot.waitUntil(lambda: proxy.live == 2, timeout=10000)  # the account's connection + IDLE
            before = proxy.connections
            assert proxy.cut() == 2
            qtbot.waitUntil(lambda: any("offline, retrying in" in t for t in shown), timeout=10000)
            qtbot.waitUntil(lambda: proxy.connections > before and label.accessibleName().endswith(": online"),
                            timeout=20000)  # fmt: skip
            # Mail arriving after the drop is seen: IDLE is back and reports it.
            with qtbot.waitSignal(controller.mailbox_changed, timeout=20000):
                own_dovecot.dovecot.deliver(USER.login, b"From: a@b.test\r\nSubject: after the drop\r\n\r\nhi\r\n")
        finally:
            controller.shutdown()


# ------------------------------------------------------------------------------------ Postfix during DATA


def test_postfix_stopped_during_data_queues_retrying_and_delivers_once_when_back(
    tmp_path: Path, mail_servers: MailServers, private_postfix: PostfixInstance, memory_keyring: MemoryKeyring
) -> None:
    basedir = tmp_path / "sc"
    with TlsGate(private_postfix.submissions_port, mail_servers.certs) as gate:
        code, out = cli(basedir, "account", "add", "work", "--email", addr("alice"),
                        "--imap", f"127.0.0.1:{mail_servers.dovecot.imap_tls_port}", "--smtp", f"127.0.0.1:{gate.port}",
                        "--smtp-security", "tls", "--ca-file", str(mail_servers.certs.ca_pem), "--password-stdin",
                        stdin=password("alice") + "\n")  # fmt: skip
        assert code == 0, out
        profile = ProfileStore(basedir).get("default")
        reports: list[SendReport] = []
        worker = SendWorker(
            ProfileDb.for_data_dir(profile.data_dir),
            SendContext("default", profile.load, KeyringCredentials("default")),
            retry_policy=RetryPolicy(delays=(2.0,)),
            on_report=reports.append,
        )
        try:
            settings = profile.load()
            # Big enough that the client is still writing the message when the server goes (not at the dot).
            attachment = AttachmentFile("big.bin", bytes(range(256)) * 24576, "application/octet-stream")
            message = OutgoingMessage(
                own_identity(settings, "work"), to=(Address(addr_spec="stopped-during-data@customer.test"),),
                subject="Postfix stopped during DATA", body="Still arrives, once.", attachments=(attachment,),
            )  # fmt: skip
            gate.arm("mid-data:100000")
            future = worker.send(message)
            wait_until(gate.held.is_set, 30, "the message to be mid-DATA")
            private_postfix.stop()
            gate.drop()  # the server is gone: the client's connection breaks mid-DATA
            first = future.result(60)
            assert first.status is SendStatus.QUEUED, first
            assert "queued, retrying" in first.message
            (item,) = worker.outbox.items()
            assert item.status_text == "queued, retrying"
            private_postfix.start()
            gate.target = ("127.0.0.1", private_postfix.submissions_port)
            wait_until(lambda: any(r.status is SendStatus.SENT for r in reports), 60, "the automatic retry")
        finally:
            worker.stop()
        private_postfix.wait_idle()
        msgid = first.message_id
        with mail_servers.imap("sink") as client:
            client.select_folder("INBOX", readonly=True)
            assert len(client.search(["HEADER", "Message-ID", msgid])) == 1
        statuses = [h["status"] for h in history_rows(basedir)]  # one row per attempt while Postfix was away
        assert statuses[-1] == "sent" and len(statuses) >= 2 and set(statuses[:-1]) == {"retrying"}, statuses
