"""The "Statistics" window: received and sent per alias, per day or week, as a painted bar chart.

Painted with QPainter rather than Qt Charts: PySide6-Addons is a 200 MB dependency for one chart, and a
bar chart with highlighted days is a few dozen lines. Unusual days (see ``core.stats``) get an amber band
and are listed under the chart in words, so the information does not depend on colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QHelpEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

from sharedclient.core.model import Identity
from sharedclient.core.stats import Series, compute
from sharedclient.core.store.cache import HeaderCache
from sharedclient.core.store.profile_db import ProfileDb

RECEIVED = QColor("#1e88e5")
SENT = QColor("#43a047")
UNUSUAL = QColor(255, 179, 0, 70)
PERIODS = ((30, "Last 30 days"), (90, "Last 90 days"), (365, "Last 12 months"))


class BarChart(QWidget):
    """Two bars per bucket (received, sent); unusual buckets on an amber band."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statisticsChart")
        self.setAccessibleName(self.tr("Chart of received and sent messages"))
        self.setMinimumSize(520, 260)
        self.series: Series | None = None
        self.weekly = False

    def set_series(self, series: Series, weekly: bool) -> None:
        self.series, self.weekly = series, weekly
        self.update()

    def _plot(self) -> QRectF:
        metrics = self.fontMetrics()
        left = metrics.horizontalAdvance("00000") + 8
        return QRectF(left, 8, self.width() - left - 10, self.height() - 8 - 2 * metrics.height() - 6)

    def _keys(self) -> list[date]:
        return sorted(self.series.received) if self.series else []

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        keys = self._keys()
        plot = self._plot()
        text = self.palette().text().color()
        if not keys or self.series is None:
            painter.setPen(text)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("No data."))
            return
        top = max([1, *self.series.received.values(), *self.series.sent.values()])
        step = max(1, -(-top // 4))
        top = step * 4
        grid = QPen(self.palette().mid().color(), 1, Qt.PenStyle.DotLine)
        metrics = self.fontMetrics()
        for i in range(5):  # gridlines and y labels
            y = plot.bottom() - plot.height() * i / 4
            painter.setPen(grid)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - metrics.height() / 2, plot.left() - 6, metrics.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(step * i))  # fmt: skip
        slot = plot.width() / len(keys)
        bar = max(1.0, slot * 0.38)
        label_every = max(1, int(metrics.horizontalAdvance("00 Mmm") * 1.4 // max(slot, 1)) + 1)
        for n, key in enumerate(keys):
            x = plot.left() + slot * n
            if key in self.series.unusual:
                painter.fillRect(QRectF(x, plot.top(), slot, plot.height()), UNUSUAL)
            for offset, value, colour in ((0.1, self.series.received[key], RECEIVED), (0.1 + 0.4, self.series.sent[key], SENT)):
                h = plot.height() * value / top
                painter.fillRect(QRectF(x + slot * offset, plot.bottom() - h, bar, h), colour)
            if n % label_every == 0:
                painter.setPen(text)
                painter.drawText(QRectF(x - 20, plot.bottom() + 3, slot + 40, metrics.height()),
                                 Qt.AlignmentFlag.AlignHCenter, key.strftime("%d %b"))  # fmt: skip
        legend_y = plot.bottom() + metrics.height() + 5
        x = plot.left()
        for colour, name in ((RECEIVED, self.tr("received")), (SENT, self.tr("sent")), (UNUSUAL, self.tr("unusual"))):
            painter.fillRect(QRectF(x, legend_y + 3, 12, metrics.height() - 6), colour)
            painter.setPen(text)
            painter.drawText(QPointF(x + 16, legend_y + metrics.ascent()), name)
            x += 16 + metrics.horizontalAdvance(name) + 18

    def bucket_at(self, x: float) -> date | None:
        keys = self._keys()
        plot = self._plot()
        if not keys or not plot.left() <= x < plot.right():
            return None
        return keys[int((x - plot.left()) / (plot.width() / len(keys)))]

    def event(self, event) -> bool:  # type: ignore[no-untyped-def]
        if event.type() == event.Type.ToolTip and isinstance(event, QHelpEvent) and self.series is not None:
            key = self.bucket_at(event.pos().x())
            if key is not None:
                QToolTip.showText(event.globalPos(), describe(self.series, key, self.weekly), self)
                return True
        return super().event(event)


def describe(series: Series, key: date, weekly: bool) -> str:
    when = f"week of {key:%d %b %Y}" if weekly else f"{key:%a %d %b %Y}"
    note = " — unusual" if key in series.unusual else ""
    return f"{when}: {series.received.get(key, 0)} received, {series.sent.get(key, 0)} sent{note}"


class StatisticsView(QWidget):
    """Alias and period choosers, the chart, and a sentence with the totals and the unusual days."""

    def __init__(
        self,
        identities: Sequence[Identity],
        caches: Callable[[], Sequence[HeaderCache]],
        history: ProfileDb | None,
        *,
        today: date | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statisticsView")
        self.setWindowTitle(self.tr("Statistics"))
        self.resize(900, 480)
        self._identities, self._caches, self._history, self._today = list(identities), caches, history, today
        self.alias = QComboBox()
        self.alias.setObjectName("statisticsAlias")
        self.alias.setAccessibleName(self.tr("Address"))
        self.alias.addItem(self.tr("All addresses"), "")
        for ident in self._identities:
            for address in (ident.address, *ident.aliases):
                label = address if address == ident.address else f"{address}  (alias of {ident.address})"
                self.alias.addItem(label, address.lower())
        self.grouping = QComboBox()
        self.grouping.setObjectName("statisticsGrouping")
        self.grouping.setAccessibleName(self.tr("Group by"))
        self.grouping.addItem(self.tr("Per day"), False)
        self.grouping.addItem(self.tr("Per week"), True)
        self.period = QComboBox()
        self.period.setObjectName("statisticsPeriod")
        self.period.setAccessibleName(self.tr("Period"))
        for days, label in PERIODS:
            self.period.addItem(self.tr(label), days)
        self.period.setCurrentIndex(1)
        self.chart = BarChart()
        self.summary = QLabel()
        self.summary.setObjectName("statisticsSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        controls = QHBoxLayout()
        for label, widget in ((self.tr("Address"), self.alias), (self.tr("Group"), self.grouping), (self.tr("Period"), self.period)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.summary)
        self.data: dict[str, Series] = {}
        self.grouping.currentIndexChanged.connect(self.recompute)
        self.period.currentIndexChanged.connect(self.recompute)
        self.alias.currentIndexChanged.connect(self.show_alias)
        self.recompute()

    def recompute(self) -> None:
        """Re-read the caches and the history (local SQLite only, no network)."""
        weekly = bool(self.grouping.currentData())
        self.data = compute(self._identities, self._caches(), self._history, days=int(self.period.currentData()),
                            weekly=weekly, today=self._today)  # fmt: skip
        self.show_alias()

    def show_alias(self) -> None:
        weekly = bool(self.grouping.currentData())
        series = self.data.get(self.alias.currentData() or "", Series(""))
        self.chart.set_series(series, weekly)
        received, sent = sum(series.received.values()), sum(series.sent.values())
        text = self.tr("%1 received, %2 sent.").replace("%1", str(received)).replace("%2", str(sent))
        if series.unusual:
            days = "; ".join(describe(series, key, weekly) for key in sorted(series.unusual))
            text += " " + self.tr("Unusual compared with the 28 days before: %1.").replace("%1", days)
        else:
            text += " " + self.tr("No unusual days.")
        self.summary.setText(text)


def open_statistics(window) -> StatisticsView:  # type: ignore[no-untyped-def]
    """The Statistics window of the main window's profile (identities and history need a sending profile)."""
    sending = window.sending
    identities = sending.identities() if sending is not None else []
    db = sending.worker.history.db if sending is not None else None
    view = StatisticsView(identities, lambda: [s.cache for s in window.controller.sessions.values()], db)
    view.show()
    window._statistics_view = view  # noqa: SLF001 - keep it alive while open
    return view


def install_statistics_menu(window) -> QAction:  # type: ignore[no-untyped-def]
    """View → Statistics… (the one-line hook in ``MainWindow._install_feature_menus``)."""
    action = QAction(window.tr("S&tatistics…"), window)
    action.setObjectName("statisticsAction")
    action.triggered.connect(lambda: open_statistics(window))
    window.menu("view").addAction(action)
    window.statistics_action = action
    return action
