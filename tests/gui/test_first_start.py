"""Starting the window: no account opens the wizard; several profiles and no --profile open the chooser;
profiles are created, renamed (passwords follow) and deleted (with confirmation) from the GUI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keyring
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from sharedclient.cli.context import CliContext
from sharedclient.core.model import Account, Endpoint
from sharedclient.core.profiles import ProfileStore
from sharedclient.core.secrets import KeyringCredentials, SessionCredentials
from sharedclient.ui.launch import run_gui
from sharedclient.ui.profilechooser import ProfileChooser, ProfileManager
from sharedclient.ui.wizard import AccountWizard
from tests.memory_keyring import MemoryKeyring, memory_keyring  # noqa: F401 - fixture


def answer_dialogs(steps: list[tuple[type[QWidget], Callable[[QWidget], None]]]) -> tuple[list[str], QTimer]:
    """Act on modal dialogs as they appear (each step: wait for a visible widget of that type, act on it)."""
    seen: list[str] = []
    timer = QTimer()
    timer.setInterval(50)
    tries = {"n": 0}

    def poll() -> None:
        tries["n"] += 1
        if tries["n"] > 200:  # 10 s: give up, close everything so the test fails instead of hanging
            timer.stop()
            for widget in QApplication.topLevelWidgets():
                widget.close()
            return
        kind, act = steps[0]
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, kind) and widget.isVisible():
                seen.append(widget.windowTitle())
                steps.pop(0)
                if not steps:
                    timer.stop()
                act(widget)
                return

    timer.timeout.connect(poll)
    timer.start()
    return seen, timer  # the caller keeps the timer alive while the dialogs run


def test_no_account_opens_the_wizard_and_cancel_quits(qtbot: QtBot, tmp_path: Path) -> None:
    def look_and_cancel(wizard: QWidget) -> None:
        wizard.grab().save("/tmp/wizard-0-first-start.png")
        wizard.reject()  # type: ignore[attr-defined]

    seen, _timer = answer_dialogs([(AccountWizard, look_and_cancel)])
    ctx = CliContext(store=ProfileStore(tmp_path), profile_name="default")
    assert run_gui(ctx, credentials=SessionCredentials()) == 0
    assert seen == ["Welcome to SharedClient — set up your mail account"]
    assert ProfileStore(tmp_path).get("default").load().accounts == ()  # nothing half-saved


def test_several_profiles_without_profile_option_ask_which(qtbot: QtBot, tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.create("home")
    store.create("work")

    def pick_work(chooser: QWidget) -> None:
        assert isinstance(chooser, ProfileChooser)
        assert [chooser.manager.list.item(i).text() for i in range(2)] == ["home — 0 accounts", "work — 0 accounts"]
        chooser.manager.list.setCurrentRow(1)
        chooser.grab().save("/tmp/wizard-profile-chooser.png")
        chooser.accept()

    seen, _timer = answer_dialogs([(ProfileChooser, pick_work), (AccountWizard, lambda w: w.reject())])
    ctx = CliContext(store=store, profile_name="default")
    assert run_gui(ctx, credentials=SessionCredentials(), choose_profile=True) == 0
    assert seen == ["SharedClient — choose a profile", "Welcome to SharedClient — set up your mail account"]
    assert ctx.profile_name == "work"
    assert store.names() == ["home", "work"]  # the chooser did not create "default"


def test_one_profile_is_opened_without_asking(qtbot: QtBot, tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.create("only")
    seen, _timer = answer_dialogs([(AccountWizard, lambda w: w.reject())])
    ctx = CliContext(store=store, profile_name="default")
    assert run_gui(ctx, credentials=SessionCredentials(), choose_profile=True) == 0
    assert seen == ["Welcome to SharedClient — set up your mail account"] and ctx.profile_name == "only"


def test_profile_manager_create_rename_delete(qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    store = ProfileStore(tmp_path)
    work = store.create("work")
    ep = Endpoint("imap.example.test", 993)
    work.save(work.load().with_account(Account("a", "a@example.test", ep, ep, "a@example.test")))
    KeyringCredentials("work").set("a", "imap", "pw-a")
    KeyringCredentials("work").set("a", "smtp", "pw-a")
    store.create("current")
    manager = ProfileManager(store, current="current")
    qtbot.addWidget(manager)
    manager.show()
    answers: list[str | None] = ["bad name!", "work", "home"]
    manager.ask_name = lambda title, text: answers.pop(0)
    manager.create()
    assert "not a valid profile name" in manager.error.text()
    manager.create()
    assert "already exists" in manager.error.text()
    manager.create()
    assert manager.error.isHidden() and store.names() == ["current", "home", "work"]

    manager.list.setCurrentRow(0)  # the open profile
    assert not manager.rename_button.isEnabled() and not manager.delete_button.isEnabled()
    manager.list.setCurrentRow(2)
    manager.ask_name = lambda title, text: "office"
    manager.rename()
    assert store.names() == ["current", "home", "office"]
    assert manager.selected() == "office"
    assert KeyringCredentials("office").get("a", "imap") == "pw-a"  # the passwords followed
    assert KeyringCredentials("work").get("a", "imap") is None
    assert [manager.list.item(i).text() for i in range(3)] == [
        "current — 0 accounts (open now)", "home — 0 accounts", "office — 1 account"]
    manager.grab().save("/tmp/wizard-profile-manager.png")

    questions: list[str] = []
    manager.confirm = lambda title, text: questions.append(text) or False  # type: ignore[func-returns-value]
    manager.delete()
    assert store.names() == ["current", "home", "office"]  # "Cancel" keeps everything
    assert "Delete the profile “office” with its 1 account(s)" in questions[0]
    manager.confirm = lambda title, text: True
    manager.delete()
    assert store.names() == ["current", "home"]
    assert KeyringCredentials("office").get("a", "imap") is None
    assert keyring.get_keyring() is memory_keyring
