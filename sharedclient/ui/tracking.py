"""Tracking in the window: the report line and the read-receipt question in the reading pane, and the
"Delivery report" / "Read receipt" toggles in every composer.

The reading pane shows, on a delivery report or read receipt, one line saying what it reports and which
sent message it belongs to (from the history). On a message that asks for a read receipt it asks the
person — Send receipt / Ignore — unless the profile's policy is "never"; nothing is ever sent without that
click, and either answer sets ``$MDNSent`` so the team is not asked again (``core.tracking.mdn``).
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from sharedclient.core.errors import SharedClientError
from sharedclient.core.identities import choose_reply_identity, own_identity
from sharedclient.core.mime.reply import read_original
from sharedclient.core.tracking.matcher import DeliveryTracker
from sharedclient.core.tracking.mdn import MDN_SENT, build_receipt, load_policy, receipt_request, save_policy
from sharedclient.core.tracking.reports import Report, describe, parse_report
from sharedclient.ui.messagelist import ROW_ROLE

if TYPE_CHECKING:
    from sharedclient.ui.composer import Composer
    from sharedclient.ui.mainwindow import MainWindow


class TrackingBar(QFrame):
    """One line above the message body: a report's meaning, or the read-receipt question."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trackingBar")
        self.setStyleSheet("#trackingBar { background: palette(alternate-base); border: 1px solid palette(mid); }")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setObjectName("trackingText")
        self.label.setWordWrap(True)
        self.send_button = QPushButton(self.tr("Send receipt"))
        self.send_button.setObjectName("sendReceipt")
        self.ignore_button = QPushButton(self.tr("Ignore"))
        self.ignore_button.setObjectName("ignoreReceipt")
        row.addWidget(self.label, 1)
        row.addWidget(self.send_button)
        row.addWidget(self.ignore_button)
        self.report: Report | None = None
        self.hide()

    def show_report(self, report: Report, about: str) -> None:
        self.report = report
        self.label.setText(html.escape(describe(report) + (f" {about}" if about else "")))
        self.send_button.hide()
        self.ignore_button.hide()
        self.show()

    def ask_receipt(self, address: str, suspicious: bool, policy: str) -> None:
        self.report = None
        text = self.tr("The sender asks for a read receipt (to %1).").replace("%1", address)
        if suspicious:
            text += " " + self.tr("That address is not the sender's: be careful.")
        if policy == "never":
            text += " " + self.tr("Your setting is never to send read receipts.")
        self.label.setText(html.escape(text))
        self.send_button.setVisible(policy == "ask")
        self.ignore_button.setVisible(policy == "ask")
        self.send_button.setEnabled(True)
        self.ignore_button.setEnabled(True)
        self.show()

    def clear(self) -> None:
        self.report = None
        self.hide()


