"""Delivery state in the history view, and the report line on a report message (no servers needed)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.store.history import SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.core.tracking.matcher import DeliveryTracker
from sharedclient.core.tracking.reports import parse_report
from sharedclient.ui.history import COLUMNS, HistoryView
from tests.unit.test_tracking_reports import DSN, MDN, entry

DELIVERY = [key for key, _ in COLUMNS].index("delivery")


def test_history_view_shows_the_delivery_state_per_entry(qtbot: QtBot, tmp_path: Path) -> None:
    db = ProfileDb(tmp_path / "p.sqlite")
    history = SendHistory(db)
    quiet = history.record(entry("<quiet@example.test>"))
    ours = history.record(entry("<orig-7@example.test>"))
    tracker = DeliveryTracker(db)
    for raw in (DSN.replace(b"sc7", f"sc{ours}".encode()), MDN):
        report = parse_report(raw)
        assert report is not None and tracker.record(report) == ours
    view = HistoryView(history, ["support@example.test"])
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert view.model.headerData(DELIVERY, Qt.Orientation.Horizontal) == "Delivery"
    rows = {view.model.entry(r).id: r for r in range(view.model.rowCount())}  # type: ignore[union-attr]
    cell = view.model.index(rows[ours], DELIVERY)
    assert cell.data() == "1 delayed (4.4.1), 1 failed (5.1.1), read by 1"
    assert "former@example.test: failed 550 5.1.1" in cell.data(3)  # tooltip: one line per recipient
    assert view.model.index(rows[quiet], DELIVERY).data() == ""
    view.table.scrollTo(cell)
    view.grab().save("/tmp/track-history-delivery.png")
    view.close()
    db.close()
