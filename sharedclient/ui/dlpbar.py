"""DLP in the composer: a findings bar, highlights in the body, and the justification dialog.

While the person types, subject and body are scanned (debounced) with the profile's rules and the chosen
identity's actions; the bar lists rule, place and masked excerpt, and the matches are highlighted in the
body (red: blocked, amber: needs a justification). Attachments and the sending volume are checked when
Send is pressed (reading files on every keystroke would stall typing); their findings appear here too.

Sending goes through the core (``SendWorker.send`` → ``SendGuard.enforce``), which refuses and audits; this
module only shows the refusal: a block with its reason, a warning with a dialog asking for a typed
justification. Once given, the composer sends again with it (:func:`take_justification`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QPlainTextEdit,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.dlp import Finding, scan_text
from sharedclient.core.dlp_policy import BLOCK, OFF
from sharedclient.core.send_guard import GuardItem, GuardReport, JustificationRequired, SendBlocked, SendGuard

RESCAN_MS = 400
MIN_JUSTIFICATION = 5
_COLORS = {BLOCK: ("#ffcdd2", "#b71c1c"), "warn": ("#ffe0b2", "#e65100")}


def _utf16(text: str, index: int) -> int:
    """Python index → Qt document position (UTF-16 code units)."""
    return len(text[:index].encode("utf-16-le")) // 2


class DlpBar(QFrame):
    """The findings bar of one composer."""

    def __init__(self, composer: QWidget, guard: SendGuard) -> None:
        super().__init__(composer)
        self.setObjectName("dlpBar")
        self.composer = composer
        self.guard = guard
        self.items: list[GuardItem] = []
        self.justification: str | None = None  # given in the dialog, used by the next send
        self.dialog: JustificationDialog | None = None
        self.label = QLabel()
        self.label.setObjectName("dlpFindings")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RESCAN_MS)
        self._timer.timeout.connect(self.rescan)
        composer.body.textChanged.connect(self._timer.start)  # type: ignore[attr-defined]
        composer.subject.textChanged.connect(self._timer.start)  # type: ignore[attr-defined]
        composer.from_picker.currentIndexChanged.connect(self._timer.start)  # type: ignore[attr-defined]

    # -- live scan -------------------------------------------------------------------------------

    def rescan(self) -> None:
        """Scan subject and body as they are now, with the current identity's actions."""
        self.justification = None  # the text changed: a reason given for the old text no longer applies
        identity = self.composer.current_identity()  # type: ignore[attr-defined]
        policy = self.guard.policy()
        address = identity.address if identity else ""
        findings: list[Finding] = scan_text(self.composer.subject.text(), "subject", policy.rules)  # type: ignore[attr-defined]
        findings += scan_text(self.composer.body.toPlainText(), "body", policy.rules)  # type: ignore[attr-defined]
        items = []
        for f in findings:
            action = policy.action_for(f.rule, address)
            if action != OFF:
                items.append(GuardItem(f.rule, f.label, action, f.where, f.excerpt, f))
        self.show_items(items)

    def show_report(self, report: GuardReport) -> None:
        """What the core found at send time (attachments and volume included)."""
        self._timer.stop()
        self.show_items(list(report.items))

    def show_items(self, items: list[GuardItem]) -> None:
        self.items = items
        self._highlight()
        if not items:
            self.hide()
            return
        blocked = any(i.action == BLOCK for i in items)
        back, fore = _COLORS[BLOCK if blocked else "warn"]
        self.setStyleSheet(f"#dlpBar {{ background: {back}; border: 1px solid {fore}; border-radius: 3px; }}")
        head = (self.tr("Blocked — this cannot be sent as it is:") if blocked
                else self.tr("Sensitive data — sending needs a justification:"))  # fmt: skip
        lines = []
        for item in items:
            verdict = self.tr("blocked") if item.action == BLOCK else self.tr("needs justification")
            where = item.where if item.where != "volume" else self.tr("sending volume")
            lines.append(f"<li><b>{_esc(item.label)}</b> in {_esc(where)}: <code>{_esc(item.excerpt)}</code>"
                         f" — <span style='color:{_COLORS[item.action][1]}'>{verdict}</span></li>")  # fmt: skip
        self.label.setText(f"<b style='color:{fore}'>{_esc(head)}</b><ul style='margin:0'>{''.join(lines)}</ul>")
        self.show()

    def _highlight(self) -> None:
        body = self.composer.body  # type: ignore[attr-defined]
        text = body.toPlainText()
        selections = []
        for item in self.items:
            f = item.finding
            if f is None or f.where != "body" or f.end > len(text):
                continue
            cursor = QTextCursor(body.document())
            cursor.setPosition(_utf16(text, f.start))
            cursor.setPosition(_utf16(text, f.end), QTextCursor.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(_COLORS[item.action][0]))
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QColor(_COLORS[item.action][1]))
            fmt.setToolTip(f"{item.label}: {item.excerpt}")
            selection = QTextEdit.ExtraSelection()
            selection.cursor = cursor  # type: ignore[misc]
            selection.format = fmt  # type: ignore[misc]
            selections.append(selection)
        body.setExtraSelections(selections)

    # -- at send time ----------------------------------------------------------------------------

    def stopped(self, exc: SendBlocked | JustificationRequired) -> None:
        """The core refused: show why; for a warning, ask for a justification and send again with it."""
        self.show_report(exc.report)
        self.composer.send_failed(exc.user_message)  # type: ignore[attr-defined]
        if isinstance(exc, SendBlocked):
            return
        self.dialog = JustificationDialog(exc.report, self.composer)
        self.dialog.accepted.connect(self._justified)
        self.dialog.open()  # window-modal, no nested event loop

    def _justified(self) -> None:
        assert self.dialog is not None
        self.justification = self.dialog.text()
        self.composer.request_send()  # type: ignore[attr-defined]


