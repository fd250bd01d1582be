"""Main window behaviour that needs no server: connection failures shown as state, never as a crash."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from sharedclient.core.errors import AuthError, TlsError
from sharedclient.core.model import Account, Endpoint, Security
from sharedclient.core.worker import ConnectionState
from sharedclient.ui.accounts import AccountsController
from sharedclient.ui.mainwindow import MainWindow


def account(name: str) -> Account:
    ep = Endpoint("127.0.0.1", 1, Security.TLS)
    return Account(name, f"{name}@example.test", ep, ep, f"{name}@example.test")


def test_failed_logins_show_in_the_status_bar_without_blocking_the_gui(qtbot: QtBot) -> None:
    gate = threading.Event()
    gui_thread = threading.get_ident()
    connect_threads: list[int] = []

    def failing(acct: Account):  # type: ignore[no-untyped-def]
        def connect():  # type: ignore[no-untyped-def]
            connect_threads.append(threading.get_ident())
            gate.wait(5)  # a slow server: the GUI must stay responsive meanwhile
            if acct.name == "alice":
                raise AuthError("The IMAP server 127.0.0.1:1 rejected the user name or password for alice.")
            raise TlsError("The certificate of the IMAP server 127.0.0.1:1 is not trusted (self-signed).")

        return connect

    controller = AccountsController([account("alice"), account("bob")], failing)
    window = MainWindow(controller, "test")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignals([controller.state_changed, controller.state_changed], timeout=5000):
        controller.start()  # returns at once: both accounts go "connecting" on their workers
    assert window.status_labels["alice"].state is ConnectionState.CONNECTING
    gate.set()
    qtbot.waitUntil(lambda: window.status_labels["alice"].state is ConnectionState.AUTH_FAILED, timeout=5000)
    qtbot.waitUntil(lambda: window.status_labels["bob"].state is ConnectionState.TLS_FAILED, timeout=5000)
    assert "rejected the user name or password" in window.status_labels["alice"].toolTip()
    assert "authentication failed" in window.status_labels["alice"].text()
    assert gui_thread not in connect_threads
    window.close()


def test_window_without_accounts_says_how_to_add_one(qtbot: QtBot) -> None:
    window = MainWindow(AccountsController([], lambda a: lambda: None), "empty")  # type: ignore[arg-type,return-value]
    qtbot.addWidget(window)
    assert "account add" in window.statusBar().currentMessage()
    window.close()
