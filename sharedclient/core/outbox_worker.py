"""The profile's sending worker: one thread draining the outbox, separate from the IMAP account workers
(a big fetch must never delay a reply).

Order of events for one message, chosen so a crash at any point neither loses it nor sends it twice:

1. ``compose`` in the caller's thread (bad input fails at once, before anything is stored);
2. raw bytes committed to ``outbox.sqlite`` as ``queued`` (``synchronous=FULL``) — before any network;
3. on the worker: claim (``sending``), history row, SMTP: MAIL, all RCPTs, DATA; ``phase=final-dot`` is
   committed just before the final "."; the 250 is committed as ``sent`` before anything else;
4. team copy appended over IMAP (search by Message-ID first), original flagged, outbox row removed.

Transient failures (4xx, network) go back to ``queued`` with a backoff ("queued, retrying"); permanent ones
(5xx) become ``failed`` with the server's words, the message kept for editing and ``outbox retry``.
A sender refused for permission also marks the identity *denied*; an accepted one marks it *verified*.

Results are ``concurrent.futures.Future[SendReport]`` resolved after the first attempt (the CLI waits on
it; the GUI bridges it to its thread). Later outcomes of background retries go to ``on_report``.
Construct a SendWorker only while holding the profile lock: its start-up recovery assumes nobody else sends
from this outbox.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from imapclient import IMAPClient

from sharedclient.core import smtp
from sharedclient.core.auditing import NO_AUDIT, AuditRecorder
from sharedclient.core.errors import (
    AuthError,
    DeliveryUncertain,
    NetworkError,
    NotFoundError,
    SenderRefused,
    SendError,
    SharedClientError,
    TlsError,
)
from sharedclient.core.identities import (
    CheckResult,
    IdentityStatus,
    find_identity,
    own_identity,
)
from sharedclient.core.imap.answered import mark_original
from sharedclient.core.imap.claims import release_after_send
from sharedclient.core.imap.sent_copy import append_copy, choose_sent_folder, sent_candidates
from sharedclient.core.imap.session import close_imap, open_imap
from sharedclient.core.mime.compose import ComposedMessage, OutgoingMessage, compose, team_copy
from sharedclient.core.model import Account, Identity, SendMode
from sharedclient.core.secrets import CredentialStore
from sharedclient.core.settings import Settings
from sharedclient.core.store.checks import IdentityCheckStore
from sharedclient.core.store.history import HistoryEntry, SendHistory
from sharedclient.core.store.outbox import OriginalRef, OutboxItem, OutboxState, OutboxStore
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.send_guard import SendGuard

log = logging.getLogger(__name__)

NEVER = 9e18  # "no automatic retry" as a next_attempt time


class SendStatus(str, Enum):
    SENT = "sent"  # the server accepted it (250)
    QUEUED = "queued"  # not yet: kept in the outbox and retried
    FAILED = "failed"  # refused or uncertain: kept in the outbox, resent only on request
    CANCELLED = "cancelled"  # cancelled before it was sent; kept in the outbox


@dataclass(frozen=True)
class SendReport:
    """The outcome of one attempt, in words for the person and in fields for code."""

    item_id: int
    status: SendStatus
    message: str
    smtp_reply: str = ""
    message_id: str = ""
    copy_mailbox: str | None = None
    warnings: tuple[str, ...] = field(default=())
    history_id: int | None = None
    next_attempt: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for transient failures, and when to stop trying by ourselves."""

    delays: tuple[float, ...] = (30, 60, 120, 300, 600, 900)
    give_up_after: float = 2 * 86400
    copy_attempts: int = 5

    def delay(self, attempt: int) -> float:
        return self.delays[min(max(attempt, 1), len(self.delays)) - 1]


@dataclass
class SendContext:
    """Everything the worker needs from outside, passed in (no globals), so tests can swap any part."""

    profile_name: str
    settings: Callable[[], Settings]
    credentials: CredentialStore
    open_smtp: Callable[[Account, str], smtplib.SMTP] = smtp.open_smtp
    open_imap: Callable[[Account, str], IMAPClient] = open_imap
    clock: Callable[[], float] = time.time
    audit: AuditRecorder = NO_AUDIT  # send attempts, outcomes and DLP verdicts go to the audit trail


