"""Claim / Release in the window: Message → Claim (Ctrl+Shift+C) and Release Claim, and "held by" in the list.

The claim runs on the account's worker (``core.imap.claims``: a CONDSTORE compare-and-set); the list row
is refreshed from the flags the server reports afterwards. Without the ``w`` right both actions are
disabled and their tooltip says why; a mailbox that does not keep new keywords is reported when tried
(PERMANENTFLAGS is known only once the mailbox is selected for writing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from sharedclient.core.imap.claims import ClaimResult, claim, claim_unavailable, release
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.messages import resolve_folder
from sharedclient.ui.messagelist import ROW_ROLE

if TYPE_CHECKING:
    from sharedclient.ui.mainwindow import MainWindow


class ClaimCommands(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.claim_action = QAction(self.tr("&Claim"), window)
        self.claim_action.setObjectName("claimAction")
        self.claim_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.claim_action.triggered.connect(lambda: self.run(release_it=False))
        self.release_action = QAction(self.tr("Re&lease Claim"), window)
        self.release_action.setObjectName("releaseAction")
        self.release_action.triggered.connect(lambda: self.run(release_it=True))
        menu = window.menu("message")
        menu.addSeparator()
        menu.addAction(self.claim_action)
        menu.addAction(self.release_action)
        window.list_view.selectionModel().currentRowChanged.connect(lambda *_: self.update())
        window.model.modelReset.connect(self.update)
        self.last_result: ClaimResult | None = None
        self.update()

    def _row(self):  # type: ignore[no-untyped-def]
        return self.window.list_view.currentIndex().data(ROW_ROLE)

    def update(self) -> None:
        """Enable the actions for the selected message, or say why they are not available."""
        folder, row = self.window.current, self._row()
        reason = ""
        if folder is None or row is None:
            reason = self.tr("Select a message first.")
        else:
            reason = claim_unavailable(folder.rights, None)
        for action, tip in ((self.claim_action, self.tr("Claim this message for yourself; teammates see it as yours.")),
                            (self.release_action, self.tr("Remove your claim from this message."))):  # fmt: skip
            action.setEnabled(not reason)
            action.setToolTip(reason or tip)
            action.setStatusTip(reason or tip)

    def run(self, *, release_it: bool) -> None:
        folder, row = self.window.current, self._row()
        if folder is None or row is None:
            return
        reason = claim_unavailable(folder.rights, None)
        if reason:
            self.window.statusBar().showMessage(reason, 10000)
            return
        session = self.window.controller.sessions[folder.account]
        account, uid, path = session.account, row.uid, folder.path

        def job(conn: ImapConnection) -> str:
            current = resolve_folder(conn, account, path)
            target = {"mailbox": path, "uid": uid}
            if release_it:
                held = release(conn, current, uid, account.email)
                message = self.tr("Claim released.") if held else self.tr("Nobody held this message.")
                session.audit.record("message.release", account=account.name, target=target, details={"held_by": list(held)})
            else:
                self.last_result = result = claim(conn, current, uid, account.email)
                message = result.message
                session.audit.record("message.claim", account=account.name, target=target,
                                     result="ok" if result.won else "held", details={"holders": list(result.holders)})  # fmt: skip
            flags = conn.client.fetch([uid], ["FLAGS"]).get(uid, {}).get(b"FLAGS", ())
            names = tuple(f.decode() if isinstance(f, bytes) else str(f) for f in flags)
            session.cache.update_flags(session.cache.mailbox(path).id, [(uid, names, None)])
            return message

        self.window.controller._bridge.when_done(  # noqa: SLF001
            session.worker.submit(job),
            lambda message: self._done(uid, message),
            lambda err: self.window.report_error(err, folder.account),
        )

    def _done(self, uid: int, message: str) -> None:
        self.window.model.refresh_row(uid)
        self.window.statusBar().showMessage(message, 10000)
        self.update()


def install_claim_menu(window: MainWindow) -> ClaimCommands:
    """Message → Claim / Release Claim (the one-line hook in ``MainWindow._install_feature_menus``)."""
    window.claims = ClaimCommands(window)  # type: ignore[attr-defined]
    return window.claims  # type: ignore[attr-defined,no-any-return]
