"""The sent-as history view over a real profile database."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sharedclient.core.store.history import HistoryEntry, SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.ui.history import HistoryView


def entry(i: int, **kw) -> HistoryEntry:  # type: ignore[no-untyped-def]
    base = dict(
        id=0, time=time.time() - i * 3600, profile="default", account="work",
        identity="support@example.test" if i % 2 else "alice@example.test",
        mode="send-as" if i % 2 else "own", user="alice@example.test", envelope_from="support@example.test",
        from_header="Support Team <support@example.test>", sender_header="",
        recipients=(f"customer{i}@example.org",), subject=f"Order {i} update", message_id=f"<m{i}@example.test>",
        size=1000 + i, smtp_reply="250 2.0.0 Ok", status="failed" if i % 7 == 0 else "sent", copy_mailbox="shared/support@example.test/Sent",
        outbox_id=None,
    )  # fmt: skip
    base.update(kw)
    return HistoryEntry(**base)


def test_filter_search_sort_and_export(qtbot: QtBot, tmp_path: Path) -> None:
    db = ProfileDb(tmp_path / "profile.sqlite")
    history = SendHistory(db)
    history.record_many(entry(i) for i in range(2000, 0, -1))  # attempts are recorded as they happen: oldest first
    view = HistoryView(history, ["alice@example.test", "support@example.test"])
    qtbot.addWidget(view)
    view.show()
    assert view.model.rowCount() == 2000
    assert view.model.index(0, 5).data() == "Order 1 update"  # newest first
    assert view.model.index(1999, 5).data() == "Order 2000 update"  # lazy pages reach the end
    view.identity.setCurrentIndex(view.identity.findData("support@example.test"))
    assert view.model.rowCount() == 1000
    view.status.setCurrentIndex(view.status.findData("failed"))
    assert view.model.rowCount() == len([i for i in range(1, 2001) if i % 2 and i % 7 == 0])
    view.status.setCurrentIndex(0)
    qtbot.keyClicks(view.search, "customer1999")
    assert view.model.rowCount() == 1 and view.model.index(0, 4).data() == "customer1999@example.org"
    view.search.clear()
    view.table.sortByColumn(5, Qt.SortOrder.AscendingOrder)
    assert view.model.index(0, 5).data() == "Order 1 update"
    out = tmp_path / "h.csv"
    assert view.export_csv(str(out)) == 1000
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1000 and rows[0]["identity"] == "support@example.test"
    assert view.count_label.text() == "1,000 messages"
    view.grab().save(str(tmp_path / "history.png"))
    view.close()
    db.close()