class JustificationDialog(QDialog):
    """Asks why this message may go out despite the warnings; OK only with a real sentence."""

    def __init__(self, report: GuardReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("justificationDialog")
        self.setWindowTitle(self.tr("Justification needed"))
        self.setModal(True)
        items = "".join(f"<li><b>{_esc(i.label)}</b> in {_esc(i.where)}: <code>{_esc(i.excerpt)}</code></li>"
                        for i in report.warnings)  # fmt: skip
        intro = QLabel(
            self.tr("This message contains data that may only leave with a reason:")
            + f"<ul>{items}</ul>"
            + self.tr("Why may it be sent from %1? Your answer is kept in the audit trail and the sent-as history.")
            .replace("%1", _esc(report.identity))
        )
        intro.setWordWrap(True)
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("justificationText")
        self.reason.setPlaceholderText(self.tr("e.g. the customer asked for their own IBAN back, ticket 4471"))
        self.reason.setMaximumHeight(90)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Send with this justification"))
        self.ok_button.setObjectName("sendJustified")
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(
            lambda: self.ok_button.setEnabled(len(self.text()) >= MIN_JUSTIFICATION)
        )
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.reason)
        layout.addWidget(self.buttons)
        self.resize(520, 300)

    def text(self) -> str:
        return " ".join(self.reason.toPlainText().split())


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def install_dlp(composer: QWidget, guard: SendGuard) -> DlpBar:
    """Put the findings bar above the composer's status line (one call when a composer opens)."""
    bar = DlpBar(composer, guard)
    layout = composer.layout()
    index = layout.indexOf(composer.status)  # type: ignore[attr-defined, union-attr]
    layout.insertWidget(index if index >= 0 else layout.count(), bar)  # type: ignore[union-attr]
    composer.dlp_bar = bar  # type: ignore[attr-defined]
    bar.rescan()
    return bar


def take_justification(composer: QWidget) -> str | None:
    """The justification typed for this send (used once)."""
    bar: DlpBar | None = getattr(composer, "dlp_bar", None)
    if bar is None:
        return None
    text, bar.justification = bar.justification, None
    return text


def dlp_stopped(composer: QWidget, exc: SendBlocked | JustificationRequired) -> None:
    bar: DlpBar | None = getattr(composer, "dlp_bar", None)
    if bar is None:
        composer.send_failed(exc.user_message)  # type: ignore[attr-defined]
    else:
        bar.stopped(exc)
