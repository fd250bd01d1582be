"""GUI-side metrics, run on the offscreen Qt platform in the benchmark process.

* reopen / scroll_jump: the real ``MessageListModel`` + ``MessageListView`` over a cached 100k folder;
  the clock stops once the viewport's paint event (the first rows) has been processed.
* ui_stall: the real ``MainWindow`` from ``ui.launch.build_window`` syncing the big shared INBOX, while a
  10 ms heartbeat timer on the GUI thread records how late it fires.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from sharedclient.core.store.cache import HeaderCache
from sharedclient.ui.launch import build_window, ensure_app, freeze_startup_heap
from sharedclient.ui.messagelist import MessageListModel, MessageListView
from tests.benchmarks.corpus import message_pool, synthetic_rows
from tests.benchmarks.servers import DOMAIN, SHARED_INBOX, BenchWorld

#: The folders of the big cache (one account cache holding three 100k-message folders).
BIG_FOLDERS = (
    "shared/support@example.test/Archive/2023",
    "shared/support@example.test/Archive/2024",
    "shared/sales@example.test/Archive",
)


def build_big_cache(path: Path, rows: int, folders: Sequence[str] = BIG_FOLDERS) -> float:
    """``HeaderCache.insert_messages`` of synthetic rows, 5,000 per transaction; returns seconds."""
    started = time.perf_counter()
    pool = message_pool(DOMAIN, 120)
    cache = HeaderCache(path)
    try:
        for n, folder in enumerate(folders):
            mailbox_id = cache.mailbox(folder).id
            data = synthetic_rows(rows, pool, seed=n + 3)
            for start in range(0, rows, 5000):
                cache.insert_messages(mailbox_id, data[start : start + 5000])
            cache.mark_synced(mailbox_id, 1, rows)
    finally:
        cache.close()
    return time.perf_counter() - started


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the Qt event loop (sleeping, not spinning) until ``condition()`` or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > deadline else None)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


class PaintWatch(QObject):
    """Counts paint events of one widget (the list's viewport)."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def _until_painted(app: QApplication, watch: PaintWatch, timeout: float = 10.0) -> None:
    """Process events until the next paint has been handled (the filter sees it just before)."""
    before = watch.paints
    deadline = time.monotonic() + timeout
    while watch.paints == before:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        if watch.paints == before:
            if time.monotonic() > deadline:
                raise TimeoutError("the message list was never painted")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)  # finish the same update round


def reopen_and_scroll(cache_path: Path, runs: int, folders: Sequence[str] = BIG_FOLDERS) -> tuple[list[float], list[float], int]:
    """Open a cached folder until its first rows are painted, then jump to its end; per run.

    Each run opens the cache file afresh (SQLite's page cache cold, the OS file cache warm — as after a
    restart) and a new view, then shows a folder it did not show before.
    """
    app = ensure_app()
    reopen: list[float] = []
    scroll: list[float] = []
    rows = 0
    for i in range(runs):
        cache = HeaderCache(cache_path)
        model = MessageListModel()
        view = MessageListView(model)
        view.resize(1100, 720)
        watch = PaintWatch(view.viewport())
        view.show()
        _until_painted(app, watch)
        try:
            started = time.perf_counter()
            model.show_mailbox(cache, cache.mailbox(folders[i % len(folders)]).id)
            _until_painted(app, watch)
            reopen.append(time.perf_counter() - started)
            rows = model.rowCount()
            first = model.index(0, 2).data()
            if not rows or not first:
                raise RuntimeError("the reopened folder shows no rows")
            started = time.perf_counter()
            view.scrollToBottom()
            _until_painted(app, watch)
            scroll.append(time.perf_counter() - started)
            last = view.rowAt(view.viewport().height() - 2)
            if last != rows - 1 or not model.index(last, 2).data():
                raise RuntimeError(f"after scrollToBottom the last visible row is {last} of {rows}")
        finally:
            view.close()
            view.deleteLater()
            model.deleteLater()
            app.processEvents()
            cache.close()
    return reopen, scroll, rows


@dataclass
class Stall:
    longest: float  # longest gap between heartbeats, s
    sync_s: float  # selecting the folder -> the synced signal
    beats: int
    worst: list[tuple[float, float]]  # the five longest gaps: (seconds after selecting, gap)
    reload_s: float  # the list's reload after the synced signal (MessageListModel.reload: SQL listing + reset)


def ui_stall(world: BenchWorld, data_dir: Path, expect: int) -> Stall:
    """Longest heartbeat gap while the real MainWindow syncs the shared INBOX into an empty cache.

    The window is built and shown as ``run_gui`` does it, including ``freeze_startup_heap`` (full
    collections during the sync then skip the start-up heap; without it they cost 35-55 ms each here).
    """
    app = ensure_app()
    data_dir.mkdir(parents=True, exist_ok=True)
    window = build_window([world.account()], world.credentials(), "bench", data_dir)
    window.resize(1200, 760)
    window.show()
    freeze_startup_heap()
    synced: list[tuple[str, object, float]] = []
    reloads: list[float] = []
    reload = window.model.reload

    def timed_reload() -> None:
        started = time.perf_counter()
        reload()
        reloads.append(time.perf_counter() - started)

    window.model.reload = timed_reload  # type: ignore[method-assign]
    window.controller.synced.connect(lambda name, path, result: synced.append((path, result, time.perf_counter())))
    try:
        wait_until(lambda: bool(window.controller.folders.get("alice")), 60, "alice's folders")
        wait_until(lambda: bool(window.folder_pane.folder_items().get(("alice", SHARED_INBOX))), 10, "the shared INBOX")
        # Let whatever the window does by itself on start (e.g. opening the personal Inbox) settle.
        settle_until = time.monotonic() + 0.5
        wait_until(lambda: time.monotonic() > settle_until, 5, "the window to settle")

        ticks: list[float] = []
        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(10)
        heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
        heartbeat.start()
        wait_until(lambda: len(ticks) >= 5, 5, "the heartbeat")
        selected = time.perf_counter()
        if not window.folder_pane.select_folder("alice", SHARED_INBOX):
            raise RuntimeError(f"{SHARED_INBOX} is not in the folder pane")
        wait_until(lambda: any(p == SHARED_INBOX for p, _, _ in synced), 900, "the sync of the shared INBOX")
        done = next(t for p, _, t in synced if p == SHARED_INBOX)
        result = next(r for p, r, _ in synced if p == SHARED_INBOX)
        after = time.monotonic() + 0.3  # the reload and repaint after the synced signal count too
        wait_until(lambda: time.monotonic() > after, 5, "the repaint after the sync")
        heartbeat.stop()
        if getattr(result, "fetched", None) != expect:
            raise RuntimeError(f"GUI sync fetched {getattr(result, 'fetched', None)} of {expect}")
        if window.model.rowCount() != expect:
            raise RuntimeError(f"the list shows {window.model.rowCount()} rows after the sync, expected {expect}")
        window_ticks = [t for t in ticks if t >= selected]
        before = [t for t in ticks if t < selected]
        series = before[-1:] + window_ticks
        gaps = [(a - selected, b - a) for a, b in zip(series, series[1:])]
        worst = sorted(gaps, key=lambda g: -g[1])[:5]
        return Stall(worst[0][1], done - selected, len(window_ticks), worst, reloads[-1] if reloads else 0.0)
    finally:
        gc.unfreeze()  # the next run builds its own window and freezes again
        window.close()
        window.deleteLater()
        app.processEvents()
