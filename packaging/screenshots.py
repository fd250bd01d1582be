"""Make the README's screenshots from the built-in demo, so they always show the current UI.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshots.py resources/screenshots
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtGui import QColor, QPalette

from sharedclient.core.secrets import SessionCredentials
from sharedclient.core.settings import Settings
from sharedclient.devservers.demo import demo_identities, demo_servers
from sharedclient.ui.launch import build_window, ensure_app


def pump_until(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo did not reach the expected state")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)


def dark_palette() -> QPalette:
    """What a desktop in dark mode hands to Qt (Fusion's dark colours), to check nothing is hard-coded."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e", QPalette.ColorRole.AlternateBase: "#333333",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#353535",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#9a9a9a",
        QPalette.ColorRole.Link: "#8ab4f8", QPalette.ColorRole.Mid: "#444444",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#7a7a7a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#7a7a7a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#7a7a7a"))
    return palette


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = ensure_app()
    workdir = Path(tempfile.mkdtemp(prefix="sharedclient-shots-"))
    workdir.chmod(0o755)
    try:
        with demo_servers(workdir) as demo:
            creds = SessionCredentials()
            creds.set("demo", "imap", demo.password)
            creds.set("demo", "smtp", demo.password)
            settings = Settings(accounts=(demo.account,), identities=tuple(demo_identities()))
            window = build_window([demo.account], creds, "demo", workdir / "data", lambda: settings)
            window.resize(1280, 800)
            window.show()
            pump_until(lambda: bool(window.controller.folders.get("demo")))
            path = "shared/support@example.com/INBOX"
            window.folder_pane.select_folder("demo", path)
            pump_until(lambda: window.model.rowCount() > 0)
            window.list_view.selectRow(1)
            pump_until(lambda: window.view.rendered is not None)
            window.grab().save(str(out / "main-window.png"))
            window.reply_action.trigger()
            composer = window.sending.composers[0]
            composer.body.moveCursor(composer.body.textCursor().MoveOperation.Start)
            composer.body.insertPlainText("Hi,\n\nsorry about that. A replacement is on its way today.\n\nAlice")
            composer.resize(820, 640)
            composer.grab().save(str(out / "composer.png"))
            composer.request_send()
            pump_until(lambda: not window.sending.composers)
            history = window.sending.history_window()
            pump_until(lambda: history.model.rowCount() > 0)
            history.grab().save(str(out / "sent-history.png"))
            history.close()
            window.folder_pane.select_folder("demo", "shared/sales@example.com/INBOX")
            pump_until(lambda: window.model.rowCount() > 0)
            window.list_view.selectRow(0)
            pump_until(lambda: window.view.rendered is not None)
            window.grab().save(str(out / "read-only-mailbox.png"))
            light = app.palette()
            app.setPalette(dark_palette())  # as when the desktop switches to dark mode
            app.processEvents()
            window.grab().save(str(out / "main-window-dark.png"))
            app.setPalette(light)
            window.close()
            app.processEvents()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
