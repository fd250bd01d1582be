"""Profiles in the GUI: the chooser at start (more than one profile and no ``--profile``) and the
create / rename / delete list shared with the Settings window.

Passwords live in the keyring under the profile's name, so renaming moves them and deleting removes them.
Dialog helpers (``ask_name``, ``confirm``) are attributes so tests can answer them without a modal loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sharedclient.core.errors import SharedClientError, StorageError
from sharedclient.core.profiles import DEFAULT_PROFILE, ProfileStore
from sharedclient.core.secrets import CredentialStore, KeyringCredentials, forget_passwords, move_passwords
from sharedclient.ui.wizard.pages_servers import error_label, show_error

log = logging.getLogger(__name__)
CredentialsFactory = Callable[[str], CredentialStore]


def _accounts_of(store: ProfileStore, name: str) -> list[str]:
    try:
        return [a.name for a in store.get(name, create_default=False).load().accounts]
    except SharedClientError:
        return []


class ProfileManager(QWidget):
    """The profile list with New, Rename and Delete; ``current`` (the open profile) cannot be renamed or deleted."""

    changed = Signal()

    def __init__(self, store: ProfileStore, credentials_factory: CredentialsFactory = KeyringCredentials,
                 current: str | None = None, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.store = store
        self.credentials_factory = credentials_factory
        self.current = current
        self.ask_name: Callable[[str, str], str | None] = self._ask_name
        self.confirm: Callable[[str, str], bool] = self._confirm
        self.list = QListWidget()
        self.list.setObjectName("profileList")
        self.list.setAccessibleName(self.tr("Profiles"))
        self.new_button = QPushButton(self.tr("&New…"))
        self.new_button.setObjectName("newProfile")
        self.rename_button = QPushButton(self.tr("&Rename…"))
        self.rename_button.setObjectName("renameProfile")
        self.delete_button = QPushButton(self.tr("&Delete…"))
        self.delete_button.setObjectName("deleteProfile")
        self.new_button.clicked.connect(self.create)
        self.rename_button.clicked.connect(self.rename)
        self.delete_button.clicked.connect(self.delete)
        self.error = error_label("profileError")
        buttons = QVBoxLayout()
        for button in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 1)
        layout.addWidget(self.error)
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        selected = select or self.selected()
        self.list.clear()
        names = self.store.names()
        for name in names:
            count = len(_accounts_of(self.store, name))
            suffix = self.tr(" (open now)") if name == self.current else ""
            self.list.addItem(f"{name} — {count} account{'s' if count != 1 else ''}{suffix}")
        self._names = names
        if names:
            self.list.setCurrentRow(names.index(selected) if selected in names else 0)
        self._update_buttons()

    def selected(self) -> str | None:
        row = self.list.currentRow()
        return self._names[row] if 0 <= row < len(getattr(self, "_names", [])) else None

    def _update_buttons(self) -> None:
        name = self.selected()
        usable = name is not None and name != self.current
        self.rename_button.setEnabled(usable)
        self.delete_button.setEnabled(usable)
        tip = self.tr("This profile is open; switch to another one first.") if name and name == self.current else ""
        self.rename_button.setToolTip(tip)
        self.delete_button.setToolTip(tip)

    def _ask_name(self, title: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, text)
        return value.strip() if ok else None

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.warning(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                     QMessageBox.StandardButton.Cancel)  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def _do(self, action: Callable[[], str]) -> None:
        try:
            select = action()
        except SharedClientError as exc:
            show_error(self.error, exc.user_message)
            return
        except OSError as exc:
            show_error(self.error, StorageError(f"The profile folder could not be changed ({exc.strerror or exc}).").user_message)
            return
        show_error(self.error, "")
        self.refresh(select)
        self.changed.emit()

    def create(self) -> None:
        name = self.ask_name(self.tr("New profile"), self.tr("Name of the new profile (letters, digits, . _ -):"))
        if name:
            self._do(lambda: self.store.create(name).name)

    def rename(self) -> None:
        old = self.selected()
        if old is None or old == self.current:
            return
        new = self.ask_name(self.tr("Rename profile"), self.tr("New name for “%1”:").replace("%1", old))
        if not new or new == old:
            return

        def action() -> str:
            accounts = _accounts_of(self.store, old)
            self.store.rename(old, new)
            move_passwords(self.credentials_factory, old, new, accounts)
            return new

        self._do(action)

    def delete(self) -> None:
        name = self.selected()
        if name is None or name == self.current:
            return
        accounts = _accounts_of(self.store, name)
        question = self.tr("Delete the profile “%1” with its %2 account(s), settings, drafts and cached mail? "
                           "Its stored passwords are removed too. Mail on the server is not touched. "
                           "This cannot be undone.").replace("%1", name).replace("%2", str(len(accounts)))  # fmt: skip
        if not self.confirm(self.tr("Delete profile"), question):
            return

        def action() -> str:
            self.store.delete(name)
            forget_passwords(self.credentials_factory, name, accounts)
            return ""

        self._do(action)


class ProfileChooser(QDialog):
    """Which profile to open (shown at start when there is more than one and no ``--profile``)."""

    def __init__(self, store: ProfileStore, credentials_factory: CredentialsFactory = KeyringCredentials,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("profileChooser")
        self.setWindowTitle(self.tr("SharedClient — choose a profile"))
        self.resize(520, 340)
        self.manager = ProfileManager(store, credentials_factory)
        self.manager.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.manager.list.currentRowChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Each profile has its own accounts, identities and settings.")))
        layout.addWidget(self.manager, 1)
        layout.addWidget(self.buttons)
        self._update()

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(self.manager.selected() is not None)

    def chosen(self) -> str | None:
        return self.manager.selected()


def choose_at_start(store: ProfileStore, credentials_factory: CredentialsFactory = KeyringCredentials) -> str | None:
    """The profile to open: asked only when there is more than one; None when the person cancelled."""
    names = store.names()
    if len(names) <= 1:
        return names[0] if names else DEFAULT_PROFILE
    chooser = ProfileChooser(store, credentials_factory)
    accepted = chooser.exec() == QDialog.DialogCode.Accepted
    chosen = chooser.chosen() if accepted else None
    chooser.deleteLater()  # Qt deletes it now, not the garbage collector after the application is gone
    return chosen
