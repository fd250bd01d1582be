"""Sending from the window: new message, reply, reply all, forward, and the sent-as history.

Glue between the composer (a ``Draft`` editor) and the send core (``SendWorker``: durable outbox,
permission-aware identities, shared Sent copy, history). Sending runs on the send worker's thread;
results come back through the main-thread bridge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from sharedclient.core.drafts import Draft, DraftStore
from sharedclient.core.errors import SharedClientError
from sharedclient.core.identities import choose_reply_identity, own_identity, permitted_identities
from sharedclient.core.mime.addresses import format_address
from sharedclient.core.mime.compose import OutgoingMessage, recipient_view
from sharedclient.core.draft_message import outgoing_from_draft
from sharedclient.core.mime.reply import Original, forward_message, read_original, reply_message
from sharedclient.core.model import Folder, Identity
from sharedclient.core.outbox_worker import SendReport, SendStatus, SendWorker
from sharedclient.core.send_guard import JustificationRequired, SendBlocked
from sharedclient.core.settings import Settings
from sharedclient.core.store.history import SendHistory
from sharedclient.core.store.outbox import OriginalRef
from sharedclient.ui.bridge import MainThreadBridge
from sharedclient.ui.composer import Composer
from sharedclient.ui.dlpbar import dlp_stopped, install_dlp, take_justification
from sharedclient.ui.history import HistoryView

log = logging.getLogger(__name__)


class SendController(QObject):
    notice = Signal(str)  # "queued, retrying…", "the copy went to your personal Sent because…"
    composer_opened = Signal(object, object)  # Composer, the Original it answers or None (ui.teamdesk hooks in)
    def __init__(self, worker: SendWorker, drafts: DraftStore, settings: Callable[[], Settings],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.drafts = drafts
        self._settings = settings
        self._bridge = MainThreadBridge(self)
        self.composers: list[Composer] = []
        self._originals: dict[str, Original] = {}  # draft id -> the message it answers or forwards
        #: A gate before queueing: returns True when it holds the send and will call send() again itself.
        self.before_send: Callable[[Composer, Draft], bool] | None = None

    # -- identities --------------------------------------------------------------------------------

    def identities(self) -> list[Identity]:
        return [o.identity for o in permitted_identities(self._settings(), self.worker.checks.all())]

    def _view(self, identity: Identity) -> str:
        return recipient_view(identity, own_identity(self._settings(), identity.account))

    def _completions(self) -> list[str]:
        seen: dict[str, None] = {}
        for entry in self.worker.history.query():
            for rcpt in entry.recipients:
                seen.setdefault(rcpt, None)
        return list(seen)

    # -- opening composers -------------------------------------------------------------------------

    def new_message(self, parent: QWidget | None = None, draft: Draft | None = None) -> Composer:
        return self._open(draft or Draft(), "", None)

    def reply(self, raw: bytes, folder: Folder, uid: int, *, reply_all: bool = False, forward: bool = False) -> Composer:
        original = read_original(raw)
        candidates = self.identities()
        settings = self._settings()
        default = own_identity(settings, folder.account) if settings.accounts else None
        choice = choose_reply_identity(original.headers, candidates, mailbox_owner=folder.owner, default=default)
        identity = choice.identity if choice else (candidates[0] if candidates else None)
        if identity is None:
            raise SharedClientError("There is no identity you may send from; add an account first.")
        if forward:
            base = forward_message(original, identity)
        else:
            base = reply_message(original, identity, reply_all=reply_all)
        draft = Draft(
            identity=identity.address,
            to=tuple(format_address(a) for a in base.to),
            cc=tuple(format_address(a) for a in base.cc),
            subject=base.subject,
            body="\n\n" + base.quote if base.quote else "",
            attachments=(),
            in_reply_to=f"{folder.account}:{folder.path}:{uid}",
            reply_kind="forward" if forward else ("reply-all" if reply_all else "reply"),
        )
        reason = f"Answering as {identity.address}: {choice.reason}." if choice and not forward else ""
        return self._open(draft, reason, original)

    def _open(self, draft: Draft, reason: str, original: Original | None) -> Composer:
        composer = Composer(self.identities(), self._view, self.drafts, draft, self._completions(), reason)
        if original is not None:
            self._originals[composer.draft.id] = original
        composer.send_requested.connect(lambda d, c=composer: self.send(c, d))
        install_dlp(composer, self.worker.guard)  # findings bar and highlights (ui.dlpbar)
        composer.closed.connect(lambda draft_id, c=composer: self._forget(c, draft_id))
        self.composers.append(composer)
        self.composer_opened.emit(composer, original)
        composer.show()
        return composer

    def _forget(self, composer: Composer, draft_id: str) -> None:
        if composer in self.composers:
            self.composers.remove(composer)
        self._originals.pop(draft_id, None)

    # -- sending -----------------------------------------------------------------------------------

    def outgoing(self, draft: Draft) -> tuple[OutgoingMessage, OriginalRef | None]:
        """Draft -> OutgoingMessage, only from a permitted identity (strict parsing; sentences on error)."""
        if draft.identity not in {i.address for i in self.identities()}:
            raise SharedClientError(f"You may not send as {draft.identity or 'nobody'} (not a permitted identity).")
        return outgoing_from_draft(draft, self._settings(), self._originals.get(draft.id))

    def send(self, composer: Composer, draft: Draft) -> None:
        if self.before_send is not None and self.before_send(composer, draft):
            return  # held (ui.collisions: "a teammate answered meanwhile"); it calls send() again to go on
        try:
            message, original = self.outgoing(draft)
            future = self.worker.send(message, original=original, justification=take_justification(composer))
        except (SendBlocked, JustificationRequired) as exc:  # refused and audited by the core; shown here
            dlp_stopped(composer, exc)
            return
        except SharedClientError as exc:
            composer.send_failed(exc.user_message)
            return
        self._bridge.when_done(future, lambda report: self._report(composer, report),
                               lambda err: composer.send_failed(err.user_message))

    def _report(self, composer: Composer, report: SendReport) -> None:
        if report.status is SendStatus.SENT:
            composer.sent()
            if report.warnings:
                self.notice.emit(" ".join(report.warnings))
        elif report.status is SendStatus.QUEUED:
            composer.sent()  # safe in the outbox; it is retried by itself
            self.notice.emit(report.message)
        else:
            composer.send_failed(report.message)

    # -- history -----------------------------------------------------------------------------------

    def history_window(self) -> HistoryView:
        history: SendHistory = self.worker.history
        addresses = [i.address for i in self.identities()]

        def raw(entry):  # type: ignore[no-untyped-def]
            if entry.outbox_id is None:
                return None
            try:
                return self.worker.outbox.raw(entry.outbox_id)
            except SharedClientError:
                return None

        view = HistoryView(history, addresses, raw)
        view.show()
        self._history_view = view
        return view

    def shutdown(self) -> None:
        self.worker.stop()
