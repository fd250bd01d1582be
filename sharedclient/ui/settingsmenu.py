"""The main window's File → Add Mail Account… and Edit → Settings… entries.

Kept apart from ``ui.settingswindow`` so that starting the window does not import the Settings window,
the account wizard and discovery (~0.1 s of a cold start) until somebody opens them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from sharedclient.core.model import Account
from sharedclient.core.profiles import Profile, ProfileStore
from sharedclient.core.secrets import CredentialStore

if TYPE_CHECKING:
    from sharedclient.ui.settingswindow import SettingsWindow


def install_settings_menu(window: QWidget, profile: Profile, credentials: CredentialStore,
                          store: ProfileStore) -> dict[str, QAction]:  # fmt: skip
    """Main window hook: File → Add Mail Account…, Edit → Settings… (one call from ui.launch)."""
    menus = window.menus  # type: ignore[attr-defined]
    holder: dict[str, SettingsWindow] = {}

    def open_settings(tab: int = 0) -> SettingsWindow:
        from sharedclient.ui.settingswindow import SettingsWindow  # on first use; see the module docstring

        win = holder.get("window")
        if win is None or not win.isVisible():
            win = holder["window"] = SettingsWindow(profile, credentials, store, parent=window)
            win.accounts_added.connect(lambda accounts: start_accounts(window, accounts))
        win.tabs.setCurrentIndex(tab)
        win.show()
        win.activateWindow()
        return win

    settings_action = QAction(window.tr("&Settings…"), window)
    settings_action.setObjectName("settingsAction")
    settings_action.setShortcut("Ctrl+,")
    settings_action.triggered.connect(lambda _c=False: open_settings())
    add_action = QAction(window.tr("Add Mail &Account…"), window)
    add_action.setObjectName("addAccountAction")
    add_action.triggered.connect(lambda _c=False: open_settings(0).accounts.add_account())
    window.menu("file").insertAction(menus.file_end, add_action)  # type: ignore[attr-defined]
    window.menu("edit").addSeparator()  # type: ignore[attr-defined]
    window.menu("edit").addAction(settings_action)  # type: ignore[attr-defined]
    window.addAction(settings_action)
    window.settings_windows = holder  # type: ignore[attr-defined]
    return {"settings": settings_action, "add_account": add_action}


def start_accounts(window: QWidget, accounts: list[Account]) -> None:
    """Accounts added while the window runs: a status label each, then connect (folders appear by themselves)."""
    from sharedclient.ui.statusarea import AccountStatus

    for account in accounts:
        if account.name in window.controller.accounts:  # type: ignore[attr-defined]
            continue
        label = AccountStatus(account)
        window.status_labels[account.name] = label  # type: ignore[attr-defined]
        window.statusBar().addPermanentWidget(label)  # type: ignore[attr-defined]
        window.controller.add_account(account)  # type: ignore[attr-defined]
