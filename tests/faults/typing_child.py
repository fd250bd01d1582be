"""Child process for the draft test: the real composer (offscreen), typed into with QTest until killed.

``python -m tests.faults.typing_child DRAFTS_DIR PROGRESS_FILE``: types word after word ("w0 w1 w2 …") into
the body, and after each word appends "<time> <characters typed>" to PROGRESS_FILE, so the test knows
what had been typed when it sent SIGKILL. The composer's own autosave (AUTOSAVE_SECONDS) is untouched.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from sharedclient.core.drafts import DraftStore
from sharedclient.core.model import Identity, SendMode
from sharedclient.ui.composer import Composer

WORD_EVERY_MS = 100


def words(n: int) -> str:
    """The text after ``n`` words."""
    return "".join(f"w{i} " for i in range(n))


def main(drafts_dir: str, progress_file: str) -> int:
    app = QApplication([])
    identity = Identity("alice@example.test", "Alice", "work", SendMode.OWN)
    composer = Composer([identity], lambda i: f"{i.name} <{i.address}>", DraftStore(Path(drafts_dir)))
    composer.show()
    composer.body.setFocus()
    progress = open(progress_file, "a", buffering=1)  # noqa: SIM115 - lives until the kill
    count = 0

    def type_word() -> None:
        nonlocal count
        QTest.keyClicks(composer.body, f"w{count} ")
        count += 1
        progress.write(f"{time.time():.3f} {len(composer.body.toPlainText())}\n")

    timer = QTimer()
    timer.timeout.connect(type_word)
    timer.start(WORD_EVERY_MS)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