_Job = tuple[str, Any, "Future[Any] | None"]


class SendWorker:
    """One thread per profile that sends queued messages, one at a time, in order."""

    def __init__(
        self,
        db: ProfileDb,
        context: SendContext,
        *,
        auto_retry: bool = True,
        retry_policy: RetryPolicy = RetryPolicy(),
        on_report: Callable[[SendReport], None] | None = None,
    ) -> None:
        self.context = context
        self.outbox = OutboxStore(db, context.clock)
        self.history = SendHistory(db, context.clock)
        self.checks = IdentityCheckStore(db)
        self.guard = SendGuard(context.settings, db, context.audit, context.clock)
        self.retry_policy = retry_policy
        self.auto_retry = auto_retry
        self._on_report = on_report or (lambda report: None)
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._waiters: dict[int, Future[SendReport]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.recovered = self.outbox.recover()  # what a crash left in "sending"
        for item in self.recovered:  # and the interrupted attempt's history row says what became of it
            self.history.finish_interrupted(item.id, "uncertain" if item.state is OutboxState.FAILED else "retrying")
        for item in self.outbox.items((OutboxState.SENT,)):  # killed between recording the 250 and the history
            self.history.finish_interrupted(item.id, "sent", item.smtp_reply)
        self._thread = threading.Thread(target=self._run, name=f"send-{context.profile_name}", daemon=True)
        self._thread.start()

    # -- API (any thread) --------------------------------------------------------------------------

    def compose(self, message: OutgoingMessage) -> ComposedMessage:
        """Build and verify the wire bytes (raises UsageError/UnsafeMessageError; nothing stored)."""
        user = own_identity(self.context.settings(), message.identity.account)
        return compose(message, user)

    def send(
        self, message: OutgoingMessage, *, original: OriginalRef | None = None, justification: str | None = None
    ) -> Future[SendReport]:
        """DLP and volume checks, compose, store durably, and send; the Future resolves after the first attempt.

        Raises SendBlocked, or JustificationRequired when a warning matched and no ``justification`` was given.
        """
        report = self.guard.enforce(message, justification)
        composed = self.compose(message)
        return self.submit(composed, original=original, justification=(justification or "").strip() if report.items else "")

    def submit(
        self, composed: ComposedMessage, *, original: OriginalRef | None = None, justification: str = ""
    ) -> Future[SendReport]:
        """Store an already composed message as queued and send it (``Future.cancel()`` works until it starts).

        Only for messages that passed ``guard.enforce``: ``send`` is the way in for new messages.
        """
        future: Future[SendReport] = Future()
        with self._lock:
            item = self.outbox.add(composed, original=original, justification=justification)
            self._waiters[item.id] = future
        self._put(("item", item.id, None))
        return future

    def retry(self, item_id: int) -> Future[SendReport]:
        """Send a failed, cancelled or waiting message again now (``outbox retry``)."""
        future: Future[SendReport] = Future()
        with self._lock:
            self.outbox.requeue(item_id)
            self._waiters[item_id] = future
        self._put(("item", item_id, None))
        return future

    def flush(self) -> Future[list[SendReport]]:
        """Try every queued message now (ignoring backoff) and every pending team copy."""
        future: Future[list[SendReport]] = Future()
        self._put(("flush", None, future))
        return future

    def cancel(self, item_id: int) -> bool:
        """Stop a queued message from being sent (it stays in the outbox as cancelled)."""
        with self._lock:
            done = self.outbox.cancel(item_id)
            waiter = self._waiters.pop(item_id, None) if done else None
        if waiter is not None and waiter.set_running_or_notify_cancel():
            waiter.set_result(self._cancelled(item_id))
        return done

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the message being sent (never cut off mid-DATA), then stop; queued ones stay queued."""
        self._stopping.set()
        self._jobs.put(None)
        self._thread.join(timeout)
        while True:  # jobs never started: their messages stay queued in the database
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and job[2] is not None:
                job[2].cancel()
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        for item_id, future in waiters.items():
            if future.set_running_or_notify_cancel():
                future.set_result(
                    SendReport(item_id, SendStatus.QUEUED, "SharedClient is closing; the message stays in the outbox.")
                )

    def __enter__(self) -> SendWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the thread --------------------------------------------------------------------------------

    def _put(self, job: _Job) -> None:
        if self._stopping.is_set():
            raise NetworkError("The sending worker is shutting down; the message stays in the outbox.")
        self._jobs.put(job)

    def _wait_time(self) -> float | None:
        if not self.auto_retry:
            return None
        wake = self.outbox.next_wakeup()
        if wake is None:
            return 60.0
        return min(max(wake - self.context.clock(), 0.05), 60.0)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self._jobs.get(timeout=self._wait_time())
            except queue.Empty:
                job = None
            if job is None and self._stopping.is_set():
                break
            try:
                if job is not None:
                    self._run_job(job)
                if self.auto_retry and not self._stopping.is_set():
                    self._drain(force=False)
            except Exception:  # noqa: BLE001 - the worker must survive any bug in one job
                log.exception("sending worker job failed")

    def _run_job(self, job: _Job) -> None:
        kind, arg, future = job
        if kind == "item":
            self._process(int(arg))
        elif kind == "flush" and future is not None and future.set_running_or_notify_cancel():
            try:
                future.set_result(self._drain(force=True))
            except BaseException as exc:  # noqa: BLE001
                future.set_exception(exc)

    def _drain(self, *, force: bool) -> list[SendReport]:
        now = float("inf") if force else self.context.clock()
        reports = []
        attempted = set()
        for item_id in self.outbox.due(now):
            if self._stopping.is_set() and not force:
                break
            report = self._process(item_id)
            if report is not None:
                reports.append(report)
                attempted.add(item_id)
        for item_id in self.outbox.copies_due(now):
            if item_id not in attempted:  # its copy was just tried as part of sending it
                reports.append(self._finish_copy(self.outbox.get(item_id)))
        return reports

    def _process(self, item_id: int) -> SendReport | None:
        with self._lock:
            waiter = self._waiters.pop(item_id, None)
        if waiter is not None and not waiter.set_running_or_notify_cancel():
            self.outbox.cancel(item_id)
            report = self._cancelled(item_id)
            self._on_report(report)
            return report
        try:
            report = self._attempt(item_id)
        except BaseException as exc:
            if waiter is not None:
                waiter.set_exception(exc)
            raise
        if report is not None:
            self._on_report(report)
        if waiter is not None:
            waiter.set_result(report or self._report_from_state(item_id))
        return report

    # -- one attempt -------------------------------------------------------------------------------

    def _cancelled(self, item_id: int) -> SendReport:
        return SendReport(item_id, SendStatus.CANCELLED, "Cancelled; the message stays in the outbox (outbox retry sends it).")

    def _report_from_state(self, item_id: int) -> SendReport:
        try:
            item = self.outbox.get(item_id)
        except NotFoundError:
            return SendReport(item_id, SendStatus.SENT, "The message was already sent.")
        status = {OutboxState.FAILED: SendStatus.FAILED, OutboxState.CANCELLED: SendStatus.CANCELLED}.get(
            item.state, SendStatus.QUEUED
        )
        return SendReport(item_id, status, item.last_error or item.status_text, item.smtp_reply, item.message_id)

    def _identity_of(self, item: OutboxItem, settings: Settings) -> Identity:
        try:
            ident = find_identity(settings, item.identity)
            if ident.account == item.account and ident.mode.value == item.mode:
                return ident
        except NotFoundError:
            pass
        return Identity(address=item.identity, name="", account=item.account, mode=SendMode(item.mode))

    def _attempt(self, item_id: int) -> SendReport | None:
        item = self.outbox.get(item_id)
        if item.state is not OutboxState.QUEUED or not self.outbox.claim(item_id):
            return None
        item = self.outbox.get(item_id)
        history_id = self.history.record(self._history_entry(item))
        self.outbox.set_history(item_id, history_id)
        self._audit("send.attempt", item, history_id)
        settings = self.context.settings()
        try:
            account = settings.account(item.account)
            password = self.context.credentials.get(account.name, "smtp")
            if password is None:
                raise AuthError(f"No SMTP password is stored for account “{account.name}”; add the account again.")
            conn = self.context.open_smtp(account, password)
        except NetworkError as exc:
            if isinstance(exc, TlsError):
                return self._failed(item, history_id, exc.user_message, "")
            return self._transient(item, history_id, exc.user_message + " The message stays in the outbox and is retried.", "")
        except SharedClientError as exc:  # AuthError, unknown account, protocol trouble: a person must act
            return self._failed(item, history_id, exc.user_message, "")
        try:
            reply = smtp.submit(
                conn,
                item.envelope_from,
                item.recipients,
                self.outbox.raw(item_id),
                identity_address=item.identity,
                mode=SendMode(item.mode),
                envid=f"sc{history_id}" if item.dsn else None,
                before_final_dot=lambda: self.outbox.mark_final_dot(item_id),
            )
        except SenderRefused as exc:
            self.checks.record(
                self._identity_of(item, settings),
                CheckResult(IdentityStatus.DENIED, exc.user_message, self.context.clock()),
            )
            return self._failed(item, history_id, exc.user_message, exc.smtp_reply)
        except DeliveryUncertain as exc:
            return self._failed(item, history_id, exc.user_message, exc.smtp_reply, status="uncertain")
        except SendError as exc:
            if exc.permanent:
                return self._failed(item, history_id, exc.user_message, exc.smtp_reply)
            return self._transient(item, history_id, exc.user_message, exc.smtp_reply)
        finally:
            smtp.close_smtp(conn)
        # Accepted. Commit that before anything else can go wrong.
        self.outbox.mark_sent(item_id, reply)
        self.history.finish(history_id, "sent", reply)
        self._audit("send.accepted", item, history_id, smtp_reply=reply)
        self.checks.record(
            self._identity_of(item, settings),
            CheckResult(IdentityStatus.VERIFIED, f"a message was accepted ({reply})", self.context.clock()),
        )
        return self._finish_copy(self.outbox.get(item_id))

    def _history_entry(self, item: OutboxItem) -> HistoryEntry:
        return HistoryEntry(
            id=0, time=self.context.clock(), profile=self.context.profile_name, account=item.account,
            identity=item.identity, mode=item.mode, user=item.user, envelope_from=item.envelope_from,
            from_header=item.from_header, sender_header=item.sender_header, recipients=item.recipients,
            subject=item.subject, message_id=item.message_id, size=item.size, smtp_reply="", status="sending",
            copy_mailbox="", outbox_id=item.id, justification=item.justification,
        )  # fmt: skip

    def _audit(self, action: str, item: OutboxItem, history_id: int, result: str = "ok", **details: Any) -> None:
        self.context.audit.record(
            action, account=item.account, result=result,
            target={"message_id": item.message_id, "history_id": history_id},
            details={"identity": item.identity, "mode": item.mode, "recipients": list(item.recipients),
                     "subject": item.subject, **({"justification": item.justification} if item.justification else {}),
                     **details},
        )  # fmt: skip

    def _failed(
        self, item: OutboxItem, history_id: int, sentence: str, reply: str, *, status: str = "failed"
    ) -> SendReport:
        self.outbox.mark_failed(item.id, sentence, reply)
        self.history.finish(history_id, status, reply)
        self._audit("send.refused", item, history_id, result=status, reason=sentence, smtp_reply=reply)
        return SendReport(item.id, SendStatus.FAILED, sentence, reply, item.message_id, history_id=history_id)

    def _transient(self, item: OutboxItem, history_id: int, sentence: str, reply: str) -> SendReport:
        now = self.context.clock()
        if now - item.created > self.retry_policy.give_up_after:
            hours = self.retry_policy.give_up_after / 3600
            return self._failed(item, history_id, f"Gave up after trying for {hours:g} hours: {sentence}", reply)
        next_attempt = now + self.retry_policy.delay(item.attempts)
        self.outbox.mark_retry(item.id, sentence, reply, next_attempt)
        self.history.finish(history_id, "retrying", reply)
        self._audit("send.deferred", item, history_id, result="retrying", reason=sentence, smtp_reply=reply)
        when = datetime.fromtimestamp(next_attempt).strftime("%H:%M:%S")
        return SendReport(
            item.id, SendStatus.QUEUED, f"Not sent yet, queued, retrying (next attempt at {when}): {sentence}",
            reply, item.message_id, history_id=history_id, next_attempt=next_attempt,
        )  # fmt: skip

    # -- after the 250: team copy and the original's flag ------------------------------------------

    def _finish_copy(self, item: OutboxItem) -> SendReport:
        settings = self.context.settings()
        sent = f"Sent from {item.from_header}" + (f" (Sender: {item.sender_header})" if item.sender_header else "")
        sent += f" to {', '.join(item.recipients)}."
        base = dict(item_id=item.id, status=SendStatus.SENT, smtp_reply=item.smtp_reply, message_id=item.message_id,
                    history_id=item.history_id)  # fmt: skip
        try:
            account = settings.account(item.account)
            identity = self._identity_of(item, settings)
            password = self.context.credentials.get(account.name, "imap")
            if password is None:
                raise AuthError(f"No IMAP password is stored for account “{account.name}”.")
            client = self.context.open_imap(account, password)
        except SharedClientError as exc:
            return self._copy_later(item, sent, exc.user_message, base)
        warnings: list[str] = []
        try:
            target = choose_sent_folder(sent_candidates(client, account, identity), identity)
            if target.warning:
                warnings.append(target.warning)
            if target.path is not None:
                data = team_copy(self.outbox.raw(item.id), item.user, item.bcc)
                if not append_copy(client, target.path, data, item.message_id):
                    log.info("%s already in %s; not appended again", item.message_id, target.path)
            if item.original is not None:
                warnings.extend(self._mark_original(item.original, client, account, settings))
        except SharedClientError as exc:
            close_imap(client)
            return self._copy_later(item, sent, exc.user_message, base)
        except Exception as exc:  # noqa: BLE001 - IMAP trouble after a successful send must not lose the copy
            close_imap(client)
            return self._copy_later(item, sent, f"the IMAP server failed ({exc})", base)
        close_imap(client)
        if item.history_id is not None:
            self.history.set_copy_mailbox(item.history_id, target.path or "")
        self.outbox.remove(item.id)
        where = f" Copy saved in {target.path}." if target.path else ""
        return SendReport(message=sent + where, copy_mailbox=target.path, warnings=tuple(warnings), **base)  # type: ignore[arg-type]

    def _mark_original(self, original: OriginalRef, client: IMAPClient, account: Account, settings: Settings) -> list[str]:
        if original.account == account.name:
            note = mark_original(client, original.path, original.uid, original.kind)
            release_after_send(client, original.path, original.uid, account.email)  # the answer ends the claim
            return [note] if note else []
        try:
            other = settings.account(original.account)
            password = self.context.credentials.get(other.name, "imap") or ""
            other_client = self.context.open_imap(other, password)
        except SharedClientError as exc:
            return [f"The original message was not marked: {exc.user_message}"]
        try:
            note = mark_original(other_client, original.path, original.uid, original.kind)
            release_after_send(other_client, original.path, original.uid, other.email)
        finally:
            close_imap(other_client)
        return [note] if note else []

    def _copy_later(self, item: OutboxItem, sent: str, problem: str, base: dict[str, Any]) -> SendReport:
        attempts = item.copy_attempts + 1
        if attempts >= self.retry_policy.copy_attempts:
            next_attempt = NEVER
            warning = (f"The message was sent, but its copy could not be saved ({problem}); it stays in the outbox "
                       "until `outbox flush` saves it or you delete it.")  # fmt: skip
        else:
            next_attempt = self.context.clock() + self.retry_policy.delay(attempts)
            warning = f"The message was sent, but its copy could not be saved yet ({problem}); SharedClient tries again."
        self.outbox.copy_retry(item.id, warning, next_attempt)
        return SendReport(message=sent, warnings=(warning,), **base)  # type: ignore[arg-type]
