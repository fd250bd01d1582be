"""The Identities window: every address the user may (or may not) send from, with the server's verdict.

A denied identity never appears in the From-picker; here it is listed with the server's words and a
"Check again" button. Checks send nothing (MAIL FROM / RCPT TO / RSET) and run off the GUI thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.identities import CheckResult, IdentityOption, identity_options, own_identity, probe_identity
from sharedclient.ui.sending import SendController

COLUMNS = ("Address", "Name", "Mode", "Account", "Status", "Server's answer", "Checked")


class IdentitiesWindow(QWidget):
    def __init__(self, sending: SendController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("identitiesWindow")
        self.setWindowTitle(self.tr("Identities"))
        self.resize(1000, 360)
        self.sending = sending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="identity-check")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("identityTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for col, width in enumerate((190, 120, 80, 80, 80, 0, 130)):
            if width:
                header.resizeSection(col, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.check_button = QPushButton(self.tr("Check again"))
        self.check_button.setObjectName("checkAgain")
        self.check_button.clicked.connect(self.check_selected)
        self.note = QLabel(self.tr(
            "Whether you may send as an address is decided by your mail server; a check sends nothing. "
            "Identities the server refused are not offered when you write."
        ))
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.check_button)
        self.options: list[IdentityOption] = []
        self.refresh()

    def refresh(self) -> None:
        self.options = identity_options(self.sending._settings(), self.sending.worker.checks.all())  # noqa: SLF001
        self.table.setRowCount(len(self.options))
        for row, option in enumerate(self.options):
            ident = option.identity
            when = datetime.fromtimestamp(option.checked_at).strftime("%Y-%m-%d %H:%M") if option.checked_at else ""
            values = (ident.address, ident.name, ident.mode.value, ident.account, option.status.value, option.reason, when)
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, col, item)

    def check_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}) or range(len(self.options))
        settings = self.sending._settings()  # noqa: SLF001
        creds = self.sending.worker.context.credentials
        for row in rows:
            identity = self.options[row].identity
            account = settings.account(identity.account)
            user = own_identity(settings, identity.account)
            password = creds.get(account.name, "smtp") or ""
            future = self._pool.submit(probe_identity, account, password, identity, user)
            self.sending._bridge.when_done(  # noqa: SLF001
                future, lambda result, i=identity: self._record(i, result), lambda err: self.note.setText(err.user_message)
            )

    def _record(self, identity, result: CheckResult) -> None:  # type: ignore[no-untyped-def]
        self.sending.worker.checks.record(identity, result)
        self.sending.worker.context.audit.record("permission.check", account=identity.account, result=result.status.value,
                                                 target={"identity": identity.address},
                                                 details={"mode": identity.mode.value, "reason": result.reason})  # fmt: skip
        self.refresh()

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)
