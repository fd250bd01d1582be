"""Start the GUI for a profile: lock it, find the passwords, open the window."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

from sharedclient.cli.context import CliContext
from sharedclient.core.errors import SecretStoreError, StorageError
from sharedclient.core.imap.connection import ImapConnection
from sharedclient.core.imap.session import open_imap
from sharedclient.core.model import Account
from sharedclient.core.drafts import DraftStore
from sharedclient.core.outbox_worker import SendContext, SendWorker
from sharedclient.core.settings import Settings
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.tracking.matcher import DeliveryTracker
from sharedclient.core.tracking.scan import sync_hook
from sharedclient.core.store.audit import AuditLog, audit_path
from sharedclient.core.secrets import CredentialStore, SessionCredentials
from sharedclient.core.auditing import NO_AUDIT
from sharedclient.ui.accounts import AccountsController, CacheFactory, ConnectFactory, memory_cache
from sharedclient.ui.collisions import install_collision_guard
from sharedclient.ui.tracking import install_composer_options
from sharedclient.ui.activity import window_recorder
from sharedclient.ui.icons import icon
from sharedclient.ui.mainwindow import MainWindow
from sharedclient.ui.settingsmenu import install_settings_menu
from sharedclient.ui.sending import SendController
from sharedclient.ui.teamdesk import install_teamdesk

log = logging.getLogger(__name__)


def ensure_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("SharedClient")
        app.setOrganizationName("SharedClient")
        app.setDesktopFileName("sharedclient")
        app.setWindowIcon(icon("sharedclient"))
    assert isinstance(app, QApplication)
    return app


def session_credentials_by_asking(accounts: list[Account]) -> CredentialStore:
    """No secure keyring: ask once per account for this session, keep it in memory only."""
    creds = SessionCredentials()
    for account in accounts:
        password, ok = QInputDialog.getText(
            None,
            "Password",
            f"No secure password store is available, so SharedClient asks each time.\n"
            f"Password for {account.username} ({account.name}):",
            QLineEdit.EchoMode.Password,
        )
        if ok and password:
            creds.set(account.name, "imap", password)
            creds.set(account.name, "smtp", password)
    return creds


def imap_connector(creds: CredentialStore) -> ConnectFactory:
    def factory(account: Account) -> Callable[[], ImapConnection]:
        return lambda: ImapConnection(open_imap(account, creds.get(account.name, "imap") or ""))

    return factory


def cache_in(directory: Path | None) -> CacheFactory:
    """Header caches as files in the profile's data dir (or in memory when there is none)."""
    if directory is None:
        return memory_cache
    return lambda account: HeaderCache(directory / f"cache-{account.name}.sqlite")


def build_window(
    accounts: list[Account],
    creds: CredentialStore,
    profile_name: str,
    data_dir: Path | None = None,
    settings: Callable[[], Settings] | None = None,
) -> MainWindow:
    # The profile's audit trail (written off the GUI thread); a damaged one raises StorageError: refused.
    audit_log = AuditLog(audit_path(data_dir), profile_name) if data_dir is not None else None
    controller = AccountsController(accounts, imap_connector(creds), cache_in(data_dir))
    window = MainWindow(controller, profile_name, state_dir=data_dir)  # layout + notifications per profile
    audit = window_recorder(window, audit_log) if audit_log is not None else NO_AUDIT
    controller.audit = window.audit = audit  # type: ignore[attr-defined]
    audit.record("profile.open", details={"via": "window", "accounts": [a.name for a in accounts]})
    if data_dir is not None and settings is not None:
        worker = SendWorker(ProfileDb.for_data_dir(data_dir), SendContext(profile_name, settings, creds, audit=audit))
        controller.after_sync = sync_hook(DeliveryTracker(worker.history.db))  # reports found during sync
        window.sending = SendController(worker, DraftStore(data_dir / "drafts"), settings, window)
        window.sending.notice.connect(lambda text: window.statusBar().showMessage(text, 20000))
        install_composer_options(window.sending)  # Delivery report / Read receipt toggles (ui.tracking)
        install_collision_guard(window)  # "a teammate answered meanwhile" before a reply goes out (ui.collisions)
        window._update_actions()  # noqa: SLF001
    install_teamdesk(window, settings)  # notes under the message; Templates… / Ctrl+T in composers
    if data_dir is not None:  # opened per change, so a damaged audit trail blocks changes, not the window
        window.audit_factory = lambda: AuditLog(audit_path(data_dir), profile_name)  # type: ignore[attr-defined]
    controller.start()
    return window


def run_gui(ctx: CliContext, credentials: CredentialStore | None = None, choose_profile: bool = False) -> int:
    if choose_profile:  # no --profile: ask when there is more than one (ui.profilechooser)
        ensure_app()
        from sharedclient.ui.profilechooser import choose_at_start  # only when asked: cold start

        chosen = choose_at_start(ctx.store, ctx.credentials_factory)
        if chosen is None:
            return 0
        ctx.profile_name = chosen
    profile = ctx.profile()
    with profile.lock():
        accounts = list(profile.load().accounts)
        app = ensure_app()
        if credentials is None:
            try:
                credentials = ctx.credentials()
            except SecretStoreError as exc:
                log.warning("%s", exc.user_message)
                credentials = session_credentials_by_asking(accounts)
        if not accounts:  # first start: the account wizard (ui.wizard); cancelled means quit
            with quit_on_signals(app):  # logging out during the wizard closes it cleanly, like the window
                from sharedclient.ui.wizard import run_first_start  # only on a first start

                accounts = run_first_start(profile, credentials)
            if not accounts:
                return 0
        try:
            window = build_window(accounts, credentials, profile.name, profile.data_dir, profile.load)
        except StorageError as exc:  # e.g. a damaged audit trail: refused with its sentence, never bypassed
            QMessageBox.critical(None, "SharedClient", exc.user_message)
            raise
        install_settings_menu(window, profile, credentials, ctx.store)  # File → Add Mail Account…, Edit → Settings…
        restore_drafts(window)
        window.show()
        freeze_startup_heap()
        with quit_on_signals(app):
            return app.exec()


def freeze_startup_heap() -> None:
    """Take everything start-up allocated (modules, Qt wrappers, settings) out of the cyclic collector's sight.

    Each full collection otherwise walks that whole heap on whichever thread triggers it, holding the GIL:
    35-55 ms of frozen GUI, two or three times during a big sync (``make bench``'s ui_stall_max). The
    objects live on exactly as before; ``gc.freeze`` only stops re-scanning them. Cheap (no collection).
    """
    gc.freeze()


def restore_drafts(window: MainWindow) -> None:
    """Drafts left by a crash (or kept on close) reopen, so nothing typed is lost."""
    if window.sending is None:
        return
    for draft in window.sending.drafts.pending():
        window.sending.new_message(window, draft)


@contextlib.contextmanager
def quit_on_signals(app: QApplication) -> Iterator[None]:
    """Ctrl+C / SIGTERM close the window cleanly, so the demo's servers and workers are stopped.

    Python handles signals only while it runs bytecode; a cheap timer lets it do so during app.exec().
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: app.closeAllWindows())
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(250)
    try:
        yield
    finally:
        timer.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
