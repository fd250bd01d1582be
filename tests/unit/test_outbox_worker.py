"""The sending worker's state machine against a scripted SMTP conversation (no network).

The real Postfix runs in tests/integration/test_send_path.py; here every failure mode can be staged
exactly: 4xx, 5xx, a refused sender, one refused recipient, a connection that dies after the final dot,
a crash that leaves a row in ``sending``.
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sharedclient.core.errors import NetworkError
from sharedclient.core.identities import IdentityStatus, permitted_identities
from sharedclient.core.mime.addresses import parse_mailbox_list
from sharedclient.core.mime.compose import OutgoingMessage
from sharedclient.core.model import Account, Endpoint, Identity, Security, SendMode
from sharedclient.core.outbox_worker import RetryPolicy, SendContext, SendStatus, SendWorker
from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.settings import Settings
from sharedclient.core.store.history import HistoryQuery
from sharedclient.core.store.outbox import OutboxState
from sharedclient.core.store.profile_db import ProfileDb

ACCOUNT = Account(
    name="work", email="alice@example.test", imap=Endpoint("127.0.0.1", 1), smtp=Endpoint("127.0.0.1", 2, Security.STARTTLS),
    username="alice@example.test",
)
SUPPORT = Identity("support@example.test", "Support Team", "work", SendMode.SEND_AS, mailbox_owner="support@example.test")
SETTINGS = Settings(accounts=(ACCOUNT,), identities=(SUPPORT,))


@dataclass
class FakeSMTP:
    """Answers like a submission server; ``replies`` overrides a stage ("mail", "rcpt:<addr>", "data", "end")."""

    replies: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    drop_after_dot: bool = False
    delivered: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    dsn: bool = True
    _from: str = ""
    _rcpts: list[str] = field(default_factory=list)
    _data: bytes = b""
    log: list[str] = field(default_factory=list)

    def has_extn(self, name: str) -> bool:
        return name.lower() == "dsn" and self.dsn

    def mail(self, sender: str, options: list[str] = ()) -> tuple[int, bytes]:  # type: ignore[assignment]
        self.log.append(f"MAIL {sender} {' '.join(options)}".strip())
        self._from, self._rcpts, self._data = sender, [], b""
        return self.replies.get("mail", (250, b"2.1.0 Ok"))

    def rcpt(self, rcpt: str, options: list[str] = ()) -> tuple[int, bytes]:  # type: ignore[assignment]
        self.log.append(f"RCPT {rcpt} {' '.join(options)}".strip())
        reply = self.replies.get(f"rcpt:{rcpt}", self.replies.get("rcpt", (250, b"2.1.5 Ok")))
        if reply[0] == 250:
            self._rcpts.append(rcpt)
        return reply

    def docmd(self, cmd: str) -> tuple[int, bytes]:
        self.log.append(cmd.upper())
        return self.replies.get("data", (354, b"End data with <CR><LF>.<CR><LF>"))

    def send(self, data: bytes) -> None:
        if data == b".\r\n":
            if self.drop_after_dot:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            self.log.append("DOT")
        else:
            self._data += data

    def getreply(self) -> tuple[int, bytes]:
        reply = self.replies.get("end", (250, b"2.0.0 Ok: queued as ABC123"))
        if reply[0] == 250:
            self.delivered.append((self._from, list(self._rcpts), self._data))
        return reply

    def rset(self) -> tuple[int, bytes]:
        self.log.append("RSET")
        return 250, b"2.0.0 Ok"

    def quit(self) -> None:
        pass

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> FakeSMTP:
    return FakeSMTP()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ProfileDb]:
    with ProfileDb.for_data_dir(tmp_path) as database:
        yield database


def offline_imap(account: Account, password: str) -> object:
    raise NetworkError("The IMAP server 127.0.0.1:1 refused the connection.")


def make_worker(db: ProfileDb, server: FakeSMTP, clock: Clock, **kwargs: object) -> SendWorker:
    creds = SessionCredentials()
    creds.set("work", "smtp", "pw")
    creds.set("work", "imap", "pw")
    state = {"up": True}

    def open_smtp(account: Account, password: str) -> FakeSMTP:
        if not state["up"]:
            raise NetworkError("The SMTP server 127.0.0.1:2 refused the connection; check the host and port, and that the server runs.")
        return server

    worker = SendWorker(
        db,
        SendContext("test", lambda: SETTINGS, creds, open_smtp=open_smtp, open_imap=offline_imap, clock=clock),  # type: ignore[arg-type]
        auto_retry=False,
        **kwargs,  # type: ignore[arg-type]
    )
    worker.smtp_state = state  # type: ignore[attr-defined]
    return worker


def message(to: str = "carol@example.test", **kw: object) -> OutgoingMessage:
    return OutgoingMessage(SUPPORT, to=tuple(parse_mailbox_list(to)), subject="Your order", body="Shipped.", **kw)  # type: ignore[arg-type]


def test_accepted_message_is_sent_once_and_waits_for_its_copy(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    with make_worker(db, server, clock) as worker:
        report = worker.send(message(bcc=tuple(parse_mailbox_list("boss@example.test")))).result(5)
        assert report.status is SendStatus.SENT
        assert report.smtp_reply == "250 2.0.0 Ok: queued as ABC123"
        assert "copy could not be saved yet" in report.warnings[0]
        (envelope_from, rcpts, data), = server.delivered
        assert envelope_from == "support@example.test"
        assert rcpts == ["carol@example.test", "boss@example.test"]
        assert b"boss@" not in data and data.startswith(b"From: Support Team <support@example.test>\r\n")
        item, = worker.outbox.items()
        assert item.state is OutboxState.SENT and item.status_text == "sent, saving copy"
        # A flush retries only the copy, never the send.
        worker.flush().result(5)
        assert len(server.delivered) == 1
        entry, = worker.history.query(HistoryQuery())
        assert (entry.status, entry.identity, entry.mode) == ("sent", "support@example.test", "send-as")
        assert worker.checks.all()[("work", "support@example.test", "send-as")].status is IdentityStatus.VERIFIED


def test_dsn_parameters_only_when_the_message_asks(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    with make_worker(db, server, clock) as worker:
        worker.send(message()).result(5)
        report = worker.send(message(request_dsn=True)).result(5)
    plain, with_dsn = [line for line in server.log if line.startswith("MAIL")]
    assert plain == "MAIL support@example.test"
    assert with_dsn == f"MAIL support@example.test RET=HDRS ENVID=sc{report.history_id}"
    assert "RCPT carol@example.test NOTIFY=SUCCESS,FAILURE,DELAY" in server.log


def test_transient_failure_is_queued_then_flushed_exactly_once(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    with make_worker(db, server, clock) as worker:
        worker.smtp_state["up"] = False  # type: ignore[attr-defined]
        report = worker.send(message()).result(5)
        assert report.status is SendStatus.QUEUED
        assert "queued, retrying" in report.message and "refused the connection" in report.message
        assert report.next_attempt == clock.now + 30
        item, = worker.outbox.items()
        assert (item.state, item.attempts, item.status_text) == (OutboxState.QUEUED, 1, "queued, retrying")
        server.replies["rcpt"] = (451, b"4.3.0 Temporary lookup failure")
        worker.smtp_state["up"] = True  # type: ignore[attr-defined]
        report, = worker.flush().result(5)
        assert report.status is SendStatus.QUEUED and "451 4.3.0 Temporary lookup failure" in report.message
        assert worker.outbox.items()[0].next_attempt == clock.now + 60  # backoff grows
        del server.replies["rcpt"]
        report, = worker.flush().result(5)
        assert report.status is SendStatus.SENT
        worker.flush().result(5)
    assert len(server.delivered) == 1
    statuses = [e.status for e in worker.history.query(HistoryQuery(sort="time", descending=False))]
    assert statuses == ["retrying", "retrying", "sent"]


def test_permanent_refusal_is_kept_as_failed_and_can_be_retried(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    server.replies["end"] = (554, b"5.7.1 Message rejected: spam score too high")
    with make_worker(db, server, clock) as worker:
        report = worker.send(message()).result(5)
        assert report.status is SendStatus.FAILED
        assert report.message == "The server refused the message: 554 5.7.1 Message rejected: spam score too high"
        assert worker.flush().result(5) == []  # failed messages are not retried by themselves
        del server.replies["end"]
        assert worker.retry(report.item_id).result(5).status is SendStatus.SENT
    assert len(server.delivered) == 1


def test_refused_sender_marks_the_identity_denied(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    text = b"5.7.1 <support@example.test>: Sender address rejected: not owned by user bob@example.test"
    server.replies["rcpt"] = (553, text)
    with make_worker(db, server, clock) as worker:
        report = worker.send(message()).result(5)
        assert report.status is SendStatus.FAILED
        assert report.message == (
            "support@example.test requires Send As permission; the server refused: 553 5.7.1 <support@example.test>: "
            "Sender address rejected: not owned by user bob@example.test"
        )
        checks = worker.checks.all()
        assert checks[("work", "support@example.test", "send-as")].status is IdentityStatus.DENIED
        offered = [o.identity.address for o in permitted_identities(SETTINGS, checks)]
        assert offered == ["alice@example.test"]
        assert worker.outbox.get(report.item_id).state is OutboxState.FAILED
    assert "DATA" not in server.log


def test_one_refused_recipient_sends_nothing(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    server.replies["rcpt:nobody@example.test"] = (550, b"5.1.1 <nobody@example.test>: Recipient address rejected")
    with make_worker(db, server, clock) as worker:
        report = worker.send(message("carol@example.test, nobody@example.test")).result(5)
    assert report.status is SendStatus.FAILED
    assert report.message.startswith("The server refused the recipient nobody@example.test: 550 5.1.1")
    assert server.delivered == [] and "DATA" not in server.log and server.log[-1] == "RSET"


def test_connection_lost_after_the_final_dot_is_never_resent(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    server.drop_after_dot = True
    with make_worker(db, server, clock) as worker:
        report = worker.send(message()).result(5)
        assert report.status is SendStatus.FAILED and "may or may not have been delivered" in report.message
        server.drop_after_dot = False
        assert worker.flush().result(5) == []
        assert worker.history.query(HistoryQuery())[0].status == "uncertain"
    assert server.delivered == []


def test_crash_recovery_resends_only_what_cannot_have_been_delivered(
    db: ProfileDb, server: FakeSMTP, clock: Clock
) -> None:
    with make_worker(db, server, clock) as worker:
        first = worker.compose(message())
        second = worker.compose(message("dave@example.test"))
    before_dot = worker.outbox.add(first)
    after_dot = worker.outbox.add(second)
    for item in (before_dot, after_dot):
        assert worker.outbox.claim(item.id)  # a crash while these were "sending"
    worker.outbox.mark_final_dot(after_dot.id)
    with make_worker(db, server, clock) as restarted:
        assert {i.id: i.state for i in restarted.recovered} == {
            before_dot.id: OutboxState.QUEUED, after_dot.id: OutboxState.FAILED,
        }
        assert "may or may not have been delivered" in restarted.outbox.get(after_dot.id).last_error
        reports = restarted.flush().result(5)
    assert [r.status for r in reports] == [SendStatus.SENT]
    assert [rcpts for _, rcpts, _ in server.delivered] == [["carol@example.test"]]


def test_cancelling_a_queued_message_keeps_it(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    gate = threading.Event()
    started = threading.Event()
    real_mail = server.mail

    def slow_mail(sender: str, options: list[str] = ()) -> tuple[int, bytes]:  # type: ignore[assignment]
        started.set()
        gate.wait(5)
        return real_mail(sender, options)

    server.mail = slow_mail  # type: ignore[method-assign]
    with make_worker(db, server, clock) as worker:
        first = worker.send(message())
        assert started.wait(5)  # the worker is busy with the first message
        second = worker.send(message("dave@example.test"))
        third = worker.send(message("erin@example.test"))
        assert second.cancel()
        assert worker.cancel(worker.outbox.items()[-1].id)
        gate.set()
        assert first.result(5).status is SendStatus.SENT
        assert third.result(5).status is SendStatus.CANCELLED
        worker.flush().result(5)
        states = [i.state for i in worker.outbox.items()]
    assert states == [OutboxState.SENT, OutboxState.CANCELLED, OutboxState.CANCELLED]
    assert len(server.delivered) == 1


def test_gives_up_after_the_retry_window(db: ProfileDb, server: FakeSMTP, clock: Clock) -> None:
    with make_worker(db, server, clock, retry_policy=RetryPolicy(give_up_after=3600)) as worker:
        worker.smtp_state["up"] = False  # type: ignore[attr-defined]
        item_id = worker.send(message()).result(5).item_id
        clock.now += 7200
        report, = worker.flush().result(5)
    assert report.status is SendStatus.FAILED and report.message.startswith("Gave up after trying for 1 hours")
    assert worker.outbox.get(item_id).state is OutboxState.FAILED


def test_background_retry_sends_when_due(db: ProfileDb, server: FakeSMTP, tmp_path: Path) -> None:
    reports = []
    creds = SessionCredentials()
    creds.set("work", "smtp", "pw")
    up = threading.Event()

    def open_smtp(account: Account, password: str) -> FakeSMTP:
        if not up.is_set():
            raise NetworkError("offline")
        return server

    policy = RetryPolicy(delays=(0.2,))
    context = SendContext("test", lambda: SETTINGS, creds, open_smtp=open_smtp, open_imap=offline_imap)  # type: ignore[arg-type]
    done = threading.Event()

    def on_report(report: object) -> None:
        reports.append(report)
        if getattr(report, "status", None) is SendStatus.SENT:
            done.set()

    with SendWorker(db, context, auto_retry=True, retry_policy=policy, on_report=on_report) as worker:
        assert worker.send(message()).result(5).status is SendStatus.QUEUED
        up.set()
        assert done.wait(5)
    assert len(server.delivered) == 1
