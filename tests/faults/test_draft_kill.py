"""``kill -9`` of the GUI while typing loses at most AUTOSAVE_SECONDS (10 s) of text, and the draft comes back.

The child (:mod:`tests.faults.typing_child`) is the real composer, offscreen, typed into with QTest; it
logs what it had typed and when. After SIGKILL at a seeded moment, the saved draft must be a prefix of
what was typed, and the text after it must have been typed within the last 10 s before the kill.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from sharedclient.core.drafts import AUTOSAVE_SECONDS, DraftStore
from sharedclient.core.model import Identity, SendMode
from sharedclient.ui.composer import Composer
from tests.faults.child import PY, child_env, wait_until
from tests.faults.typing_child import words


def progress(path: Path) -> list[tuple[float, int]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [(float(t), int(n)) for t, n in (line.split() for line in lines if line.count(" ") == 1)]


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_while_typing_loses_at_most_10_s_and_the_draft_is_restored(
    seed: int, qtbot: QtBot, tmp_path: Path
) -> None:
    drafts, log = tmp_path / "drafts", tmp_path / "typed.log"
    child = subprocess.Popen(
        [PY, "-m", "tests.faults.typing_child", str(drafts), str(log)],
        env=child_env(tmp_path / "keyring.json"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    typing_for = random.Random(f"draft-kill-{seed}").uniform(12, 26)  # across at least one autosave
    try:
        wait_until(lambda: progress(log) or child.poll() is not None, 30, "the child to start typing")
        started = progress(log)[0][0]
        wait_until(lambda: time.time() - started >= typing_for or child.poll() is not None, 60, "typing")
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    if child.stderr:
        child.stderr.close()
    typed = progress(log)
    killed_at, total = typed[-1]
    assert total > 500

    (draft,) = DraftStore(drafts).pending()
    everything = words(len(typed) + 5)
    assert everything.startswith(draft.body)  # intact: exactly what had been typed, up to some point
    assert draft.body  # something was saved
    first_lost = next((t for t, n in typed if n > len(draft.body)), killed_at)
    lost_seconds = killed_at - first_lost
    assert lost_seconds <= AUTOSAVE_SECONDS, f"{lost_seconds:.2f} s of typing lost (draft {len(draft.body)} of {total})"
    assert list(drafts.iterdir()) == [drafts / f"{draft.id}.json"]  # no temp file left behind

    # Restore: the composer opens the draft with the text in it.
    identity = Identity("alice@example.test", "Alice", "work", SendMode.OWN)
    restored = Composer([identity], lambda i: i.address, DraftStore(drafts), draft=draft)
    qtbot.addWidget(restored)
    assert restored.body.toPlainText() == draft.body
    restored.autosave.stop()