class TrackingCommands:
    """Connects the bar to the window: what is shown, and answering a receipt request."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.bar = TrackingBar(window.view)
        window.view.layout().insertWidget(2, self.bar)  # under the header and buttons, above the body
        window.view.message_changed.connect(lambda: self.show_for(window.view.raw))
        self.bar.send_button.clicked.connect(lambda: self.answer(send=True))
        self.bar.ignore_button.clicked.connect(lambda: self.answer(send=False))
        self._raw = b""
        self.policy_action = QAction(window.tr("Offer to Send Read &Receipts"), window)
        self.policy_action.setObjectName("receiptPolicyAction")
        self.policy_action.setCheckable(True)
        self.policy_action.setChecked(load_policy(window.state_dir) == "ask")
        self.policy_action.setEnabled(window.state_dir is not None)
        self.policy_action.setStatusTip(window.tr("Off: read-receipt requests are shown, but never answered."))
        self.policy_action.toggled.connect(self.set_policy)
        window.menu("message").addAction(self.policy_action)

    def set_policy(self, offer: bool) -> None:
        if self.window.state_dir is None:
            return
        save_policy(self.window.state_dir, "ask" if offer else "never")
        self.show_for(self._raw)

    def _row(self):  # type: ignore[no-untyped-def]
        return self.window.list_view.currentIndex().data(ROW_ROLE)

    def show_for(self, raw: bytes) -> None:
        self._raw = raw
        if not raw:
            self.bar.clear()
            return
        report = parse_report(raw)
        if report is not None:
            self.bar.show_report(report, self._about(report))
            return
        request = receipt_request(raw)
        row = self._row()
        if request is None or (row is not None and MDN_SENT in row.flags):
            self.bar.clear()
            return
        self.bar.ask_receipt(request.address, request.suspicious, load_policy(self.window.state_dir))

    def _about(self, report: Report) -> str:
        sending = self.window.sending
        if sending is None:
            return ""
        tracker = DeliveryTracker(sending.worker.history.db)
        history_id = tracker.match(report)
        entry = sending.worker.history.get(history_id) if history_id is not None else None
        if entry is None:
            return "(not about a message in your sent-as history)"
        when = datetime.fromtimestamp(entry.time).strftime("%d %b %H:%M")
        return f"It is about “{entry.subject}”, sent as {entry.identity} on {when} (history #{entry.id})."

    def answer(self, *, send: bool) -> None:
        """Send the receipt (send=True) or decline; both set $MDNSent on the message."""
        window, folder, row, raw = self.window, self.window.current, self._row(), self._raw
        if folder is None or row is None or not raw:
            return
        self.bar.send_button.setEnabled(False)
        self.bar.ignore_button.setEnabled(False)
        if send:
            sending = window.sending
            if sending is None:
                window.statusBar().showMessage(window.tr("Sending is not set up for this window."), 10000)
                return
            try:
                candidates = sending.identities()
                choice = choose_reply_identity(read_original(raw).headers, candidates, mailbox_owner=folder.owner)
                identity = choice.identity if choice else candidates[0]
                user = own_identity(sending._settings(), identity.account)  # noqa: SLF001
                future = sending.worker.submit(build_receipt(raw, identity, user))
            except (SharedClientError, IndexError) as exc:
                window.statusBar().showMessage(getattr(exc, "user_message", "No identity to send the receipt from."), 10000)
                return
            sending._bridge.when_done(  # noqa: SLF001
                future, lambda report: window.statusBar().showMessage(report.message, 10000),
                lambda err: window.report_error(err, folder.account),
            )
        session = window.controller.sessions[folder.account]
        window.controller._bridge.when_done(  # noqa: SLF001
            session.set_flags(folder.path, [row.uid], [MDN_SENT], True),
            lambda _: (window.model.refresh_row(row.uid), self.bar.clear()),
            lambda err: window.statusBar().showMessage(
                window.tr("The receipt request was answered, but could not be marked: %1").replace(
                    "%1", getattr(err, "user_message", str(err))), 10000),
        )


def add_composer_options(composer: Composer) -> tuple[QCheckBox, QCheckBox]:
    """"Delivery report" (default: the identity's setting) and "Read receipt" next to the Send button."""
    dsn = QCheckBox(composer.tr("Delivery report"))
    dsn.setObjectName("requestDsn")
    dsn.setToolTip(composer.tr("Ask the servers to report delivery or failure for each recipient (DSN)."))
    receipt = QCheckBox(composer.tr("Read receipt"))
    receipt.setObjectName("requestReceipt")
    receipt.setToolTip(composer.tr("Ask the recipients' mail programs to confirm that the message was displayed."))

    def identity_default() -> None:
        if composer.draft.request_dsn is None:
            ident = composer.current_identity()
            dsn.setChecked(bool(ident and ident.dsn))

    identity_default()
    if composer.draft.request_dsn is not None:
        dsn.setChecked(composer.draft.request_dsn)
    receipt.setChecked(composer.draft.request_receipt)
    composer.from_picker.currentIndexChanged.connect(lambda _: identity_default())
    dsn.clicked.connect(lambda on: setattr(composer, "draft", replace(composer.draft, request_dsn=bool(on))))
    receipt.clicked.connect(lambda on: setattr(composer, "draft", replace(composer.draft, request_receipt=bool(on))))
    row = composer.button_row
    row.insertWidget(row.count() - 1, dsn)
    row.insertWidget(row.count() - 1, receipt)
    composer.tracking_options = (dsn, receipt)  # type: ignore[attr-defined]
    return dsn, receipt


def install_composer_options(sending) -> None:  # type: ignore[no-untyped-def]
    """Every composer the SendController opens gets the two toggles (hooked in ``ui.launch.build_window``)."""
    sending.composer_opened.connect(lambda composer, _original: add_composer_options(composer))


def install_tracking(window: MainWindow) -> TrackingCommands:
    """The one-line hook in ``MainWindow._install_feature_menus``."""
    window.tracking = TrackingCommands(window)  # type: ignore[attr-defined]
    return window.tracking  # type: ignore[attr-defined,no-any-return]
