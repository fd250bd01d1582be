"""Child processes for the metrics that need a fresh interpreter (cold_start, rss_peak).

``python -m tests.benchmarks.child coldstart BASEDIR PROFILE PASSWORD``
    Runs SharedClient's own entry point (``sharedclient.app.main``, as the ``sharedclient`` command
    does) on a cached profile; the password comes from the command line instead of the keyring. When
    the main window's first paint has been handled it prints ``SHOWN <time.monotonic()>`` and exits.
    The parent takes its own ``time.monotonic()`` just before starting the process (same clock).

``python -m tests.benchmarks.child rss DATA_DIR FOLDER...``
    Opens the real main window on a profile whose account is offline, opens each cached folder in
    turn (first rows painted, jump to the end, back to the middle), prints ``RSS <peak bytes>``.

Nothing heavy is imported at module level: the cold start is measured from interpreter start.
"""

from __future__ import annotations

import os
import sys
import time


def coldstart(basedir: str, profile: str, secret: str) -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QWidget

    from sharedclient.app import main
    from sharedclient.core.secrets import SessionCredentials
    from sharedclient.ui.launch import ensure_app
    from sharedclient.ui.mainwindow import MainWindow

    app = ensure_app()  # what run_gui would do first; it reuses this instance

    class FirstPaint(QObject):
        done = False

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
            if not self.done and event.type() == QEvent.Type.Paint and isinstance(obj, QWidget):
                if isinstance(obj.window(), MainWindow):
                    self.done = True
                    QTimer.singleShot(0, report)  # after this paint round has been handled
            return False

    def report() -> None:
        print(f"SHOWN {time.monotonic():.6f}", flush=True)
        os._exit(0)

    watcher = FirstPaint()
    app.installEventFilter(watcher)

    def credentials(profile_name: str) -> SessionCredentials:
        creds = SessionCredentials()
        creds.set("alice", "imap", secret)
        creds.set("alice", "smtp", secret)
        return creds

    return main(["--basedir", basedir, "--profile", profile], credentials_factory=credentials)


def rss(data_dir: str, folders: list[str]) -> int:
    import resource

    from sharedclient.core.model import Account, Endpoint, Folder, Section, Security
    from sharedclient.core.secrets import SessionCredentials
    from sharedclient.devservers.dovecot import free_ports
    from sharedclient.ui.launch import build_window, ensure_app
    from tests.benchmarks.ui_metrics import PaintWatch, _until_painted

    app = ensure_app()
    port = free_ports(1)[0]  # nothing listens there: the account stays offline, the cache is all there is
    endpoint = Endpoint("127.0.0.1", port, Security.TLS)
    account = Account("alice", "alice@example.test", endpoint, endpoint, "alice@example.test")
    window = build_window([account], SessionCredentials(), "bench", __import__("pathlib").Path(data_dir))
    window.resize(1200, 760)
    watch = PaintWatch(window.list_view.viewport())
    window.show()
    _until_painted(app, watch)
    shown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for path in folders:
        owner = path.split("/")[1] if path.startswith("shared/") else None
        folder = Folder("alice", path, path.rsplit("/", 1)[-1], Section.SHARED, owner, "/", rights="lrswi")
        window.open_folder(folder)
        _until_painted(app, watch)
        rows = window.model.rowCount()
        if rows == 0:
            print(f"ERROR folder {path} is empty", flush=True)
            return 1
        window.list_view.scrollToBottom()
        _until_painted(app, watch)
        window.list_view.scrollTo(window.model.index(rows // 2, 0))
        _until_painted(app, watch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(f"RSS {peak} SHOWN_RSS {shown}", flush=True)
    os._exit(0)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "coldstart":
        sys.exit(coldstart(*args))
    if command == "rss":
        sys.exit(rss(args[0], args[1:]))
    sys.exit(f"unknown command {command!r}")
