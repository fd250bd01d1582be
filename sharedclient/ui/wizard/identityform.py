"""One identity's editor (address, Send As / On Behalf, display name, aliases, signature) with the
server's verdict and a "Check permission" button; used by the wizard and the Settings window."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from sharedclient.core.errors import UsageError
from sharedclient.core.identities import CheckResult, IdentityStatus
from sharedclient.core.mime.addresses import check_text, strict_addr_spec
from sharedclient.core.model import Identity, SendMode

MODE_LABELS = {
    SendMode.OWN: "My own address",
    SendMode.SEND_AS: "Send As (From is the shared address)",
    SendMode.ON_BEHALF: "On Behalf (“you on behalf of …”)",
}
VERDICT_WORDS = {IdentityStatus.VERIFIED: "✔ allowed", IdentityStatus.DENIED: "✘ refused", IdentityStatus.UNKNOWN: "? not known"}


def verdict_text(result: CheckResult | None) -> str:
    if result is None:
        return "Not checked yet."
    return f"{VERDICT_WORDS[result.status]} — {result.reason}" if result.reason else VERDICT_WORDS[result.status]


class IdentityForm(QWidget):
    check_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.address = QLineEdit()
        self.address.setObjectName("identityAddress")
        self.address.setAccessibleName(self.tr("Address"))
        self.mode = QComboBox()
        self.mode.setObjectName("identityMode")
        self.mode.setAccessibleName(self.tr("How you send from it"))
        for mode, label in MODE_LABELS.items():
            self.mode.addItem(self.tr(label), mode)
        self.display_name = QLineEdit()
        self.display_name.setObjectName("identityName")
        self.display_name.setAccessibleName(self.tr("Display name"))
        self.aliases = QLineEdit()
        self.aliases.setObjectName("identityAliases")
        self.aliases.setAccessibleName(self.tr("Aliases"))
        self.aliases.setPlaceholderText(self.tr("other addresses of it, separated by commas"))
        self.reply_to = QLineEdit()
        self.reply_to.setObjectName("identityReplyTo")
        self.reply_to.setAccessibleName(self.tr("Reply-To"))
        self.signature = QPlainTextEdit()
        self.signature.setObjectName("identitySignature")
        self.signature.setAccessibleName(self.tr("Signature"))
        self.signature.setFixedHeight(70)
        self.verdict = QLabel(self.tr("Not checked yet."))
        self.verdict.setObjectName("identityVerdict")
        self.verdict.setWordWrap(True)
        self.check_button = QPushButton(self.tr("Check permission"))
        self.check_button.setObjectName("checkPermission")
        self.check_button.setToolTip(self.tr("Asks your mail server whether you may send from this address; sends nothing."))
        self.check_button.clicked.connect(self.check_requested)
        form = QFormLayout(self)
        form.addRow(self.tr("Address:"), self.address)
        form.addRow(self.tr("Sending:"), self.mode)
        form.addRow(self.tr("Display name:"), self.display_name)
        form.addRow(self.tr("Aliases:"), self.aliases)
        form.addRow(self.tr("Reply-To:"), self.reply_to)
        form.addRow(self.tr("Signature:"), self.signature)
        form.addRow(self.tr("Server's verdict:"), self.verdict)
        form.addRow("", self.check_button)

    def set_identity(self, identity: Identity, result: CheckResult | None = None) -> None:
        self.address.setText(identity.address)
        self.mode.setCurrentIndex(self.mode.findData(identity.mode))
        self.display_name.setText(identity.name)
        self.aliases.setText(", ".join(identity.aliases))
        self.reply_to.setText(identity.reply_to or "")
        self.signature.setPlainText(identity.signature)
        self.show_verdict(result)

    def show_verdict(self, result: CheckResult | None) -> None:
        self.verdict.setText(verdict_text(result))

    def identity(self, template: Identity, own_address: str) -> Identity:
        """``template`` with the fields edited here; UsageError with one sentence for a bad value."""
        address = strict_addr_spec(self.address.text().strip())
        mode = SendMode(self.mode.currentData())  # Qt hands str-enums back as plain str
        if mode is not SendMode.OWN and address.lower() == own_address.lower():
            raise UsageError(f"{address} is your own address: choose “{MODE_LABELS[SendMode.OWN]}” for it.")
        if mode is SendMode.OWN and address.lower() != own_address.lower():
            raise UsageError(f"{address} is not this account's own address ({own_address}): choose Send As or On Behalf.")
        name = " ".join(check_text(self.display_name.text(), "The display name").split())
        aliases = tuple(strict_addr_spec(a.strip()) for a in self.aliases.text().split(",") if a.strip())
        reply_to = self.reply_to.text().strip()
        return Identity(
            address=address, name=name, account=template.account, mode=mode, aliases=aliases,
            reply_to=strict_addr_spec(reply_to) if reply_to else None, signature=self.signature.toPlainText().rstrip(),
            mailbox_owner=template.mailbox_owner, sent_folder=template.sent_folder, dsn=template.dsn,
        )  # fmt: skip
