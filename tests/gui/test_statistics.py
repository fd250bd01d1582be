"""The Statistics window over a real header cache and profile database (no servers needed)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from pytestqt.qtbot import QtBot

from sharedclient.core.imap.headers import HeaderSummary
from sharedclient.core.model import Identity, SendMode
from sharedclient.core.stats import compute, is_unusual, pick_alias, alias_groups
from sharedclient.core.store.cache import FetchedMessage, HeaderCache
from sharedclient.core.store.history import SendHistory
from sharedclient.core.store.profile_db import ProfileDb
from sharedclient.ui.statistics import StatisticsView
from tests.unit.test_tracking_reports import entry

TODAY = date(2024, 6, 28)
SPIKE = date(2024, 6, 20)
SUPPORT = Identity("support@example.test", "Support", "work", SendMode.SEND_AS, aliases=("help@example.test",))
ALICE = Identity("alice@example.test", "Alice", "work")


def headers(to: str, delivered: str, n: int) -> HeaderSummary:
    return HeaderSummary(None, "C", f"c{n}@customer.test", "", to, "", "", f"Question {n}", f"<q{n}@customer.test>",
                         "", "", delivered, False)  # fmt: skip


def fill(cache: HeaderCache) -> None:
    """60 days of 2 messages a day to support@ and 1 to help@, 20 to support@ on SPIKE; a copy in Archive."""
    inbox = cache.mailbox("shared/support@example.test/INBOX").id
    sent = cache.mailbox("shared/support@example.test/Sent").id
    archive = cache.mailbox("shared/support@example.test/Archive").id
    rows, n = [], 0
    for back in range(60):
        day = TODAY - timedelta(days=back)
        noon = datetime.combine(day, datetime.min.time()).timestamp() + 12 * 3600
        for _ in range(20 if day == SPIKE else 2):
            n += 1
            rows.append(FetchedMessage(n, (), noon, 100, None, headers("support@example.test", "support@example.test", n)))
        n += 1
        rows.append(FetchedMessage(n, (), noon, 100, None, headers("Help <help@example.test>", "support@example.test", n)))
    cache.insert_messages(inbox, rows)
    cache.insert_messages(archive, rows[:5])  # the same messages filed again: counted once
    cache.insert_messages(sent, [FetchedMessage(1, (), time.time(), 1, None, headers("x@customer.test", "", 99999))])


def test_alias_choice_and_unusual_days() -> None:
    groups = alias_groups([SUPPORT, ALICE])
    assert pick_alias("support@example.test", "help@example.test", "", groups) == "help@example.test"
    assert pick_alias("", "Someone <alice@example.test>", "", groups) == "alice@example.test"
    assert pick_alias("", "other@example.org", "", groups) is None
    assert is_unusual(20, [2] * 28) and not is_unusual(3, [2] * 28) and not is_unusual(2, [0] * 28)
    assert not is_unusual(9, [2, 8, 1, 9, 0, 7, 3] * 4)


def test_statistics_view_chart_and_summary(qtbot: QtBot, tmp_path: Path) -> None:
    cache = HeaderCache(":memory:")
    fill(cache)
    db = ProfileDb(tmp_path / "p.sqlite")
    history = SendHistory(db)
    for back in (1, 1, 2):
        when = datetime.combine(TODAY - timedelta(days=back), datetime.min.time()).timestamp() + 3600
        history.record(replace(entry(f"<s{back}@x>"), time=when))
    data = compute([SUPPORT, ALICE], [cache], db, days=30, today=TODAY)
    assert data["support@example.test"].received[SPIKE] == 20
    assert data["help@example.test"].received[SPIKE] == 1
    assert data["support@example.test"].unusual == {SPIKE}
    assert data["support@example.test"].sent[TODAY - timedelta(days=1)] == 2
    assert sum(data[""].received.values()) == 30 * 3 + 18

    view = StatisticsView([SUPPORT, ALICE], lambda: [cache], db, today=TODAY)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert [view.alias.itemText(i) for i in range(view.alias.count())] == [
        "All addresses", "support@example.test", "help@example.test  (alias of support@example.test)", "alice@example.test"]
    assert view.summary.text().startswith("198 received, 3 sent. Unusual compared with the 28 days before: Thu 20 Jun 2024: 21 received")
    view.grab().save("/tmp/track-statistics-all.png")

    view.alias.setCurrentIndex(view.alias.findData("help@example.test"))
    assert view.summary.text() == "60 received, 0 sent. No unusual days."
    view.alias.setCurrentIndex(view.alias.findData("support@example.test"))
    assert "Thu 20 Jun 2024: 20 received, 0 sent — unusual" in view.summary.text()
    keys = sorted(view.chart.series.received)  # type: ignore[union-attr]
    plot = view.chart._plot()  # noqa: SLF001
    x = plot.left() + plot.width() * (keys.index(SPIKE) + 0.5) / len(keys)
    assert view.chart.bucket_at(x) == SPIKE
    view.grab().save("/tmp/track-statistics-support.png")

    view.grouping.setCurrentIndex(1)  # per week
    weeks = sorted(view.chart.series.received)  # type: ignore[union-attr]
    assert all(w.weekday() == 0 for w in weeks) and view.chart.weekly
    assert view.chart.series.received[date(2024, 6, 17)] == 2 * 6 + 20  # type: ignore[union-attr]
    view.grab().save("/tmp/track-statistics-weekly.png")
    view.close()
    db.close()
    cache.close()


def test_view_menu_opens_statistics(qtbot: QtBot) -> None:
    from sharedclient.ui.accounts import AccountsController
    from sharedclient.ui.mainwindow import MainWindow

    window = MainWindow(AccountsController([], lambda account: None), "test")  # type: ignore[arg-type,return-value]
    qtbot.addWidget(window)
    assert window.statistics_action in window.menu("view").actions()
    window.statistics_action.trigger()
    view = window._statistics_view  # noqa: SLF001
    qtbot.addWidget(view)
    assert view.isVisible() and view.summary.text() == "0 received, 0 sent. No unusual days."
    view.close()
