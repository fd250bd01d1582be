"""Make the README's screenshots from the built-in demo, so they always show the current UI.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshots.py resources/screenshots
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop

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
            window.close()
            app.processEvents()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
