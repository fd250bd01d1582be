"""The "Permissions" dialog: who may use a mailbox, and changing it (IMAP ACL, RFC 4314).

Administrators (MYRIGHTS has ``a``) see every grantee with their rights in words and can grant, change
or revoke — with presets or one checkbox per right, limited to what the server's LISTRIGHTS allows,
optionally for every folder below. Everyone else gets the same dialog read-only, with their own rights
and the sentence that an administrator must make changes.

All server work runs as jobs on the account's worker; results arrive on the GUI thread through the
bridge. Every change is confirmed first (taking away your own administer right: twice) and written to
the audit trail by the core.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from sharedclient.core.errors import SharedClientError
from sharedclient.core.identities import identity_options
from sharedclient.core.imap.acl import (
    ADMIN,
    PRESET_LABELS,
    PRESETS,
    AclChange,
    MailboxAccess,
    change_access,
    find_preset,
    preset_rights,
    read_access,
    rights_words,
)
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.discovery import mailbox_label
from sharedclient.core.imap.rights import FULL_RIGHTS, describe_rights, normalise_rights, right_word
from sharedclient.core.model import Account, Folder
from sharedclient.core.store.audit import AuditLog
from sharedclient.ui.bridge import MainThreadBridge
from sharedclient.ui.palette import muted, tone

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sharedclient.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)

Confirm = Callable[[str, str], bool]  # (title, question) -> the user said yes
Submit = Callable[[Callable[[ImapConnection], Any]], "Future[Any]"]
AuditFactory = Callable[[], AuditLog]

SEND_AS_NOTE = (
    "Sending as this address, or on behalf of it, is not set here: it is granted on the mail server "
    "(the submission server's configuration). Ask your mail administrator for it."
)
_CUSTOM = "Custom"
_RIGHT_HINTS = {"p": "posting to the mailbox by address — not sending mail", "a": "change who may use the mailbox"}


def ask_with_message_box(parent: QWidget) -> Confirm:
    def confirm(title: str, question: str) -> bool:
        answer = QMessageBox.question(
            parent, title, question, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    return confirm


class PermissionsDialog(QDialog):
    """Permissions of one mailbox. ``submit`` runs a job on the account's worker."""

    def __init__(
        self,
        folder: Folder,
        account: Account,
        submit: Submit,
        bridge: MainThreadBridge,
        *,
        audit_factory: AuditFactory | None = None,
        confirm: Confirm | None = None,
        on_changed: Callable[[], None] | None = None,
        send_verdicts: Sequence[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._send_verdicts = tuple(send_verdicts)
        self.folder = folder
        self.account = account
        self._submit = submit
        self._bridge = bridge
        self._audit_factory = audit_factory
        self.confirm = confirm or ask_with_message_box(self)
        self._on_changed = on_changed or (lambda: None)
        self.access: MailboxAccess | None = None
        self._closed = False
        self._busy = False
        self.label = mailbox_label(folder)
        self.setObjectName("permissionsDialog")
        self.setWindowTitle(self.tr("Permissions — %s") % self.label)
        self.resize(680, 640)
        self._build()
        self.reload()

    # -- construction ----------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        title = QLabel(f"<b>Who may use {html.escape(self.label)}</b>")
        title.setObjectName("permissionsTitle")
        layout.addWidget(title)
        self.info = QLabel(self.tr("Reading permissions from the server…"))
        self.info.setObjectName("accessInfo")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)

        self.table = QTableWidget(0, 3)
        self.table.setObjectName("aclTable")
        self.table.setHorizontalHeaderLabels([self.tr("Who"), self.tr("Rights"), self.tr("What they may do")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        layout.addWidget(self.table, 1)

        self.editor = QGroupBox(self.tr("Give access or change it"))
        self.editor.setObjectName("aclEditor")
        form = QFormLayout(self.editor)
        self.identifier = QLineEdit()
        self.identifier.setObjectName("identifierEdit")
        self.identifier.setPlaceholderText(self.tr("a login, e.g. carol@example.com"))
        self.identifier.textChanged.connect(self._on_identifier_changed)
        form.addRow(self.tr("Who:"), self.identifier)
        self.preset = QComboBox()
        self.preset.setObjectName("presetBox")
        self.preset.addItem(self.tr(_CUSTOM), None)
        for key in PRESETS:
            self.preset.addItem(PRESET_LABELS[key], key)
        self.preset.currentIndexChanged.connect(self._on_preset)
        form.addRow(self.tr("Preset:"), self.preset)
        grid_box = QWidget()
        grid = QGridLayout(grid_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.checks: dict[str, QCheckBox] = {}
        for index, letter in enumerate(FULL_RIGHTS):
            box = QCheckBox(f"{right_word(letter)}  ({letter})")
            box.setObjectName(f"right_{letter}")
            box.setToolTip(_RIGHT_HINTS.get(letter, right_word(letter)))
            box.toggled.connect(self._on_check)
            self.checks[letter] = box
            grid.addWidget(box, index // 2, index % 2)
        form.addRow(self.tr("Rights:"), grid_box)
        self.recursive = QCheckBox(self.tr("Apply to all subfolders"))
        self.recursive.setObjectName("recursiveBox")
        form.addRow("", self.recursive)
        buttons_box = QWidget()
        buttons = QHBoxLayout(buttons_box)
        buttons.setContentsMargins(0, 0, 0, 0)
        self.apply_button = QPushButton(self.tr("Grant / Change"))
        self.apply_button.setObjectName("applyButton")
        self.apply_button.clicked.connect(self.apply)
        self.revoke_button = QPushButton(self.tr("Revoke access"))
        self.revoke_button.setObjectName("revokeButton")
        self.revoke_button.clicked.connect(self.revoke)
        buttons.addStretch(1)
        buttons.addWidget(self.revoke_button)
        buttons.addWidget(self.apply_button)
        self._change_widgets = [self.preset, self.recursive, buttons_box]
        form.addRow(buttons_box)
        layout.addWidget(self.editor)

        self.message = QLabel("")
        self.message.setObjectName("aclMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        verdicts = "".join(f"\n• {line}" for line in self._send_verdicts)
        note = QLabel(self.tr(SEND_AS_NOTE) + (f"\nYour identities for this mailbox:{verdicts}" if verdicts else ""))
        note.setObjectName("sendAsNote")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {muted(note)};")
        layout.addWidget(note)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self._set_editable(False)

    # -- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        path = self.folder.path
        self._busy = True
        self._update_buttons()
        self._when_done(self._submit(lambda conn: read_access(conn.client, path)), self._show_access)

    def _when_done(self, future: Future[Any], on_success: Callable[[Any], None]) -> None:
        def success(result: Any) -> None:
            if self._alive():
                on_success(result)

        def failure(err: SharedClientError) -> None:
            if self._alive():
                self._busy = False
                self._show_message(err.user_message, error=True)
                self._update_buttons()

        self._bridge.when_done(future, success, failure)

    def _alive(self) -> bool:
        """False once the dialog was closed or deleted (with its window): a late answer is dropped."""
        return not self._closed and isValid(self)

    def _show_access(self, access: MailboxAccess) -> None:
        self.access = access
        self._busy = False
        mine = describe_rights(access.my_rights, limits=False)
        selected = self.identifier.text().strip()
        self.table.setRowCount(0)
        if not access.administrable:
            self.info.setText(
                f"<b>Read-only:</b> only an administrator of this mailbox can change who may use it; ask them to "
                f"make changes.<br>Your rights: {html.escape(mine)}."
            )
            self._add_row(f"{self.account.username} (you)", access.my_rights, mine)
            self.identifier.setText(self.account.username)
            self._show_rights(access.my_rights)
            self._set_editable(False)
            self.editor.setTitle(self.tr("Your rights (only an administrator can change them)"))
            form = self.editor.layout()
            assert isinstance(form, QFormLayout)
            for widget in self._change_widgets:  # nothing to press: show rights, not disabled controls
                form.setRowVisible(widget, False)
            return
        below = len(access.subfolders)
        self.info.setText(
            f"You administer this mailbox. Your rights: {html.escape(mine)}."
            + (f" It has {below} subfolder{'s' if below != 1 else ''}." if below else "")
        )
        assert access.entries is not None
        for entry in access.entries:
            self._add_row(entry.identifier, entry.rights, entry.words, negative=entry.negative)
        if not access.entries:
            self.message.setText(self.tr("Nobody besides the owner has rights on this mailbox yet."))
        self.recursive.setEnabled(bool(below))
        self.recursive.setText(
            self.tr("Apply to all subfolders") + (f" ({below})" if below else self.tr(" (there are none)"))
        )
        self._set_editable(True)
        row = next((r for r in range(self.table.rowCount()) if self._row_identifier(r) == selected), -1)
        if row >= 0:
            self.table.selectRow(row)
        else:
            self._on_identifier_changed(self.identifier.text())

    def _add_row(self, who: str, rights: str, words: str, *, negative: bool = False) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        who_item = QTableWidgetItem(who)
        who_item.setData(Qt.ItemDataRole.UserRole, who)
        items = [who_item, QTableWidgetItem(rights), QTableWidgetItem(words)]
        if negative:
            for item in items:
                item.setForeground(QColor(tone("error", self)))
            items[0].setToolTip("A negative entry: these rights are taken away from them, whatever else grants them.")
        for column, item in enumerate(items):
            self.table.setItem(row, column, item)

    def _row_identifier(self, row: int) -> str:
        item = self.table.item(row, 0)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else ""

    # -- editing ---------------------------------------------------------------------------------

    def _set_editable(self, editable: bool) -> None:
        self.identifier.setReadOnly(not editable)
        self.preset.setEnabled(editable)
        for letter, box in self.checks.items():
            box.setEnabled(editable and letter in self._grantable())
        self.recursive.setEnabled(editable and bool(self.access and self.access.subfolders))
        self._update_buttons()

    def _editable(self) -> bool:
        return bool(self.access and self.access.administrable)

    def _grantable(self) -> str:
        if not self.access or not self.access.grantable:
            return ""
        who = self.identifier.text().strip()
        return self.access.grantable.get(who, self.access.grantable.get("", FULL_RIGHTS))

    def _current_rights(self, identifier: str) -> str | None:
        if not self.access or self.access.entries is None:
            return None
        return next((e.rights for e in self.access.entries if e.identifier == identifier), None)

    def chosen_rights(self) -> str:
        return normalise_rights("".join(letter for letter, box in self.checks.items() if box.isChecked()))

    def _show_rights(self, rights: str) -> None:
        for letter, box in self.checks.items():
            box.blockSignals(True)
            box.setChecked(letter in rights)
            box.blockSignals(False)
        self._sync_preset()

    def _sync_preset(self) -> None:
        key = find_preset(self.chosen_rights())
        if key is None:
            grantable = self._grantable()
            key = next((k for k in PRESETS if preset_rights(k, grantable) == self.chosen_rights()), None)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(max(0, self.preset.findData(key)) if key else 0)
        self.preset.blockSignals(False)

    def _on_row_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or not self._editable():
            self._update_buttons()
            return
        who = self._row_identifier(rows[0].row())
        self.identifier.blockSignals(True)
        self.identifier.setText(who)
        self.identifier.blockSignals(False)
        self._show_rights(self._current_rights(who) or "")
        self._set_editable(True)

    def _on_identifier_changed(self, _text: str) -> None:
        if not self._editable():
            return
        current = self._current_rights(self.identifier.text().strip())
        if current is not None:
            self._show_rights(current)
        self._set_editable(True)

    def _on_preset(self, _index: int) -> None:
        key = self.preset.currentData()
        if key:
            self._show_rights(preset_rights(key, self._grantable()))
        self._update_buttons()

    def _on_check(self, _checked: bool) -> None:
        self._sync_preset()
        self._update_buttons()

    def _update_buttons(self) -> None:
        who = self.identifier.text().strip()
        editable = self._editable() and not self._busy
        self.apply_button.setEnabled(editable and bool(who) and bool(self.chosen_rights()))
        self.revoke_button.setEnabled(editable and self._current_rights(who) is not None)

    # -- changing --------------------------------------------------------------------------------

    def _is_me(self, identifier: str) -> bool:
        return identifier.lower() == self.account.username.lower()

    def _scope(self) -> str:
        below = len(self.access.subfolders) if self.access else 0
        if self.recursive.isChecked() and below:
            return f"{self.label} and its {below} subfolder{'s' if below != 1 else ''}"
        return self.label

    def apply(self) -> None:
        who = self.identifier.text().strip()
        rights = self.chosen_rights()
        if not who or not rights or not self._editable():
            return
        before = self._current_rights(who)
        if before:
            question = f"Change the rights of {who} on {self._scope()} from “{before}” to “{rights}”?"
        else:
            question = f"Give {who} the rights “{rights}” on {self._scope()}?"
        question += f"\n\nThey will be able to: {rights_words(who, rights)}."
        if not self.confirm(self.tr("Change permissions"), question):
            return
        if self._is_me(who) and before and ADMIN in before and ADMIN not in rights:
            if not self._confirm_losing_admin():
                return
        self._run_change(who, rights)

    def revoke(self) -> None:
        who = self.identifier.text().strip()
        before = self._current_rights(who)
        if not who or before is None or not self._editable():
            return
        question = f"Take all access to {self._scope()} away from {who}?\n\nThey could: {rights_words(who, before)}."
        if not self.confirm(self.tr("Revoke access"), question):
            return
        if self._is_me(who) and ADMIN in before and not self._confirm_losing_admin():
            return
        self._run_change(who, None)

    def _confirm_losing_admin(self) -> bool:
        return self.confirm(
            self.tr("Remove your own administer right?"),
            f"You are taking away your own right to administer {self.label}. Afterwards you cannot change "
            "who may use it, and cannot undo this yourself: another administrator would have to.\n\n"
            "Really continue?",
        )

    def _run_change(self, who: str, rights: str | None) -> None:
        account, path, recursive, label = self.account, self.folder.path, self.recursive.isChecked(), self.label
        factory = self._audit_factory

        def job(conn: ImapConnection) -> list[AclChange]:
            audit = factory() if factory else None
            try:
                return change_access(
                    conn.client, account, path, who, rights, recursive=recursive, audit=audit, label=label
                )
            finally:
                if audit is not None:
                    audit.close()

        self._busy = True
        self._show_message(self.tr("Saving…"))
        self._update_buttons()
        self._when_done(self._submit(job), self._changed)

    def _changed(self, changes: list[AclChange]) -> None:
        self._busy = False
        failed = [c for c in changes if not c.ok]
        first = changes[0]
        text = (
            f"{first.identifier} now: {rights_words(first.identifier, first.after)}."
            if first.after else f"{first.identifier} no longer has access."
        )  # fmt: skip
        if len(changes) > 1:
            text += f" Applied to {len(changes) - len(failed)} of {len(changes)} mailboxes."
        if failed:
            text += " Not changed: " + "; ".join(f"{c.path} ({c.error})" for c in failed)
        self._show_message(text, error=bool(failed))
        self._on_changed()
        self.reload()

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet(f"color: {tone('error', self)};" if error else "")
        self.message.setText(text)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        self._closed = True
        super().done(result)


# -- wiring into the main window -----------------------------------------------------------------------


def send_verdicts(window: MainWindow, folder: Folder) -> list[str]:
    """The permission-check verdict of each of the user's identities that belong to ``folder``'s mailbox."""
    sending = getattr(window, "sending", None)
    if sending is None or not folder.owner:
        return []
    lines = []
    for option in identity_options(sending._settings(), sending.worker.checks.all()):  # noqa: SLF001
        if option.group == folder.owner.lower():
            reason = f" ({option.reason})" if option.reason else ""
            lines.append(f"{option.identity.address}, {option.identity.mode.value}: {option.status.value}{reason}")
    return lines


def open_permissions(window: MainWindow, *, confirm: Confirm | None = None) -> PermissionsDialog | None:
    """The Permissions dialog for the window's current mailbox (None, with a status message, without one)."""
    folder = window.current
    session = window.controller.sessions.get(folder.account) if folder else None
    if folder is None or session is None:
        window.statusBar().showMessage(window.tr("Choose a mailbox first."), 10000)
        return None
    dialog = PermissionsDialog(
        folder, session.account, session.worker.submit, window.controller._bridge,  # noqa: SLF001
        audit_factory=getattr(window, "audit_factory", None), confirm=confirm,
        on_changed=lambda: window.controller.refresh_folders(folder.account),
        send_verdicts=send_verdicts(window, folder), parent=window,
    )  # fmt: skip
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.permissions_dialog = dialog  # type: ignore[attr-defined]
    dialog.show()
    return dialog


def install_access_menu(window: MainWindow) -> QMenu:
    """Mailbox → Permissions… and Mailbox → Access review… (one call from the main window)."""
    from sharedclient.ui.access_review import open_access_review

    menu = window.menuBar().addMenu(window.tr("M&ailbox"))
    menu.setObjectName("mailboxMenu")
    permissions = QAction(window.tr("Permissions…"), window)
    permissions.setObjectName("permissionsAction")
    permissions.setToolTip(window.tr("Who may use the current mailbox; administrators can change it."))
    permissions.triggered.connect(lambda: open_permissions(window))
    review = QAction(window.tr("Access review…"), window)
    review.setObjectName("accessReviewAction")
    review.setToolTip(window.tr("Who holds which rights on every mailbox you administer."))
    review.triggered.connect(lambda: open_access_review(window))
    menu.addAction(permissions)
    menu.addAction(review)
    menu.aboutToShow.connect(lambda: permissions.setEnabled(window.current is not None))
    return menu
