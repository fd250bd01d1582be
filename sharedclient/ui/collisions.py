"""Before a reply from a shared mailbox goes out: "Bob answered this at 10:42 — send anyway?".

When a reply composer opens on a message of a shared mailbox, the original's flags and MODSEQ are read
on the account's worker (``core.imap.collision.baseline``). When the person presses Send, the check runs
on the worker too (CHANGEDSINCE, and the shared Sent folder's trace header); the GUI thread never waits.
If a teammate answered or claimed the message meanwhile, a dialog names who and when and offers
"Send anyway" or "Don't send" (the composer stays open with the text). Without a baseline (offline when
the composer opened) the send is not held up.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from sharedclient.core.drafts import Draft
from sharedclient.core.imap.collision import Baseline, Collision, baseline, check
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.sent_copy import _best as sent_folder_among
from sharedclient.core.model import Folder, Section
from sharedclient.core.store.outbox import OriginalRef

if TYPE_CHECKING:
    from sharedclient.ui.composer import Composer
    from sharedclient.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)


class CollisionGuard:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.sending = window.sending
        self._baselines: dict[int, tuple[OriginalRef, Folder, Future[Baseline]]] = {}
        self._cleared: set[int] = set()  # composers whose send was checked (or confirmed) already
        self.dialog: QMessageBox | None = None
        self.sending.composer_opened.connect(self.opened)
        self.sending.before_send = self.before_send

    def _folder(self, ref: OriginalRef) -> Folder | None:
        return next((f for f in self.window.controller.folders.get(ref.account, []) if f.path == ref.path), None)

    def opened(self, composer: Composer, _original: object) -> None:
        draft = composer.draft
        if not draft.in_reply_to or not draft.reply_kind.startswith("reply"):
            return
        ref = OriginalRef.parse(draft.in_reply_to, "reply")
        folder = self._folder(ref)
        session = self.window.controller.sessions.get(ref.account)
        shared = folder is not None and (folder.section is not Section.PERSONAL or session is not None
                                         and session.account.kind == "shared")  # fmt: skip
        if session is None or not shared:
            return
        future = session.worker.submit(lambda conn: baseline(conn, ref.path, ref.uid))
        self._baselines[id(composer)] = (ref, folder, future)  # type: ignore[assignment]
        composer.closed.connect(lambda *_: self._baselines.pop(id(composer), None))

    def _sent_path(self, folder: Folder) -> str | None:
        """The team's Sent folder next to ``folder`` (same owner), if the person may read it."""
        folders = self.window.controller.folders.get(folder.account, [])
        same = [f for f in folders if f.owner == folder.owner and f.section is folder.section and "r" in f.rights]
        best = sent_folder_among(same)
        return best.path if best is not None else None

    def before_send(self, composer: Composer, draft: Draft) -> bool:
        """True when the send is held for the check (it resumes by itself when all is well)."""
        key = id(composer)
        if key in self._cleared or key not in self._baselines:
            return False
        ref, folder, future = self._baselines[key]
        session = self.window.controller.sessions[ref.account]
        sent_path = self._sent_path(folder)
        me = session.account.email

        def job(conn: ImapConnection) -> list[Collision]:
            try:
                base = future.result(timeout=0)  # the same worker ran it before this job
            except Exception:  # noqa: BLE001 - no baseline (offline when opened): do not hold the reply up
                log.info("no collision baseline for %s", ref, exc_info=True)
                return []
            return check(conn, base, me, sent_path)

        self.window.controller._bridge.when_done(  # noqa: SLF001
            session.worker.submit(job),
            lambda found: self._decide(composer, draft, found),
            lambda err: self._resume(composer, draft),  # the check failed: sending matters more
        )
        return True

    def _resume(self, composer: Composer, draft: Draft) -> None:
        self._cleared.add(id(composer))
        self.sending.send(composer, draft)

    def _decide(self, composer: Composer, draft: Draft, found: list[Collision]) -> None:
        if not found:
            self._resume(composer, draft)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, composer.tr("Someone got there first"),
                          composer.tr("While you were writing, a teammate took care of this message:"), parent=composer)  # fmt: skip
        box.setObjectName("collisionDialog")
        box.setInformativeText("\n".join(c.sentence for c in found))
        send = box.addButton(composer.tr("Send anyway"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(composer.tr("Don't send"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(box.buttons()[-1])

        def chosen(button) -> None:  # type: ignore[no-untyped-def]
            self.dialog = None
            if button is send:
                self._resume(composer, draft)
            else:
                composer.send_failed(composer.tr("Not sent. ") + " ".join(c.sentence for c in found))

        box.buttonClicked.connect(chosen)
        self.dialog = box
        box.open()


def install_collision_guard(window: MainWindow) -> CollisionGuard | None:
    """Hooked in ``ui.launch.build_window`` once the window can send."""
    if window.sending is None:
        return None
    window.collisions = CollisionGuard(window)  # type: ignore[attr-defined]
    return window.collisions  # type: ignore[attr-defined,no-any-return]
